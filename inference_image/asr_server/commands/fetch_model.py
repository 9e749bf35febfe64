"""`asr-server fetch-model URI DEST [--sha256 HEX]`: the operator's init container for a
`spec.model.uri` model. Exit codes: 0 fetched (or already there), 2 bad or unsupported URI,
3 source unreachable or missing, 4 content failed verification (hash, no model.bin)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asr_server.model_fetch import PVC_MOUNT, FetchError, fetch_model


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "fetch-model",
        help="fetch a model from a URI into a directory",
        description=(
            "Fetch a CTranslate2 Whisper model from file://, http(s):// (an archive; add "
            "#sha256=HEX to verify) or check a pvc://CLAIM/PATH mounted at "
            f"{PVC_MOUNT}. hf:// and s3:// are not supported in this build."
        ),
    )
    parser.add_argument("uri", help="model URI")
    parser.add_argument("dest", type=Path, help="directory to create (replaced atomically)")
    parser.add_argument("--sha256", help="expected SHA-256 of the downloaded file or archive")
    parser.add_argument("--timeout", type=float, default=60.0, help="network timeout, seconds")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        path = fetch_model(args.uri, args.dest, sha256=args.sha256, timeout_s=args.timeout)
    except FetchError as exc:
        print(f"asr-server fetch-model: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # e.g. DEST not writable, disk full
        print(f"asr-server fetch-model: {exc.strerror or exc}: {exc.filename}", file=sys.stderr)
        return 3
    print(f"model ready at {path}")
    return 0
