"""The console's API over HTTP and WebSocket (no browser): a bad file or an unreachable
recognizer is a clear 4xx/502, and a stream whose browser went away is closed at the
recognizer too."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import aiohttp
import pytest
from support.console_stack import (
    TOKEN,
    Processes,
    Stack,
    free_port,
    http,
    start_console,
    write_kubeconfig,
)

pytestmark = pytest.mark.model
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def active_streams(stack: Stack) -> float:
    _, text = http("GET", f"{stack.server}/metrics")
    match = re.search(r"^asr_active_streams (\S+)$", text, flags=re.MULTILINE)
    assert match is not None
    return float(match.group(1))


def test_a_file_that_is_not_audio_is_the_recognizers_400(stack: Stack) -> None:
    url = f"{stack.console}/api/recognizers/default/english/transcribe"
    status, body = http("POST", url, b"not audio at all", headers=BEARER,
                        content_type="application/octet-stream")  # fmt: skip
    assert status == 400, body
    assert body["error"]["message"].startswith("the recognizer refused:")
    status, body = http("POST", url, b"", headers=BEARER, content_type="application/octet-stream")
    assert status == 400 and body["error"]["code"] == "empty"


def test_an_unreachable_recognizer_is_a_502_that_says_so(stack: Stack) -> None:
    url = f"{stack.console}/api/recognizers/default/gone/transcribe"
    status, body = http("POST", url, b"RIFF", headers=BEARER,
                        content_type="application/octet-stream")  # fmt: skip
    assert status == 502, body
    assert "unreachable" in body["error"]["message"]
    status, body = http("GET", f"{stack.console}/api/recognizers/default/nope", headers=BEARER)
    assert status == 404 and "default/nope" in body["error"]["message"]
    # The fleet still lists it, with its one server failed.
    _, fleet = http("GET", f"{stack.console}/api/fleet", headers=BEARER)
    [gone] = [r for r in fleet["rows"] if r["summary"]["name"] == "gone"]
    assert gone["load"]["servers_failed"] == 1


async def test_a_stream_whose_browser_left_is_closed_at_the_recognizer(stack: Stack) -> None:
    url = f"{stack.console.replace('http', 'ws')}/api/recognizers/default/english/stream"
    async with aiohttp.ClientSession(headers=BEARER) as session:
        socket = await session.ws_connect(url)
        await socket.send_json({"type": "start", "sample_rate": 16000})
        assert (await socket.receive_json(timeout=30))["type"] == "ready"
        await socket.send_bytes(b"\x00\x00" * 16000)
        assert await asyncio.to_thread(active_streams, stack) == 1
        await socket.close()  # the browser tab closed mid-utterance
    for _ in range(150):  # up to 30 s
        if await asyncio.to_thread(active_streams, stack) == 0:
            break
        await asyncio.sleep(0.2)
    assert await asyncio.to_thread(active_streams, stack) == 0


async def test_a_stream_from_another_origin_is_refused(stack: Stack) -> None:
    login = f"{stack.console}/api/login"
    # The cookie jar keeps cookies of an IP-address host only when told to.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.post(login, json={"token": TOKEN}) as response:
            assert response.status == 200
        url = f"{stack.console.replace('http', 'ws')}/api/recognizers/default/english/stream"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url, origin="http://evil.example")
        assert refused.value.status == 403


def test_a_dead_kubernetes_api_is_said_and_the_console_stays_up(
    stack: Stack, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", dead)
    processes = Processes(tmp_path)
    try:
        console = start_console(processes, kubeconfig, "console-dead-api")
        status, fleet = http("GET", f"{console}/api/fleet", headers=BEARER)
        assert status == 200 and fleet["rows"] == []
        assert "the Kubernetes API did not answer" in fleet["error"]
        status, body = http("GET", f"{console}/api/recognizers/default/english", headers=BEARER)
        assert status == 502 and body["error"]["code"] == "upstream_error"
        time.sleep(2.5)  # later rounds fail the same way; the console keeps answering
        status, fleet = http("GET", f"{console}/api/fleet", headers=BEARER)
        assert status == 200 and "did not answer" in fleet["error"]
    finally:
        processes.stop_all()
