"""Hostile requests through a real socket (issue 13): every malformed body, encoding and
nesting depth is a 4xx JSON error naming the problem, slow and vanished clients cost nothing
but their connection, and the server keeps serving after each."""

from __future__ import annotations

import asyncio
import gc
import gzip
import logging
import tempfile
import threading
import zlib
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from asr_server.keys import METRICS, SCHEDULER
from support.asr_engines import GatedEngine
from support.asr_http import Server, StartServer, wav_bytes

from .test_http_errors import GOOD_WAV, expect_error, still_serves

pytestmark = pytest.mark.asyncio

AUDIO_ROUTES = ("/v1/audio/transcriptions", "/v1/recognize", "/v1/recognize/batch", "/all")


async def raw_exchange(server: Server, request: bytes, *, read_timeout: float = 10.0) -> bytes:
    """Send `request` as is on a new connection; the bytes answered until the server closes
    or stops sending."""
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        answer = b""
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), read_timeout)
            except TimeoutError:
                break
            if not chunk:
                break
            answer += chunk
            if b"\r\n\r\n" in answer and _complete(answer):
                break
        return answer
    finally:
        writer.close()


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def post(path: str, content_type: str, body: bytes, *extra: str) -> bytes:
    head = [
        f"POST {path} HTTP/1.1",
        "Host: test",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        *extra,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def multipart(*parts: bytes, boundary: str = "XyZ") -> bytes:
    return b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in parts) + (
        b"--" + boundary.encode() + b"--\r\n"
    )


FILE_PART = b'Content-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n' + GOOD_WAV


def status_and_code(answer: bytes) -> tuple[int, str]:
    import json

    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    return status, json.loads(body)["error"]["code"]


MALFORMED_FORMS = [
    ("no boundary", "multipart/form-data", multipart(FILE_PART), 400),
    ("truncated", "multipart/form-data; boundary=XyZ", multipart(FILE_PART)[:-30], 400),
    (
        "huge part header",
        "multipart/form-data; boundary=XyZ",
        multipart(b"X-Filler: " + b"a" * 20000 + b"\r\n" + FILE_PART),
        400,
    ),
    (
        "huge field name",
        "multipart/form-data; boundary=XyZ",
        multipart(b'Content-Disposition: form-data; name="' + b"n" * 20000 + b'"\r\n\r\nx'),
        400,
    ),
    (
        "invalid utf-8 text field",
        "multipart/form-data; boundary=XyZ",
        multipart(FILE_PART, b'Content-Disposition: form-data; name="prompt"\r\n\r\n\xff\xfe'),
        400,
    ),
    (
        "unknown charset",
        "multipart/form-data; boundary=XyZ",
        multipart(
            FILE_PART,
            b'Content-Disposition: form-data; name="prompt"\r\n'
            b"Content-Type: text/plain; charset=no-such-charset\r\n\r\nhello",
        ),
        400,
    ),
    (
        "part without a name",
        "multipart/form-data; boundary=XyZ",
        multipart(b"Content-Disposition: form-data\r\n\r\nx", FILE_PART),
        400,
    ),
    (
        "nested multipart",
        "multipart/form-data; boundary=XyZ",
        multipart(
            b"Content-Type: multipart/mixed; boundary=in\r\n\r\n--in\r\n\r\nx\r\n--in--", FILE_PART
        ),
        400,
    ),
]


@pytest.mark.parametrize("path", ["/v1/audio/transcriptions", "/v1/recognize/batch"])
@pytest.mark.parametrize(
    ("what", "content_type", "body", "status"), MALFORMED_FORMS, ids=[m[0] for m in MALFORMED_FORMS]
)
async def test_malformed_multipart_is_a_400(
    start_server: StartServer, path: str, what: str, content_type: str, body: bytes, status: int
) -> None:
    server = await start_server(GatedEngine())
    answer = await raw_exchange(server, post(path, content_type, body))
    got, code = status_and_code(answer)
    assert got == status, (what, answer[:300])
    assert code in ("invalid_request", "invalid_field"), (what, code)
    await still_serves(server)


