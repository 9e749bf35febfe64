"""`asr-server serve` as a real process.

SIGTERM while a request is decoding: that request completes with 200, new requests get 503
`draining` (or connection refused once the socket has closed), and the process exits 0.
A model that fails to load exits 1; an invalid setting exits 2 with one line."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
from support.asr_http import wav_bytes

ASR_SERVER = Path(sys.executable).parent / "asr-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def inflight(http: aiohttp.ClientSession, url: str) -> float:
    async with http.get(f"{url}/metrics") as response:
        for line in (await response.text()).splitlines():
            if line.startswith("asr_inflight_requests "):
                return float(line.split()[1])
    return 0.0


async def ready_status(http: aiohttp.ClientSession, url: str) -> int:
    try:
        async with http.get(f"{url}/readyz") as response:
            return response.status
    except aiohttp.ClientConnectionError:
        return 0


async def test_sigterm_drains_in_flight_request_then_exits_0(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    env = {**os.environ, "ASR_FAKE_DELAY_S": "3", "ASR_LOG_FORMAT": "json"}
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            str(ASR_SERVER), "serve", "--engine", "fake", "--host", "127.0.0.1",
            "--port", str(port), "--drain-seconds", "30",
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=log_file,
        )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as http, asyncio.timeout(60):
            while True:
                try:
                    async with http.get(f"{url}/readyz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)

            slow = asyncio.create_task(http.post(f"{url}/v1/recognize", data=wav_bytes(1.0)))
            while await inflight(http, url) < 1:  # noqa: ASYNC110 - polls another process
                await asyncio.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            # the signal is handled asynchronously: readiness going 503 says the drain began
            while await ready_status(http, url) == 200:  # noqa: ASYNC110 - polls another process
                await asyncio.sleep(0.02)

            try:
                async with http.post(f"{url}/v1/recognize", data=wav_bytes(0.5)) as refused:
                    assert refused.status == 503
                    assert (await refused.json())["error"]["code"] == "draining"
            except aiohttp.ClientConnectionError:
                pass  # already closed: also a refusal

            response = await slow
            assert response.status == 200
            assert (await response.json())["text"]
            exit_code = await process.wait()
        assert exit_code == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    messages = [json.loads(line)["message"] for line in log.read_text().splitlines()]
    assert messages.index("signal received: draining") < messages.index("stopped")


async def test_model_that_fails_to_load_exits_1_with_the_reason(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        str(ASR_SERVER), "serve", "--model", str(tmp_path / "no-such-model"),
        "--host", "127.0.0.1", "--port", str(free_port()), "--log-format", "json",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(120):
        _, stderr = await process.communicate()
    assert process.returncode == 1
    last = json.loads(stderr.decode().strip().splitlines()[-1])
    assert last["message"] == "exiting: model load failed"
    assert "no-such-model" in last["error"]


async def test_invalid_setting_exits_2_with_one_line() -> None:
    process = await asyncio.create_subprocess_exec(
        str(ASR_SERVER), "serve", "--max-queue", "lots",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(60):
        _, stderr = await process.communicate()
    assert process.returncode == 2
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "ASR_MAX_QUEUE" in lines[0]


async def test_readiness_through_the_process_names_an_unusable_model_dir(tmp_path: Path) -> None:
    """`asr-server serve` whose ASR_MODEL_DIR cannot be written (a path under a file): alive,
    but not ready, and /readyz says which dir and why; the same server with a usable dir is
    ready."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for model_dir, wanted in ((blocker / "models", 503), (tmp_path / "models", 200)):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "ASR_MODEL_DIR": str(model_dir)}
        process = await asyncio.create_subprocess_exec(
            str(ASR_SERVER), "serve", "--engine", "fake", "--host", "127.0.0.1",
            "--port", str(port), env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            async with aiohttp.ClientSession() as http, asyncio.timeout(60):
                body: dict[str, object] = {"status": "not_ready"}
                while body["status"] == "not_ready":
                    try:
                        async with http.get(f"{url}/readyz") as response:
                            status, body = response.status, await response.json()
                    except aiohttp.ClientConnectionError:
                        pass
                    await asyncio.sleep(0.05)
                assert status == wanted, body
                if wanted == 503:
                    assert body["status"] == "model_dir_unusable", body
                    assert str(model_dir) in str(body["error"]), body
                async with http.get(f"{url}/healthz") as alive:
                    assert alive.status == 200
        finally:
            process.terminate()
            await process.wait()
