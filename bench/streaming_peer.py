"""The peer of bench/streaming.py: WhisperLive (PyPI `whisper-live`) with the same model.

It lives in the git-ignored venv bench/.venv-whisperlive (needs Debian portaudio19-dev for
PyAudio; pulls torch and openvino):

    python3 -m venv bench/.venv-whisperlive
    bench/.venv-whisperlive/bin/pip install whisper-live==0.10.0

Server: `TranscriptionServer().run(backend="faster_whisper", single_model=True,
batch_enabled=True)` - one shared model as ours, its own cross-client batching on, the same
whisper-tiny.en CTranslate2 directory; VAD is faster-whisper's bundled Silero (no download).
Client: WhisperLive's protocol (options JSON with uid, then int16 PCM frames, then
END_OF_AUDIO); it re-sends the last segments with a `completed` flag. A partial is any
message with text; an utterance's final is the first message holding a completed segment that
reaches its end of speech.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

FRAME_BYTES = 3200
START_TIMEOUT_S = 180
TAIL_S = 15.0
"""How long after END_OF_AUDIO to keep listening for the last segments."""

SERVER = """
import sys
from whisper_live.server import TranscriptionServer
TranscriptionServer().run(
    "127.0.0.1", int(sys.argv[1]), backend="faster_whisper",
    faster_whisper_custom_model_path=sys.argv[2], single_model=True,
    max_clients=64, max_connection_time=3600, batch_enabled=True,
)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"exited with {process.returncode}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return ""
        except OSError:
            time.sleep(0.5)
    return f"not listening after {START_TIMEOUT_S} s"


async def _one(url: str, model_dir: str, frames: list[bytes]) -> dict[str, Any]:
    uid = str(uuid.uuid4())
    messages: list[tuple[float, dict[str, Any]]] = []
    options = {
        "uid": uid,
        "language": "en",
        "task": "transcribe",
        "model": model_dir,
        "use_vad": True,
        "audio_format": "int16",
        "send_last_n_segments": 10,
    }
    async with aiohttp.ClientSession() as http, http.ws_connect(url, max_msg_size=0) as ws:
        await ws.send_str(json.dumps(options))
        while True:
            msg = await asyncio.wait_for(ws.receive(), 120)
            if msg.type != aiohttp.WSMsgType.TEXT:
                return {"error": f"closed before ready ({msg.type})"}
            data = json.loads(msg.data)
            if data.get("message") == "SERVER_READY":
                break
            if data.get("status") in ("WAIT", "ERROR"):
                return {"error": f"{data.get('status')}: {data.get('message')}"}

        async def read() -> None:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    messages.append((time.monotonic(), json.loads(msg.data)))

        reader = asyncio.create_task(read())
        started = time.monotonic()
        behind = 0.0
        for index, frame in enumerate(frames):
            due = started + index * 0.1
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
            else:
                behind = max(behind, now - due)
            await ws.send_bytes(frame)
        await ws.send_bytes(b"END_OF_AUDIO")
        with contextlib.suppress(TimeoutError):  # the peer may keep the socket open
            await asyncio.wait_for(reader, TAIL_S)
        await ws.close()
    return {"started": started, "behind": behind, "messages": messages}


def _score(level: Any, result: dict[str, Any], speech: Any, word_error_rate: Any) -> None:
    if "error" in result:
        level.errors.append(result["error"])
        return
    start, messages = result["started"], result["messages"]
    level.send_lags.append(result["behind"])
    with_text = [
        at for at, m in messages if any(s.get("text", "").strip() for s in m.get("segments", []))
    ]
    level.first_partials.append(with_text[0] - (start + speech.onset_s) if with_text else math.inf)
    completed: dict[float, str] = {}
    for offset in speech.offsets_s:
        hit = next(
            (
                at
                for at, m in messages
                for s in m.get("segments", [])
                if s.get("completed") and float(s["end"]) >= offset - 0.3
            ),
            None,
        )
        if hit is None:
            level.missing_finals += 1
        else:
            level.finals.append(hit - (start + offset))
    last_segments: list[dict[str, Any]] = []
    for _, m in messages:
        for s in m.get("segments", []):
            if s.get("completed"):
                completed[float(s["start"])] = s["text"]
        if m.get("segments"):
            last_segments = m["segments"]
    tail = [s["text"] for s in last_segments if not s.get("completed")]
    text = " ".join([completed[k] for k in sorted(completed)] + tail)
    level.wers.append(word_error_rate(speech.text, text))


def run_peer_levels(
    repo: Path,
    model_dir: str,
    levels: list[int],
    speeches: list[Any],
    level_cls: Any,
    header: str,
) -> tuple[list[Any] | None, str]:
    """Client i streams speeches[i % len(speeches)] (bench/streaming.py's Speech)."""
    python = repo / "bench" / ".venv-whisperlive" / "bin" / "python"
    if not python.exists():
        return None, f"{python} is missing (see this module's docstring to install whisper-live)"
    probe = subprocess.run([str(python), "-c", "import whisper_live.server"], capture_output=True)
    if probe.returncode != 0:
        return None, f"whisper_live does not import: {probe.stderr.decode()[-300:]}"
    import sys

    sys.path.insert(0, str(repo / "tests"))
    from support.text import word_error_rate

    frames = [
        [speech.pcm[i : i + FRAME_BYTES] for i in range(0, len(speech.pcm), FRAME_BYTES)]
        for speech in speeches
    ]
    print(
        f"\nwhisper-live {_version(python)} (faster_whisper backend, single_model, batch_enabled,"
        f" same model dir; a fresh server per level)\n{header}"
    )
    results = []
    for n in levels:
        level = level_cls(n)
        with _peer_server(python, model_dir) as (url, problem):
            if problem:
                return None, problem
            for i, result in enumerate(asyncio.run(_level(url, model_dir, frames, n))):
                _score(level, result, speeches[i % len(speeches)], word_error_rate)
        results.append(level)
        print(level.row(), flush=True)
    return results, ""


async def _level(
    url: str, model_dir: str, frames: list[list[bytes]], n: int
) -> list[dict[str, Any]]:
    async def staggered(i: int) -> dict[str, Any]:
        await asyncio.sleep(i / n)
        try:
            return await _one(url, model_dir, frames[i % len(frames)])
        except Exception as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}

    return await asyncio.gather(*(staggered(i) for i in range(n)))


@contextlib.contextmanager
def _peer_server(python: Path, model_dir: str) -> Iterator[tuple[str, str]]:
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="whisperlive-", suffix=".log", delete=False)  # noqa: SIM115
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    process = subprocess.Popen(
        [str(python), "-c", SERVER, str(port), model_dir],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        problem = _wait_port(port, process)
        if problem:
            tail = Path(log.name).read_text(errors="replace").strip().splitlines()[-3:]
            problem = f"whisper-live server {problem}: {' | '.join(tail)}"
        yield f"ws://127.0.0.1:{port}", problem
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _version(python: Path) -> str:
    done = subprocess.run(
        [str(python), "-c", "from whisper_live.__version__ import __version__; print(__version__)"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() or "?"
