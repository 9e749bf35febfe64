"""`asr-server transcribe FILE...`: offline transcription through the same data plane, engine
and formats as the server (decode, cache, scheduler, engine; no length or time limit). Settings
default to the ASR_* environment; flags win.

Exit codes: 0 every file transcribed, 1 the model could not be loaded, 2 a missing or
undecodable file (the others are still transcribed) or an invalid setting.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from asr_server import formats
from asr_server.commands.arguments import bounded_int
from asr_server.config import BEAM_SIZES, ConfigError, ServerConfig
from asr_server.dataplane import OFFLINE, DataPlane
from asr_server.engines.base import ModelError, Progress
from asr_server.engines.registry import create_engine
from asr_server.errors import ASRError
from asr_server.metrics import Metrics
from asr_server.types import SAMPLE_RATE, Audio, TranscribeOptions, Transcription

PROGRESS_AFTER_S = 30.0
"""Files longer than this get a progress bar on stderr."""

RENDERERS: dict[str, Callable[[Any], Any]] = {
    "text": formats.to_text,
    "json": formats.to_recognize_json,
    "verbose_json": formats.to_verbose_json,
    "srt": formats.to_srt,
    "vtt": formats.to_vtt,
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "transcribe",
        help="transcribe audio files offline",
        description="Transcribe audio files and print the result (ASR_* env gives defaults).",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument("--model", help="catalogue name or model directory (ASR_MODEL)")
    parser.add_argument("--language", help="ISO 639-1 code; default: detect (ASR_LANGUAGE)")
    parser.add_argument("--task", choices=("transcribe", "translate"), default="transcribe")
    parser.add_argument("--format", choices=tuple(RENDERERS), default="text")
    parser.add_argument("--device", help="auto | cpu | cuda (ASR_DEVICE)")
    parser.add_argument("--compute-type", help="auto | int8 | float16 ... (ASR_COMPUTE_TYPE)")
    parser.add_argument("--output-script", help="simplified | traditional | as-is")
    parser.add_argument("--model-dir", type=Path, help="model cache dir (ASR_MODEL_DIR)")
    parser.add_argument(
        "--beam-size",
        type=bounded_int(BEAM_SIZES),
        help="beam width, 1 = greedy (ASR_BEAM_SIZE; default 1)",
    )
    parser.add_argument("--word-timestamps", action="store_true")
    parser.add_argument("--vad-filter", action="store_true", help="skip non-speech (Silero)")
    parser.add_argument("--prompt", help="initial prompt: context or vocabulary")
    parser.add_argument("--hotwords", help="words or phrases to favour")
    parser.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = ServerConfig.from_env(
            os.environ,
            model=args.model,
            language=args.language,
            device=args.device,
            compute_type=args.compute_type,
            output_script=args.output_script,
            model_dir=args.model_dir,
            beam_size=args.beam_size,
        )
    except ConfigError as exc:
        return _fail(f"invalid configuration: {exc}", 2)
    missing = [f for f in args.files if not f.is_file()]
    if missing:  # before spending seconds on the model
        return _fail(f"{missing[0]}: no such file", 2)
    options = TranscribeOptions(
        language=config.language,
        task=args.task,
        prompt=args.prompt,
        hotwords=args.hotwords,
        word_timestamps=args.word_timestamps,
        vad_filter=args.vad_filter,
    )
    return asyncio.run(_transcribe_files(config, options, args))


async def _transcribe_files(
    config: ServerConfig, options: TranscribeOptions, args: argparse.Namespace
) -> int:
    dataplane = DataPlane(config, create_engine(config), Metrics.create(), OFFLINE)
    try:
        await dataplane.start()
    except ModelError as exc:
        return _fail(f"cannot load model {config.model!r}: {exc}", 1)
    status = 0
    try:
        for path in args.files:
            try:
                audio = await dataplane.decode(path.read_bytes())
                with _progress_bar(audio, path, show=not args.no_progress) as progress:
                    result = await dataplane.transcribe(audio, options, progress=progress)
            except (ASRError, OSError) as exc:
                _fail(f"{path}: {getattr(exc, 'message', None) or exc}", 2)
                status = 2
                continue
            _print(path, result, args, several=len(args.files) > 1)
    finally:
        await dataplane.stop()
    return status


@contextlib.contextmanager
def _progress_bar(audio: Audio, path: Path, show: bool) -> Iterator[Progress | None]:
    """A tqdm bar on stderr for a long file, advanced as the engine reports (engines that do
    not report progress fill it when the result is there)."""
    seconds = len(audio) / SAMPLE_RATE
    if not (show and seconds > PROGRESS_AFTER_S):
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=round(seconds, 1), unit="s", desc=path.name, file=sys.stderr) as bar:

        def advance(done: float, total: float) -> None:
            bar.update(round(done, 1) - bar.n)

        yield advance
        bar.update(bar.total - bar.n)  # the last segment ends before trailing silence


def _print(path: Path, result: Transcription, args: argparse.Namespace, several: bool) -> None:
    body = RENDERERS[args.format](result)
    if isinstance(body, dict):
        if several:
            body = {"file": str(path), **body}
        print(json.dumps(body, ensure_ascii=False, indent=None if several else 2))
        return
    if several:
        print(f"==> {path} <==")
    sys.stdout.write(body if body.endswith("\n") else body + "\n")


def _fail(message: str, code: int) -> int:
    print(f"asr-server transcribe: {message}", file=sys.stderr)
    return code
