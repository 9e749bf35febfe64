"""Long-form robustness: does long audio come back whole, run after run?

Three recordings longer than one 30 s window whose speech really repeats, so that a correct
transcript fails Whisper's compression check (tests/support/longform.py): jfk three times back
to back (33 s); jfk, two espeak-ng sentences and jfk again with 1.5 s pauses (36 s); a phone
menu read four times (31 s, espeak-ng). Each is sent `--runs` times, alternately,

- through the server: `asr-server serve` (whisper-tiny.en int8 on the CPU, default settings,
  result cache off), `POST /v1/audio/transcriptions`, one request at a time;
- through faster-whisper's own `WhisperModel.transcribe` in this process, the same model and
  precision, greedy with its default temperature fallback (best_of 5): the anchor.

Per input and side it prints the loss rate (runs where a reference word group, a clause or a
menu option, is missing: fewer than half its words found by a minimum-edit alignment), the
mean WER, how many different texts the runs gave, and the mean seconds per request. Targets:
the server's loss rate 0 on every input, its WER <= the library's (ratio ours / library <= 1).

Usage: .venv/bin/python bench/longform.py [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import requests
from asr_server.audio import decode_audio
from asr_server.engines.whisper.catalogue import resolve_model
from asr_server.types import SAMPLE_RATE
from faster_whisper import WhisperModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from bench_http import our_server
from support.encode import FLAC, encode
from support.longform import LongSpeech, clips_with_pauses, ivr_menu, jfk_three_times, lost_groups
from support.text import edit_distance, spoken_words

REPO = Path(__file__).resolve().parent.parent
JFK = REPO.parent / "shared" / "audio" / "jfk.flac"


def wer(reference: str, hypothesis: str) -> float:
    ref = spoken_words(reference)
    return edit_distance(ref, spoken_words(hypothesis)) / max(len(ref), 1)


class Side:
    """One way of transcribing, over every run of every input."""

    def __init__(self) -> None:
        self.texts: dict[str, list[str]] = defaultdict(list)
        self.seconds: dict[str, list[float]] = defaultdict(list)

    def row(self, speech: LongSpeech) -> tuple[int, float, int, float]:
        texts = self.texts[speech.name]
        lost = sum(bool(lost_groups(speech.groups, text)) for text in texts)
        mean_wer = statistics.mean(wer(speech.reference, text) for text in texts)
        return lost, mean_wer, len(set(texts)), statistics.mean(self.seconds[speech.name])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--model", default="whisper-tiny.en")
    args = parser.parse_args()
    if not JFK.exists():
        sys.exit(f"longform: {JFK} is missing (the shared recordings sit beside the repository)")
    jfk = decode_audio(JFK.read_bytes())
    inputs = [jfk_three_times(jfk), clips_with_pauses(jfk), ivr_menu()]
    files = {speech.name: encode(speech.audio, SAMPLE_RATE, FLAC) for speech in inputs}
    model_dir = str(resolve_model(args.model, Path(tempfile.gettempdir()) / "asrfleet-models"))
    library = WhisperModel(model_dir, device="cpu", compute_type="int8")
    ours, theirs = Side(), Side()
    with our_server(REPO, model_dir, batch_size=0) as server:
        if not server.url:
            sys.exit(f"longform: the server did not start: {server.reason}")
        for run in range(args.runs):
            for speech in inputs:
                started = time.perf_counter()
                response = requests.post(
                    f"{server.url}/v1/audio/transcriptions",
                    files={"file": ("speech.flac", files[speech.name])},
                    data={"model": "whisper-1"},
                    timeout=600,
                )
                response.raise_for_status()
                ours.seconds[speech.name].append(time.perf_counter() - started)
                ours.texts[speech.name].append(response.json()["text"])
                started = time.perf_counter()
                segments, _ = library.transcribe(speech.audio, beam_size=1)
                theirs.texts[speech.name].append("".join(s.text for s in segments))
                theirs.seconds[speech.name].append(time.perf_counter() - started)
            print(f"run {run + 1}/{args.runs} done", file=sys.stderr)

    print(f"\n{args.model} int8 CPU, {args.runs} runs per input and side")
    print(f"{'input':16s} | {'server: lost  WER    texts  s/req':34s} | "
          f"{'faster-whisper: lost  WER    texts  s/req':42s} | WER ratio")  # fmt: skip
    met = True
    for speech in inputs:
        o, t = ours.row(speech), theirs.row(speech)
        ratio = o[1] / t[1] if t[1] else (1.0 if o[1] == 0 else float("inf"))
        met &= o[0] == 0 and o[1] <= t[1]
        print(
            f"{speech.name:16s} | {o[0]:2d}/{args.runs:<2d} {o[1]:6.3f} {o[2]:5d} {o[3]:6.2f}"
            f"{'':12s} | {t[0]:2d}/{args.runs:<2d} {t[1]:6.3f} {t[2]:5d} {t[3]:6.2f}{'':20s}"
            f" | {ratio:5.2f}"
        )
    for speech in inputs:  # one text of each side, to read the losses
        print(f"\n{speech.name}\n  server:  {ours.texts[speech.name][0]}")
        worst = max(
            theirs.texts[speech.name], key=lambda text: len(lost_groups(speech.groups, text))
        )
        print(f"  library (its worst run): {worst}")
    print(
        "\ntargets: server loss rate 0 on every input and WER <= faster-whisper's: "
        + ("met" if met else "NOT met")
    )


if __name__ == "__main__":
    main()
