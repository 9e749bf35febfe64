"""Try it: the console forwards a file or a live microphone stream to a recognizer and the
answer back. Audio passes through memory only (never stored, never logged); a browser that
goes away closes the recognizer's side too, so no work is done for nobody."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohttp import web

from asrfleet_operator.console.errors import (
    BadRequest,
    PayloadTooLarge,
    RecognizerRefused,
    UpstreamError,
    UpstreamTimeout,
)

log = logging.getLogger("asrfleet_operator.console.proxy")
TEXT_OPTIONS = ("language", "hotwords")
MAX_OPTION_CHARS = 1000
RECOGNIZE_TIMEOUT_SECONDS = 300.0


def options(query: Mapping[str, str]) -> dict[str, str]:
    """The Try-it options the console passes on (the recognizer validates their values)."""
    chosen = {}
    for name in TEXT_OPTIONS:
        value = query.get(name, "").strip()
        if len(value) > MAX_OPTION_CHARS:
            raise BadRequest(f"{name} is longer than {MAX_OPTION_CHARS} characters")
        if value:
            chosen[name] = value
    return chosen


async def read_audio(request: web.Request, max_bytes: int) -> bytes:
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(f"the file is larger than {max_bytes // 1_000_000} MB")
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"the file is larger than {max_bytes // 1_000_000} MB")
    if not body:
        raise BadRequest("the request has no audio: send the file as the body", code="empty")
    return bytes(body)


async def _refusal(response: aiohttp.ClientResponse) -> RecognizerRefused | UpstreamError:
    text = await response.text()
    try:
        error = json.loads(text)["error"]
        message, code = str(error.get("message", text)), str(error.get("code", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        message, code = text[:300], ""
    if 400 <= response.status < 500:
        return RecognizerRefused(
            response.status, f"the recognizer refused: {message}", code or None
        )
    return UpstreamError(f"the recognizer answered {response.status}: {message}")


async def transcribe(
    http: aiohttp.ClientSession, base_url: str, audio: bytes, chosen: Mapping[str, str]
) -> dict[str, Any]:
    """POST the audio to the recognizer's `/v1/recognize`; its answer plus the latency."""
    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=RECOGNIZE_TIMEOUT_SECONDS)
    try:
        async with http.post(
            f"{base_url}/v1/recognize",
            data=audio,
            params=dict(chosen),
            headers={"Content-Type": "application/octet-stream"},
            timeout=timeout,
        ) as response:
            if response.status != 200:
                raise await _refusal(response)
            result: dict[str, Any] = await response.json()
    except TimeoutError:
        raise UpstreamTimeout("the recognizer did not answer in time") from None
    except aiohttp.ClientError as exc:
        raise UpstreamError(f"the recognizer at {base_url} is unreachable: {exc}") from None
    result["latency_seconds"] = round(time.monotonic() - started, 3)
    return result


async def relay_stream(
    request: web.Request, http: aiohttp.ClientSession, base_url: str
) -> web.WebSocketResponse:
    """The browser's WebSocket, joined to the recognizer's `/v1/stream`: every message is
    passed on unchanged both ways until either side closes."""
    browser = web.WebSocketResponse(heartbeat=30)
    await browser.prepare(request)
    url = base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/v1/stream"
    try:
        upstream = await http.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_receive=None))
    except (aiohttp.ClientError, TimeoutError) as exc:
        reason = f"the recognizer's stream at {url} is unreachable: {exc}"
        message = {"type": "error", "code": "upstream_unavailable", "message": reason}
        await browser.send_json(message)
        await browser.close()
        return browser
    async with upstream:
        pumps = [
            asyncio.create_task(_pump(browser, upstream), name="console stream: to recognizer"),
            asyncio.create_task(_pump(upstream, browser), name="console stream: to browser"),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            for pump in pumps:
                with contextlib.suppress(
                    asyncio.CancelledError, aiohttp.ClientError, ConnectionError
                ):
                    await pump
    await browser.close()
    return browser


async def _pump(
    source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
) -> None:
    async for message in source:
        if message.type == aiohttp.WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type == aiohttp.WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        elif message.type == aiohttp.WSMsgType.ERROR:
            log.debug("stream relay: %s", source.exception())
            return
