"""`asr-server fetch-model URI DEST`: fetch a model into DEST (the operator's init container
for a `spec.model.uri`, and the command a model-cache Job runs).

Exit codes (model_sources.errors.ExitCode): 0 the model is ready (fetched, or already there),
2 bad URI or setting, 3 source unreachable or missing, 4 content failed verification,
5 credentials refused or missing. A failure prints one line on stderr, never a credential;
progress goes to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from asr_server.model_sources import PVC_MOUNT, SCHEMES, FetchError, FetchSettings, fetch_model
from asr_server.model_sources.layout import LAYOUTS

DEFAULTS = FetchSettings()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "fetch-model",
        help="fetch a model from a URI into a directory",
        description=(
            f"Fetch a model from {', '.join(s + '://' for s in SCHEMES)} into DEST (replaced "
            "atomically; a re-run for the same URI does nothing); pvc://CLAIM/PATH is checked "
            f"where the claim is mounted ({PVC_MOUNT}). Hugging Face: HF_ENDPOINT, "
            "HF_TOKEN. S3: AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, "
            "AWS_SECRET_ACCESS_KEY, AWS_CA_BUNDLE, ASR_S3_ADDRESSING_STYLE. See docs/models.md."
        ),
    )
    parser.add_argument("uri", help="model URI")
    parser.add_argument(
        "dest", help="directory to create; on a volume, a directory below its mount point"
    )
    parser.add_argument("--sha256", help="expected SHA-256 of the file or archive downloaded")
    parser.add_argument(
        "--engine",
        choices=sorted(LAYOUTS),
        default=None,
        help=f"engine the model is for: decides the files fetched (default {DEFAULTS.engine})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        dest="timeout_s",
        help=f"network timeout, seconds (default {DEFAULTS.timeout_s:g})",
    )
    parser.add_argument(
        "--max-size-gib",
        type=float,
        default=None,
        help=f"refuse models larger than this (default {DEFAULTS.max_bytes / 2**30:g})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with _progress_on_stdout():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        settings = FetchSettings.from_env(
            os.environ,
            engine=args.engine,
            timeout_s=args.timeout_s,
            max_bytes=None if args.max_size_gib is None else int(args.max_size_gib * 2**30),
        )
        result = fetch_model(args.uri, Path(args.dest), settings, sha256=args.sha256)
    except FetchError as exc:
        print(f"asr-server fetch-model: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # the local side: DEST not writable, disk full
        print(f"asr-server fetch-model: {exc.strerror or exc}: {exc.filename}", file=sys.stderr)
        return 3
    state = "already there" if result.reused else "fetched"
    revision = f", revision {result.revision}" if result.revision else ""
    print(
        f"model ready at {result.path} ({state}: {result.files} files, "
        f"{result.size / 1e6:.1f} MB{revision})"
    )
    return 0


@contextlib.contextmanager
def _progress_on_stdout() -> Iterator[None]:
    """Progress lines on stdout; library warnings muted so that a failure is one line on
    stderr. (huggingface_hub's progress bars show on a terminal only.)"""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    sources = logging.getLogger("asr_server.model_sources")
    sources.addHandler(handler)
    sources.setLevel(logging.INFO)
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
    try:
        yield
    finally:
        sources.removeHandler(handler)
