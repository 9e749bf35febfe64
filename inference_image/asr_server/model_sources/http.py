"""`http(s)://[USER:PASSWORD@]HOST/PATH[#sha256=HEX]`: an archive, streamed to a temp file
(timeout and size bound, hashed on the way), checked against the digest when one is given,
then unpacked. Credentials in the URI are sent as HTTP Basic authentication, never printed."""

from __future__ import annotations

import base64
import hashlib
import socket
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from asr_server.model_sources.archive import unpack
from asr_server.model_sources.base import Download, Fetched
from asr_server.model_sources.checksum import CHUNK, verify_sha256
from asr_server.model_sources.errors import ExitCode, FetchError, over_limit
from asr_server.model_sources.settings import FetchSettings
from asr_server.model_sources.uri import ModelUri

USER_AGENT = "asr-server fetch-model"


def parse(uri: ModelUri) -> ModelUri:
    if not uri.authority:
        raise FetchError(f"{uri.scheme}:// URI needs a host: {uri.shown}", ExitCode.USAGE)
    return uri


def fetch(uri: ModelUri, work: Path, settings: FetchSettings) -> Fetched:
    download = work / "download"
    _download(uri, download, settings)
    unpack(download, work / "unpacked", max_bytes=settings.max_bytes, what=uri.shown)
    return Fetched(work / "unpacked", owned=True)


def _download(uri: ModelUri, target: Path, settings: FetchSettings) -> None:
    shown, timeout = uri.shown, settings.timeout_s
    request = _request(uri.text)
    hasher = hashlib.sha256()
    written = 0
    try:
        with (
            urllib.request.urlopen(request, timeout=timeout) as response,
            target.open("wb") as out,
        ):
            while chunk := response.read(CHUNK):
                written += len(chunk)
                if written > settings.max_bytes:
                    raise over_limit(shown, settings.max_bytes)
                hasher.update(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as exc:
        code = ExitCode.DENIED if exc.code in (401, 403) else ExitCode.UNAVAILABLE
        raise FetchError(f"HTTP {exc.code} {exc.reason} fetching {shown}", code) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, socket.gaierror):
            host = urllib.parse.urlsplit(uri.text).hostname
            raise FetchError(
                f"cannot resolve host {host!r} ({reason.strerror})", ExitCode.UNAVAILABLE
            ) from None
        if isinstance(reason, TimeoutError):
            raise _timed_out(shown, timeout) from None
        raise FetchError(f"cannot fetch {shown}: {reason}", ExitCode.UNAVAILABLE) from None
    except TimeoutError:
        raise _timed_out(shown, timeout) from None
    except OSError as exc:
        raise FetchError(f"cannot fetch {shown}: {exc}", ExitCode.UNAVAILABLE) from None
    verify_sha256(hasher.hexdigest(), uri.sha256, shown)


def _request(url: str) -> urllib.request.Request:
    """The GET request, with userinfo moved from the URL into a Basic authorization header."""
    parts = urllib.parse.urlsplit(url)
    headers = {"User-Agent": USER_AGENT}
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        headers["Authorization"] = (
            "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        )
        host = parts.netloc.rpartition("@")[2]
        url = urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, ""))
    return urllib.request.Request(url, headers=headers)


def _timed_out(shown: str, timeout_s: float) -> FetchError:
    return FetchError(f"timed out after {timeout_s:g} s fetching {shown}", ExitCode.UNAVAILABLE)


SOURCE = Download(parse, fetch)
