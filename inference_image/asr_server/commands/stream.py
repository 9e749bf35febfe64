"""`asr-server stream FILE|-`: stream audio to a server's `/v1/stream` and print the results.

A FILE (any format FFmpeg reads) is decoded to 16 kHz mono and sent in 100 ms frames; `-`
reads raw PCM16 16 kHz mono from stdin as it arrives. `--realtime` paces the frames as live
audio (a file is otherwise sent as fast as the server takes it). On a terminal, partial
results overwrite one line in place; every final is printed on its own line.

Exit codes: 0 done; 1 the server reported an error or the connection failed; 2 bad input or
arguments; 75 the server is busy or draining (try again later).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator
from typing import Any, TextIO

import aiohttp

from asr_server.audio import decode_audio
from asr_server.commands.arguments import bounded_int
from asr_server.config import BEAM_SIZES, ENDPOINT_SILENCE_MS
from asr_server.errors import BadAudio
from asr_server.streaming.client import StreamRefused, stream_frames

FRAME_BYTES = 3200
"""100 ms of 16 kHz PCM16 mono."""
EXIT_TEMPFAIL = 75


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "stream",
        help="stream a file or stdin to a server and print partial and final results",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", metavar="FILE|-", help="audio file, or - for PCM16 16 kHz stdin")
    parser.add_argument(
        "--url",
        default=os.environ.get("ASR_STREAM_URL", "ws://localhost:8080/v1/stream"),
        help="server WebSocket URL (default: $ASR_STREAM_URL or ws://localhost:8080/v1/stream)",
    )
    parser.add_argument("--realtime", action="store_true", help="pace the audio as live")
    parser.add_argument("--language", help="ISO 639-1 code (default: the server's / detect)")
    parser.add_argument("--hotwords", help="words or phrases to favour")
    parser.add_argument(
        "--endpointing-ms",
        type=bounded_int(ENDPOINT_SILENCE_MS),
        metavar="MS",
        help="silence that ends an utterance (default: the server's, 500 unless configured)",
    )
    parser.add_argument(
        "--beam-size",
        type=bounded_int(BEAM_SIZES),
        metavar="N",
        help="beam width of the finals, 1 = greedy (default: the server's ASR_BEAM_SIZE)",
    )
    parser.add_argument(
        "--no-partials", action="store_true", help="print only final results (no interim)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_stream(args, sys.stdout))
    except _Failure as exc:
        print(f"asr-server stream: error: {exc}", file=sys.stderr)
        return exc.exit_code


class _Failure(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


async def _stream(args: argparse.Namespace, out: TextIO) -> int:
    frames = _stdin_frames() if args.input == "-" else _file_frames(args.input)
    printer = _Printer(out, show_partials=not args.no_partials and out.isatty())
    key = os.environ.get("ASR_API_KEY")
    try:
        outcome = await stream_frames(
            args.url,
            frames,
            speed=1.0 if args.realtime else 0.0,
            language=args.language,
            hotwords=args.hotwords,
            interim_results=not args.no_partials,
            endpointing_ms=args.endpointing_ms,
            beam_size=args.beam_size,
            on_message=printer.show,
            headers={"Authorization": f"Bearer {key}"} if key else None,
        )
    except StreamRefused as exc:
        kind = exc.message.get("type")
        if kind == "busy":
            raise _Failure(
                f"server busy; retry in {exc.message.get('retry_after')} s", EXIT_TEMPFAIL
            ) from None
        if exc.message.get("code") == "draining":
            raise _Failure("server is shutting down; retry", EXIT_TEMPFAIL) from None
        raise _Failure(f"{exc.message.get('code', kind)}: {exc}", 1) from None
    except aiohttp.WSServerHandshakeError as exc:
        code = EXIT_TEMPFAIL if exc.status in (429, 503) else 1
        raise _Failure(f"{args.url}: HTTP {exc.status} {exc.message}", code) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise _Failure(f"cannot reach {args.url}: {exc}", 1) from None
    printer.end()
    if outcome.of("error"):
        return 1
    return 0


def _file_frames(path: str) -> list[bytes]:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        samples = decode_audio(data)
    except OSError as exc:
        raise _Failure(f"cannot read {path}: {exc.strerror}", 2) from None
    except BadAudio as exc:
        raise _Failure(f"{path}: {exc.message}", 2) from None
    pcm = (samples.clip(-1.0, 1.0) * 32767).astype("<i2").tobytes()
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


async def _stdin_frames() -> AsyncIterator[bytes]:
    stdin = sys.stdin.buffer
    while True:
        chunk = await asyncio.to_thread(stdin.read, FRAME_BYTES)
        if not chunk:
            return
        yield chunk


class _Printer:
    """Finals on their own lines; on a terminal the current partial is redrawn in place."""

    def __init__(self, out: TextIO, *, show_partials: bool) -> None:
        self.out = out
        self.show_partials = show_partials
        self._partial_width = 0

    def show(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "partial" and self.show_partials:
            line = f"[{message['start']:7.2f}] {message['text']}"
            self._clear()
            self.out.write("\r" + line)
            self._partial_width = len(line)
        elif kind == "final":
            self._clear()
            self.out.write(f"[{message['start']:7.2f}-{message['end']:7.2f}] {message['text']}\n")
        elif kind == "error":
            self._clear()
            print(
                f"asr-server stream: error: {message['code']}: {message['message']}",
                file=sys.stderr,
            )
        self.out.flush()

    def _clear(self) -> None:
        if self._partial_width:
            self.out.write("\r" + " " * self._partial_width + "\r")
            self._partial_width = 0

    def end(self) -> None:
        self._clear()
        self.out.flush()