async def test_deep_json_and_bad_utf8_json_are_400s(start_server: StartServer) -> None:
    server = await start_server(GatedEngine())
    deep = b'{"audio": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    for path in ("/v1/recognize", "/all"):
        for body in (deep, b'{"audio": "\xff\xfe"}', b'{"sample_rate": 1' + b"0" * 5000 + b"}"):
            async with server.http.post(
                f"{server.url}{path}", data=body, headers={"Content-Type": "application/json"}
            ) as r:
                await expect_error(r, 400, "invalid_json")
    await still_serves(server)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd", "x-unknown"])
async def test_compressed_bodies_are_refused_with_415(
    start_server: StartServer, encoding: str
) -> None:
    server = await start_server(GatedEngine())
    bomb = gzip.compress(b"\x00" * 4_000_000)  # 4 MB of zeros in 4 kB
    for path in AUDIO_ROUTES:
        async with server.http.post(
            f"{server.url}{path}",
            data=bomb,
            headers={"Content-Encoding": encoding, "Content-Type": "audio/wav"},
        ) as r:
            body = await expect_error(r, 415, "unsupported_content_encoding")
            assert "uncompressed" in body["error"]["message"]
    await still_serves(server)


def gzip_bomb(inflated_mb: int) -> bytes:
    """`inflated_mb` MB of zeros gzipped (about 1 kB per MB), built without holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip format
    zeros = bytes(1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(inflated_mb)) + packer.flush()


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


class PeakRss:
    """The highest RSS of this process (the server runs in it) while the block runs."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> PeakRss:
        self.peak = rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def test_concurrent_compression_bombs_leave_the_rss_within_the_documented_bound(
    start_server: StartServer,
) -> None:
    """docs/server-api.md, "Memory": a request holds at most about twice its body (the body
    and one parsing copy), and a compressed body is refused before it is read. 24 bombs at
    once (1 MB inflating to 1 GB each took the server from 411 MB to 1.58 GB before)."""
    server = await start_server(GatedEngine(), max_body_mb=25.0)
    bomb = gzip_bomb(1024)
    bombs = 24
    await still_serves(server)  # buffers and first-request state in place before the baseline
    gc.collect()
    baseline = rss_bytes()

    async def send(path: str) -> int:
        async with server.http.post(
            f"{server.url}{path}",
            data=bomb,
            headers={"Content-Encoding": "gzip", "Content-Type": "audio/wav"},
        ) as r:
            await r.read()
            return r.status

    with PeakRss() as rss:
        statuses = await asyncio.gather(*(send(AUDIO_ROUTES[n % 4]) for n in range(bombs)))
    assert statuses == [415] * bombs
    bound = bombs * 2 * len(bomb) + 64 * 2**20  # the bodies as sent, twice, plus slack
    assert rss.peak - baseline < bound, (rss.peak - baseline, bound)
    await still_serves(server)


async def test_a_body_that_trickles_gets_408_and_frees_the_connection(
    start_server: StartServer,
) -> None:
    server = await start_server(GatedEngine(), body_timeout_s=0.5)
    head = post("/v1/recognize", "audio/wav", GOOD_WAV)[: -len(GOOD_WAV)]
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(head + GOOD_WAV[:10])
    for byte in GOOD_WAV[10:20]:  # one byte every 0.1 s: the body never completes in time
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.1)
    answer = await asyncio.wait_for(reader.read(65536), 10)
    writer.close()
    assert status_and_code(answer) == (408, "body_timeout"), answer[:300]
    await still_serves(server)


