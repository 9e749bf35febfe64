"""Word timings of the torch engine against faster-whisper's own, and what they cost.

The anchor is faster-whisper's `WhisperModel.transcribe(word_timestamps=True)` in-process (its
alignment runs in CTranslate2); the torch engine aligns on PyTorch (engines/torch/alignment.py).
Both at float32 and the same beam, on jfk plus the espeak-ng sentences (whisper-tiny.en) and
the recorded Mandarin clips (whisper-base, the script as decoded). Per model: the clips whose
words are the anchor's word for word; over the words of those clips, how far each start and
end lies from the anchor's (median, 90th percentile, largest); the real-time factor with word
timings against the anchor's with them (target <= 1.5x, as issue 15's for transcription), and
the cost of timing words to each (RTF with / RTF without). Each timed clip goes to the four
calls in turn, `--repeats` rounds, the median kept, so the shared machine's load
falls on all alike.

Run: `.venv/bin/python bench/word_timings.py` (about a minute; `--beam 5` for beam search).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from accuracy import Clip, english_clips, mandarin_clips, seconds_of
from asr_server.audio import decode_audio
from asr_server.engines.torch.engine import TorchEngineOptions, TorchWhisperEngine
from asr_server.engines.whisper.catalogue import resolve_model
from asr_server.types import TranscribeOptions
from faster_whisper import WhisperModel

TARGET_RTF_RATIO = 1.5

Timed = list[tuple[str, float, float]]
"""(word, start, end) in seconds."""


def measure(model: str, clips: list[Clip], cache: Path, beam: int, repeats: int) -> dict[str, Any]:
    anchor = WhisperModel(str(resolve_model(model, cache)), device="cpu", compute_type="float32")
    engine = TorchWhisperEngine(
        TorchEngineOptions(model=model, model_dir=cache, output_script="as-is")
    )
    engine.load()
    plain = TranscribeOptions(beam_size=beam)
    worded = TranscribeOptions(beam_size=beam, word_timestamps=True)
    seconds = {"anchor": 0.0, "anchor_plain": 0.0, "torch": 0.0, "torch_plain": 0.0}
    same, gaps = 0, []
    for clip in clips:
        audio = decode_audio(Path(clip.path).read_bytes())

        def anchor_words(audio: np.ndarray = audio) -> Timed:
            segments, _ = anchor.transcribe(audio, beam_size=beam, word_timestamps=True)
            return [(w.word, w.start, w.end) for s in segments for w in s.words or ()]

        def torch_words(audio: np.ndarray = audio) -> Timed:
            result = engine.transcribe(audio, worded)
            return [(w.text, w.start, w.end) for s in result.segments for w in s.words]

        theirs, ours = anchor_words(), torch_words()  # also warms both up on this clip
        if [w for w, _, _ in ours] == [w for w, _, _ in theirs]:
            same += 1
            for (_, start, end), (_, their_start, their_end) in zip(ours, theirs, strict=True):
                gaps += [abs(start - their_start), abs(end - their_end)]

        def anchor_plain(audio: np.ndarray = audio) -> object:
            segments, _ = anchor.transcribe(audio, beam_size=beam)
            return list(segments)

        calls = {
            "anchor": anchor_words,
            "anchor_plain": anchor_plain,
            "torch": torch_words,
            "torch_plain": lambda audio=audio: engine.transcribe(audio, plain),
        }
        rounds: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(repeats):  # interleaved: each round times all four
            for name, call in calls.items():
                rounds[name].append(once(call))
        for name, times in rounds.items():
            seconds[name] += statistics.median(times)
    audio_seconds = seconds_of(clips)
    rtf = {name: value / audio_seconds for name, value in seconds.items()}
    return {"clips": len(clips), "same": same, "gaps": gaps, "rtf": rtf}


def once(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--beam", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores here)")
    with tempfile.TemporaryDirectory() as scratch:
        cache = Path(scratch) / "models"
        groups = {
            "whisper-tiny.en, English": ("whisper-tiny.en", english_clips(Path(scratch))),
            "whisper-base, Mandarin": ("whisper-base", mandarin_clips()),
        }
        print(f"float32, beam {args.beam}; anchor: faster-whisper's transcribe(word_timestamps)")
        print(
            "| Model, set | Clips with the anchor's words | Word edges off by: median | p90 | max"
            " | RTF with words | anchor | x anchor | with / without words: torch | anchor |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        verdicts = []
        for title, (model, clips) in groups.items():
            found = measure(model, clips, cache, args.beam, args.repeats)
            gaps, rtf = found["gaps"], found["rtf"]
            ratio = rtf["torch"] / rtf["anchor"]
            verdicts.append(ratio <= TARGET_RTF_RATIO)
            print(
                f"| {title} | {found['same']}/{found['clips']} "
                f"| {statistics.median(gaps) if gaps else float('nan'):.2f} s "
                f"| {percentile(gaps, 90):.2f} s | {max(gaps, default=float('nan')):.2f} s "
                f"| {rtf['torch']:.3f} | {rtf['anchor']:.3f} | x{ratio:.2f} "
                f"| x{rtf['torch'] / rtf['torch_plain']:.2f} "
                f"| x{rtf['anchor'] / rtf['anchor_plain']:.2f} |"
            )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    met = "met" if all(verdicts) else "MISSED"
    print(f"target: torch RTF with word timings <= {TARGET_RTF_RATIO}x the anchor's: {met}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
