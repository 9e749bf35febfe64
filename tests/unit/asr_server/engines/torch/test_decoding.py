"""The torch engine's search on a miniature random Whisper (support/tiny_whisper.py): the KV
cache gives what decoding from scratch gives, rows of a batch do not affect each other, beam
search is at least as probable as greedy, hotword boosts steer it, sampling is seedable."""

from __future__ import annotations

import pytest
import torch
from asr_server.engines.torch.context_graph import ContextGraph
from asr_server.engines.torch.decoding import RowPrompt, Search, decode
from asr_server.engines.torch.model import Whisper
from support.tiny_whisper import EOT, NO_SPEECH, SOT, encoding, tiny_rules, tiny_whisper

PROMPT = RowPrompt([SOT], 0)


@pytest.fixture(scope="module")
def model() -> Whisper:
    return tiny_whisper()


def run(model: Whisper, rows: int, search: Search, prompts: list[RowPrompt] | None = None,
        generator: torch.Generator | None = None, seed: int = 1):  # type: ignore[no-untyped-def]  # fmt: skip
    """The best candidate of each row."""
    with torch.inference_mode():
        decoded = decode(model, encoding(model, rows, seed), prompts or [PROMPT] * rows,
                         tiny_rules(), search, NO_SPEECH, generator)  # fmt: skip
    return [candidates[0] for candidates in decoded]


def greedy_from_scratch(model: Whisper, row: int, rows: int) -> list[int]:
    """Greedy decoding that re-runs the decoder over the whole sequence at every step."""
    rules = tiny_rules()
    tokens: list[int] = []
    with torch.inference_mode():
        encoded = encoding(model, rows)[row : row + 1]
        for _ in range(16):
            cache = model.decoder.start(encoded)
            hidden = model.decoder(torch.tensor([[SOT, *tokens]]), cache)
            log_probs = rules.log_probs(model.decoder.logits(hidden[:, -1]), [tokens])
            token = int(log_probs.argmax())
            if token == EOT:
                break
            tokens.append(token)
    return tokens


def test_greedy_with_the_cache_equals_decoding_from_scratch(model: Whisper) -> None:
    results = run(model, 3, Search(beam_size=1))
    for row, result in enumerate(results):
        assert result.tokens == greedy_from_scratch(model, row, 3)
        assert result.sum_logprob < 0 and 0 <= result.no_speech_prob <= 1


def test_rows_of_a_batch_decode_as_they_would_alone(model: Whisper) -> None:
    together = run(model, 4, Search(beam_size=3))
    with torch.inference_mode():
        encoded = encoding(model, 4)
        for row in range(4):
            alone = decode(model, encoded[row : row + 1], [PROMPT], tiny_rules(),
                           Search(beam_size=3), NO_SPEECH)[0][0]  # fmt: skip
            assert alone.tokens == together[row].tokens
            assert alone.sum_logprob == pytest.approx(together[row].sum_logprob, abs=1e-4)


def test_beam_search_finds_at_least_the_greedy_score(model: Whisper) -> None:
    greedy = run(model, 4, Search(beam_size=1))
    beam = run(model, 4, Search(beam_size=4))
    for g, b in zip(greedy, beam, strict=True):
        assert b.score >= g.score - 1e-5


def test_a_hotword_steers_the_beams_and_keeps_its_boost_out_of_the_log_probability(
    model: Whisper,
) -> None:
    plain = run(model, 1, Search(beam_size=4))[0]
    hotword = [5, 6, 7]
    assert hotword not in [plain.tokens[i : i + 3] for i in range(len(plain.tokens))]
    graph = ContextGraph([(hotword, 8.0)])
    biased = run(model, 1, Search(beam_size=4), [RowPrompt([SOT], 0, graph)])[0]
    windows = [biased.tokens[i : i + 3] for i in range(len(biased.tokens))]
    assert hotword in windows
    # The reported log-probability is the model's own: lower than the unbiased best.
    assert biased.sum_logprob < plain.sum_logprob
    assert biased.score > biased.sum_logprob / len(biased.tokens)


def test_a_row_without_hotwords_is_unaffected_by_a_biased_neighbour(model: Whisper) -> None:
    graph = ContextGraph([([5, 6, 7], 8.0)])
    plain = run(model, 2, Search(beam_size=2))
    mixed = run(model, 2, Search(beam_size=2), [PROMPT, RowPrompt([SOT], 0, graph)])
    assert mixed[0].tokens == plain[0].tokens
    assert [5, 6, 7] in [mixed[1].tokens[i : i + 3] for i in range(len(mixed[1].tokens))]


def test_sampling_is_reproducible_with_a_seeded_generator(model: Whisper) -> None:
    search = Search(temperature=1.0, hypotheses=3)
    first = run(model, 3, search, generator=torch.Generator().manual_seed(7))
    again = run(model, 3, search, generator=torch.Generator().manual_seed(7))
    assert [r.tokens for r in first] == [r.tokens for r in again]


def test_candidates_come_best_first(model: Whisper) -> None:
    with torch.inference_mode():
        encoded = encoding(model, 2)
        for search in (Search(beam_size=4, hypotheses=4), Search(temperature=1.0, hypotheses=4)):
            for candidates in decode(model, encoded, [PROMPT] * 2, tiny_rules(), search,
                                     NO_SPEECH, torch.Generator().manual_seed(3)):  # fmt: skip
                assert len(candidates) == 4
                scores = [c.score for c in candidates]
                assert scores == sorted(scores, reverse=True)


def test_prompts_of_different_lengths_are_refused(model: Whisper) -> None:
    with pytest.raises(ValueError, match="same length"):
        run(model, 2, Search(), [PROMPT, RowPrompt([SOT, 3], 0)])


def test_half_precision_runs_the_same_search() -> None:
    """The CUDA path's float16 model (run here on the CPU): layer norms in float32, logits in
    float32, and the same tokens as the float32 model on this small example."""
    full, half = tiny_whisper(), tiny_whisper().half()
    with torch.inference_mode():
        mel = torch.randn(2, 8, 24, generator=torch.Generator().manual_seed(5))
        encoded_full, encoded_half = full.encoder(mel), half.encoder(mel.half())
        assert encoded_half.dtype == torch.float16
        assert torch.allclose(encoded_half.float(), encoded_full, atol=0.05, rtol=0.05)
        ours = decode(
            half, encoded_half, [PROMPT] * 2, tiny_rules(), Search(beam_size=2), NO_SPEECH
        )
        theirs = decode(
            full, encoded_full, [PROMPT] * 2, tiny_rules(), Search(beam_size=2), NO_SPEECH
        )
    assert [c[0].tokens for c in ours] == [c[0].tokens for c in theirs]


def test_a_strongly_boosted_hotword_is_not_repeated_for_its_boost(model: Whisper) -> None:
    graph = ContextGraph([([5, 6], 10.0)])
    biased = run(model, 1, Search(beam_size=4), [RowPrompt([SOT], 0, graph)])[0]
    pairs = [biased.tokens[i : i + 2] for i in range(len(biased.tokens) - 1)]
    assert 1 <= pairs.count([5, 6]) <= 2, biased.tokens