async def test_many_trickling_clients_do_not_starve_a_good_request(
    start_server: StartServer,
) -> None:
    server = await start_server(GatedEngine(), body_timeout_s=30.0)
    head = post("/v1/recognize", "audio/wav", GOOD_WAV)[: -len(GOOD_WAV)]
    host, port = server.url.removeprefix("http://").split(":")
    slow = [await asyncio.open_connection(host, int(port)) for _ in range(40)]
    for _, writer in slow:
        writer.write(head + GOOD_WAV[:100])
    await asyncio.gather(*(writer.drain() for _, writer in slow))
    await still_serves(server)  # answered while 40 bodies are pending
    for _, writer in slow:
        writer.close()


async def test_connections_over_the_cap_get_503_with_retry_after(
    start_server: StartServer,
) -> None:
    server = await start_server(GatedEngine(), max_connections=4)
    host, port = server.url.removeprefix("http://").split(":")
    idle = [await asyncio.open_connection(host, int(port)) for _ in range(4)]
    answer = await raw_exchange(server, b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    assert status_and_code(answer) == (503, "too_many_connections"), answer[:300]
    assert b"Retry-After: 1" in answer
    for _, writer in idle:
        writer.close()
        await writer.wait_closed()
    await still_serves(server)
    async with server.http.get(f"{server.url}/metrics") as r:
        text = await r.text()
    assert "asr_refused_connections_total 0.0" not in text, text


async def body_bytes_held_become(server: Server, expected: float) -> float:
    """`asr_request_body_bytes` once it equals `expected` (or after 5 s: what it is then)."""
    registry = server.app[METRICS].registry
    for _ in range(100):
        if registry.get_sample_value("asr_request_body_bytes") == expected:
            break
        await asyncio.sleep(0.05)
    return registry.get_sample_value("asr_request_body_bytes") or 0.0


async def test_bodies_over_the_servers_budget_get_429_before_they_are_read(
    start_server: StartServer,
) -> None:
    """docs/server-api.md, "Memory": ASR_MAX_BODIES_MB bounds the bodies of every request in
    progress together; the connection count no longer multiplies the body limit."""
    server = await start_server(GatedEngine(), max_body_mb=1.0, max_bodies_mb=2.0)
    host, port = server.url.removeprefix("http://").split(":")
    declared = 900 * 1024
    head = post("/v1/recognize", "audio/wav", b"\0" * declared)[:-declared]
    uploading = []
    for _ in range(2):  # two uploads under way: 1.8 of the 2 MB held
        _, writer = await asyncio.open_connection(host, int(port))
        writer.write(head + GOOD_WAV[:100])
        await writer.drain()
        uploading.append(writer)
    assert await body_bytes_held_become(server, 2 * declared) == 2 * declared
    # A third that declares 0.5 MB, and a chunked one (charged the whole 1 MB body limit).
    third = await raw_exchange(server, post("/v1/recognize", "audio/wav", b"\0" * 512 * 1024))
    assert status_and_code(third) == (429, "bodies_full"), third[:300]
    assert b"Retry-After: 1" in third
    chunked = (
        b"POST /v1/recognize HTTP/1.1\r\nHost: t\r\nContent-Type: audio/wav\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n10\r\n" + b"\0" * 16 + b"\r\n0\r\n\r\n"
    )
    assert status_and_code(await raw_exchange(server, chunked))[1] == "bodies_full"
    async with server.http.get(f"{server.url}/healthz") as r:
        assert r.status == 200  # requests without a body are not charged
    for writer in uploading:  # the uploads' clients go away: their share comes back
        writer.close()
    assert await body_bytes_held_become(server, 0) == 0
    await still_serves(server)


async def test_a_client_gone_mid_upload_is_499_at_info_not_a_500(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = await start_server(GatedEngine())
    caplog.set_level(logging.INFO)
    for _ in range(3):
        host, port = server.url.removeprefix("http://").split(":")
        _, writer = await asyncio.open_connection(host, int(port))
        writer.write(post("/v1/recognize", "audio/wav", GOOD_WAV)[:-1000])
        await writer.drain()
        writer.close()
    await still_serves(server)
    text = ""
    for _ in range(100):
        async with server.http.get(f"{server.url}/metrics") as r:
            text = await r.text()
        if 'code="499",route="/v1/recognize"} 3.0' in text:
            break
        await asyncio.sleep(0.02)
    assert 'asr_requests_total{code="499",route="/v1/recognize"} 3.0' in text
    assert 'code="500"' not in text
    assert "Traceback" not in caplog.text and "unhandled" not in caplog.text
    gone = [r for r in caplog.records if getattr(r, "client_gone", False)]
    assert len(gone) == 3 and all(r.levelno == logging.INFO for r in gone)


async def test_abandoned_requests_are_not_decoded(start_server: StartServer) -> None:
    """32 clients give up while queued behind a held decode: none of them is decoded, each is
    counted, and the next good request is the next one decoded."""
    engine = GatedEngine()
    engine.decode_gate.clear()
    server = await start_server(engine, max_concurrency=1, batch_max_size=4, max_queue=64)
    scheduler = server.app[SCHEDULER]
    busy = asyncio.create_task(
        server.http.post(f"{server.url}/v1/recognize", data=wav_bytes(0.2, first=0.01))
    )
    await asyncio.to_thread(engine.started.acquire)
    sessions = [aiohttp.ClientSession() for _ in range(32)]
    abandoned = [
        asyncio.create_task(s.post(f"{server.url}/v1/recognize", data=wav_bytes(0.2, first=0.5)))
        for s in sessions
    ]
    while scheduler.queue_depth < 32:  # noqa: ASYNC110 - waits for the server's state
        await asyncio.sleep(0.01)
    for session in sessions:
        await session.close()  # the clients give up: their connections close
    await asyncio.gather(*abandoned, return_exceptions=True)
    while scheduler.queue_depth:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    engine.decode_gate.set()
    assert (await busy).status == 200
    await still_serves(server)
    decoded = [label for batch in engine.batches for label, _ in batch]
    assert not [label for label in decoded if "first=0.500" in label], decoded
    assert len(engine.batches) == 2  # the held one, then the good request at once
    async with server.http.get(f"{server.url}/metrics") as r:
        assert 'asr_cancelled_requests_total{reason="cancelled"} 32.0' in await r.text()


async def test_readiness_names_an_unusable_temp_or_model_dir(
    start_server: StartServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    server = await start_server(GatedEngine(), model_dir=not_a_dir / "models", ready=False)
    body = await readiness_once_loaded(server)
    assert body["status"] == "model_dir_unusable", body
    assert "models" in body["error"]["message"]
    monkeypatch.setattr(tempfile, "tempdir", str(not_a_dir / "tmp"))
    server = await start_server(GatedEngine(), model_dir=tmp_path / "models", ready=False)
    body = await readiness_once_loaded(server)
    assert body["status"] == "temp_dir_unusable", body
    # An upload larger than aiohttp's 1 MB spool size still works without a temp dir.
    form = aiohttp.FormData()
    form.add_field("file", wav_bytes(40.0, first=0.25), filename="long.wav")
    async with server.http.post(f"{server.url}/v1/audio/transcriptions", data=form) as r:
        assert r.status == 200, await r.text()

    def no_temp_dir() -> str:  # what tempfile raises when no candidate dir is writable
        raise FileNotFoundError("No usable temporary directory found")

    monkeypatch.setattr(tempfile, "gettempdir", no_temp_dir)
    async with server.http.get(f"{server.url}/readyz") as r:
        assert r.status == 503
        assert (await r.json())["status"] == "temp_dir_unusable"


async def readiness_once_loaded(server: Server) -> dict[str, Any]:
    for _ in range(200):
        async with server.http.get(f"{server.url}/readyz") as r:
            body: dict[str, Any] = await r.json()
        if body["status"] != "not_ready":
            assert r.status == (200 if body["status"] == "ready" else 503), body
            return body
        await asyncio.sleep(0.02)
    raise AssertionError(f"still loading: {body}")
