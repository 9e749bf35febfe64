"""`asr-server transcribe FILE...`: offline transcription with the same engine and formats
as the server. Settings default to the ASR_* environment; flags win.

Exit codes: 0 every file transcribed, 1 the model could not be loaded, 2 a missing or
undecodable file (the others are still transcribed) or an invalid setting.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asr_server import formats
from asr_server.audio import decode_audio
from asr_server.config import ConfigError, ServerConfig
from asr_server.engines import create_engine
from asr_server.engines.base import SAMPLE_RATE, ASREngine, EngineError, TranscribeOptions
from asr_server.errors import BadAudio
from asr_server.models import ModelError

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
    parser.add_argument("--beam-size", type=int, default=1)
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
        beam_size=args.beam_size,
        word_timestamps=args.word_timestamps,
        vad_filter=args.vad_filter,
    )
    engine = create_engine(config)
    try:
        engine.load()
    except ModelError as exc:
        return _fail(f"cannot load model {config.model!r}: {exc}", 1)
    status = 0
    for path in args.files:
        try:
            audio = decode_audio(path.read_bytes())
            result = _transcribe(engine, audio, options, path, show=not args.no_progress)
        except (BadAudio, EngineError, OSError) as exc:
            _fail(f"{path}: {getattr(exc, 'message', None) or exc}", 2)
            status = 2
            continue
        _print(path, result, args, several=len(args.files) > 1)
    return status


def _transcribe(
    engine: ASREngine, audio: Any, options: TranscribeOptions, path: Path, show: bool
) -> Any:
    seconds = len(audio) / SAMPLE_RATE
    from asr_server.engines.whisper import WhisperEngine

    if not (show and seconds > PROGRESS_AFTER_S and isinstance(engine, WhisperEngine)):
        return engine.transcribe(audio, options)
    from tqdm import tqdm

    with tqdm(total=round(seconds, 1), unit="s", desc=path.name, file=sys.stderr) as bar:

        def advance(done: float, total: float) -> None:
            bar.update(round(done, 1) - bar.n)

        result = engine.transcribe(audio, options, progress=advance)
        bar.update(bar.total - bar.n)  # the last segment ends before trailing silence
        return result


def _print(path: Path, result: Any, args: argparse.Namespace, several: bool) -> None:
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
