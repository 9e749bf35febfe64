"""A model URI, parsed once: scheme, authority, path, and the `#sha256=HEX` digest that a
single file or archive can be checked against (from the fragment or `--sha256`).

The URI as given may carry secrets (`user:password@`, a presigned URL's signature in the
query): messages and the marker use `shown`, which drops both.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from dataclasses import dataclass

from asr_server.model_sources.errors import ExitCode, FetchError

_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class ModelUri:
    text: str
    """The URI without its fragment (may hold secrets: never print it)."""
    scheme: str
    """Lower-case scheme: file, http, https, pvc, hf, s3."""
    authority: str
    """What follows `scheme://` up to the next `/` (a host, claim, organisation, bucket)."""
    path: str
    """The rest, still percent-encoded, with its leading `/`."""
    sha256: str | None = None
    """Expected SHA-256 (lower-case hex) of the downloaded file or archive."""

    @property
    def shown(self) -> str:
        """The URI with any userinfo and query replaced by `***`: safe to print."""
        parts = urllib.parse.urlsplit(self.text)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = "***@" + netloc.rpartition("@")[2]
        query = "***" if parts.query else ""
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))

    @property
    def key(self) -> str:
        """Identity of this fetch (URI and digest), recorded in the marker as a hash so that a
        secret in the URI is never written next to the model."""
        return hashlib.sha256(f"{self.text}#{self.sha256 or ''}".encode()).hexdigest()


def parse_uri(uri: str, sha256: str | None = None) -> ModelUri:
    """Split `uri`; a `#sha256=HEX` fragment and `sha256` must agree when both are given."""
    base, _, fragment = uri.strip().partition("#")
    if fragment.startswith("sha256="):
        from_uri = fragment.removeprefix("sha256=").lower()
        if sha256 and sha256.lower() != from_uri:
            raise FetchError("--sha256 and the URI's #sha256= disagree", ExitCode.USAGE)
        sha256 = from_uri
    elif fragment:
        raise FetchError(f"unsupported URI fragment #{fragment} (only #sha256=HEX)", ExitCode.USAGE)
    if sha256 is not None:
        sha256 = sha256.lower()
        if len(sha256) != 64 or not set(sha256) <= _HEX:
            raise FetchError(f"sha256 must be 64 hex digits; got {sha256!r}", ExitCode.USAGE)
    scheme, separator, _ = base.partition("://")
    if not separator or not scheme:
        raise FetchError("the model URI has no scheme (expected SCHEME://...)", ExitCode.USAGE)
    parts = urllib.parse.urlsplit(base)
    return ModelUri(base, parts.scheme.lower(), parts.netloc, parts.path, sha256)
