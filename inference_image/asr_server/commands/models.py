"""`asr-server models`: the Whisper engine's catalogue (engines/whisper/catalogue.py), what is
installed and prepared; `--prepare` joins whisper-base ahead of time, and with `--engine torch`
converts catalogue models into the torch engine's checkpoints (the Dockerfile runs both at
build time, so pods neither join nor convert at start)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from asr_server.config import ConfigError, ServerConfig
from asr_server.engines.base import ModelError
from asr_server.engines.whisper import catalogue as models


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list catalogue models; --prepare them",
        description="List the model catalogue and what is installed (from ASR_MODEL_DIR).",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--prepare",
        nargs="*",
        metavar="NAME",
        help="prepare these catalogue models (all when no name is given) in --model-dir",
    )
    parser.add_argument("--model-dir", type=Path, help="cache dir (default: ASR_MODEL_DIR)")
    parser.add_argument(
        "--engine",
        choices=("faster-whisper", "torch"),
        default="faster-whisper",
        help="with --prepare: torch also converts each model into a PyTorch checkpoint "
        "(needs the torch extra)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = ServerConfig.from_env(os.environ, model_dir=args.model_dir)
    except ConfigError as exc:
        print(f"asr-server models: invalid configuration: {exc}", file=sys.stderr)
        return 2
    if args.prepare is not None:
        names = args.prepare or list(models.CATALOGUE)
        for name in names:
            if name not in models.CATALOGUE:
                print(f"asr-server models: {name!r} is not in the catalogue", file=sys.stderr)
                return 2
            try:
                path = _prepare(name, config.model_dir, args.engine)
            except ModelError as exc:
                print(f"asr-server models: {exc}", file=sys.stderr)
                return 1
            print(f"{name}: {path}")
        return 0
    entries = models.catalogue(config.model_dir)
    if args.json:
        print(json.dumps([dataclasses.asdict(e) for e in entries], indent=2))
        return 0
    print(f"{'NAME':<18} {'LANGUAGES':<10} {'SIZE':>7}  {'INSTALLED':<9}  PREPARED")
    for e in entries:
        languages = e.languages[0] if len(e.languages) == 1 else f"{len(e.languages)} langs"
        installed = "yes" if e.installed else "no"
        prepared = "yes" if e.prepared else "no"
        print(f"{e.name:<18} {languages:<10} {e.size_mb:>4} MB  {installed:<9}  {prepared}")
    if not all(e.installed or e.prepared for e in entries):
        print(f"\n{models.INSTALL_HINT}")
    return 0


def _prepare(name: str, model_dir: Path, engine: str) -> Path:
    """The prepared model in `model_dir`: the joined CTranslate2 directory, or for torch the
    converted checkpoint (ModelError when it cannot be made)."""
    if engine != "torch":
        return models.resolve_model(name, model_dir, prepared_dirs=())
    try:
        from asr_server.engines.torch.resolve import resolve_checkpoint
    except ImportError as exc:  # torch is an optional extra
        raise ModelError(
            f"the torch engine is not installed ({exc.name}); install asr-server[torch]"
        ) from None
    return resolve_checkpoint(name, model_dir, prepared_dirs=()).checkpoint
