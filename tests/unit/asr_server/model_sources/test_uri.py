"""Model URIs: the digest fragment, what is shown in messages, the marker's key."""

from __future__ import annotations

import pytest
from asr_server.model_sources.errors import ExitCode, FetchError
from asr_server.model_sources.uri import parse_uri


def test_parts_and_digest() -> None:
    uri = parse_uri("HTTPS://host:8443/a/m.tgz#sha256=" + "A" * 64)
    assert (uri.scheme, uri.authority, uri.path) == ("https", "host:8443", "/a/m.tgz")
    assert uri.text == "HTTPS://host:8443/a/m.tgz"
    assert uri.sha256 == "a" * 64


def test_digest_from_the_flag_must_agree_with_the_fragment() -> None:
    assert parse_uri("s3://b/m.tgz", "B" * 64).sha256 == "b" * 64
    with pytest.raises(FetchError, match="disagree") as caught:
        parse_uri("http://h/m#sha256=" + "a" * 64, "b" * 64)
    assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("http://x/m.tgz#md5=abc", "unsupported URI fragment"),
        ("http://x/m.tgz#sha256=xyz", "64 hex digits"),
        ("/models/whisper", "no scheme"),
    ],
)
def test_bad_uris_exit_2(uri: str, message: str) -> None:
    with pytest.raises(FetchError, match=message) as caught:
        parse_uri(uri)
    assert caught.value.exit_code == ExitCode.USAGE


def test_shown_drops_userinfo_and_query() -> None:
    uri = parse_uri("https://user:s3cret@host/m.tgz?X-Amz-Signature=abc123&X-Amz-Credential=k")
    assert uri.shown == "https://***@host/m.tgz?***"
    assert "s3cret" not in uri.shown and "abc123" not in uri.shown
    assert parse_uri("hf://org/repo@v1/ct2").shown == "hf://org/repo@v1/ct2"


def test_key_identifies_uri_and_digest_without_revealing_them() -> None:
    plain = parse_uri("https://user:s3cret@host/m.tgz")
    checked = parse_uri("https://user:s3cret@host/m.tgz", "a" * 64)
    assert plain.key != checked.key
    assert plain.key == parse_uri("https://user:s3cret@host/m.tgz").key
    assert "s3cret" not in plain.key and len(plain.key) == 64
