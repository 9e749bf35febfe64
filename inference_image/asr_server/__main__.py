"""`asr-server` command line: serve | transcribe | stream | models | fetch-model.

Each subcommand lives in its own module under `asr_server.commands` and exposes
`register(subparsers)`, which adds its parser and sets `run(args) -> int` as the default `func`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from asr_server import __version__

COMMAND_MODULES = ("serve", "transcribe", "stream", "models", "fetch_model")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asr-server",
        description="asrfleet inference server: speech recognition over HTTP and WebSocket.",
    )
    parser.add_argument("--version", action="version", version=f"asr-server {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"asr_server.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"asr_server.commands.{name}":
                raise
            continue  # a command not built yet
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("asr-server: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
