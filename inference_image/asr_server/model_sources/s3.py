"""`s3://BUCKET/PREFIX[#sha256=HEX]`: a directory of model files or one archive, through boto3.

PREFIX names an object (an archive: downloaded, checked against the digest when one is given,
unpacked) or a directory (`PREFIX/`, or a PREFIX ending in `/`, or none: the bucket's top
level; the engine's files directly in it are downloaded). botocore configures the rest from
the standard variables (settings.py): endpoint, region, credentials, CA bundle; the
addressing style comes from ASR_S3_ADDRESSING_STYLE.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import boto3.exceptions
import botocore.exceptions
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from asr_server.model_sources.archive import unpack
from asr_server.model_sources.base import Download, Fetched
from asr_server.model_sources.checksum import sha256_of, verify_sha256
from asr_server.model_sources.errors import ExitCode, FetchError, over_limit
from asr_server.model_sources.layout import LAYOUTS
from asr_server.model_sources.settings import FetchSettings
from asr_server.model_sources.uri import ModelUri

TRANSFER = TransferConfig(max_concurrency=4)
"""Parallel ranged GETs per large object (s3transfer's multipart download)."""
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "403",
    }
)
"""S3 error codes that mean the credentials are wrong or lack permission."""
MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str
    """'' (the bucket's top level), a prefix ending in '/', or an object key."""
    sha256: str | None

    @property
    def shown(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse(uri: ModelUri) -> S3Location:
    bucket = uri.authority
    if not bucket or "@" in bucket or ":" in bucket:
        raise FetchError(
            f"s3:// URI needs a bucket: s3://BUCKET/PREFIX, not {uri.shown}", ExitCode.USAGE
        )
    return S3Location(bucket, urllib.parse.unquote(uri.path.lstrip("/")), uri.sha256)


def fetch(location: S3Location, work: Path, settings: FetchSettings) -> Fetched:
    ca_bundle = os.environ.get("AWS_CA_BUNDLE")
    if ca_bundle and not Path(ca_bundle).is_file():
        raise FetchError(f"AWS_CA_BUNDLE names no file: {ca_bundle}", ExitCode.USAGE)
    client = boto3.session.Session().client(
        "s3",
        region_name=settings.s3_region,
        config=Config(
            connect_timeout=settings.timeout_s,
            read_timeout=settings.timeout_s,
            retries={"mode": "standard", "max_attempts": 3},
            s3={"addressing_style": settings.s3_addressing_style},
            user_agent_extra="asr-server-fetch-model",
        ),
    )
    try:
        names_a_prefix = not location.key or location.key.endswith("/")
        head = None if names_a_prefix else _head(client, location)
        if head is not None:
            return _fetch_archive(client, location, int(head["ContentLength"]), work, settings)
        return _fetch_directory(client, location, work, settings)
    except FetchError:
        raise
    except Exception as exc:
        error = _s3_error(exc, location, client.meta.endpoint_url, settings)
        if error is None:
            raise  # the local disk (DEST not writable, full): the command reports it
        raise error from None


def _head(client: Any, location: S3Location) -> dict[str, Any] | None:
    """The object's metadata, or None when there is no object of that name."""
    try:
        head: dict[str, Any] = client.head_object(Bucket=location.bucket, Key=location.key)
    except botocore.exceptions.ClientError as exc:
        if _code(exc) in MISSING_CODES:
            return None
        raise
    return head


def _fetch_archive(
    client: Any, location: S3Location, size: int, work: Path, settings: FetchSettings
) -> Fetched:
    if size > settings.max_bytes:
        raise over_limit(location.shown, settings.max_bytes, size)
    download = work / "download"
    client.download_file(location.bucket, location.key, str(download), Config=TRANSFER)
    _check_size(download, size, location.shown)
    verify_sha256(sha256_of(download), location.sha256, location.shown)
    unpack(download, work / "unpacked", max_bytes=settings.max_bytes, what=location.shown)
    return Fetched(work / "unpacked", owned=True)


def _fetch_directory(
    client: Any, location: S3Location, work: Path, settings: FetchSettings
) -> Fetched:
    prefix = location.key if not location.key or location.key.endswith("/") else location.key + "/"
    shown = f"s3://{location.bucket}/{prefix}"
    if location.sha256:
        raise FetchError(
            f"{shown} is a directory: #sha256= applies to a single archive", ExitCode.USAGE
        )
    sizes: dict[str, int] = {}
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=location.bucket, Prefix=prefix, Delimiter="/"
    ):
        for item in page.get("Contents", []):
            sizes[item["Key"][len(prefix) :]] = int(item["Size"])
    if not sizes:
        raise FetchError(f"no object or directory at {location.shown}", ExitCode.UNAVAILABLE)
    wanted = LAYOUTS[settings.engine].plan(sizes, shown, settings.max_bytes)
    directory = work / "s3"
    directory.mkdir()
    for name in wanted:
        target = directory / name
        client.download_file(location.bucket, prefix + name, str(target), Config=TRANSFER)
        _check_size(target, sizes[name], shown + name)
    return Fetched(directory, owned=True)


def _check_size(path: Path, expected: int, shown: str) -> None:
    if path.stat().st_size != expected:
        raise FetchError(
            f"{shown}: downloaded {path.stat().st_size} bytes, expected {expected}",
            ExitCode.INVALID,
        )


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _s3_error(
    exc: BaseException, location: S3Location, endpoint: str, settings: FetchSettings
) -> FetchError | None:
    """One line for what boto3 raised (never a credential); None for a local OSError."""
    if isinstance(exc, boto3.exceptions.RetriesExceededError) and exc.last_exception:
        return _s3_error(exc.last_exception, location, endpoint, settings)
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return FetchError(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
            "AWS_PROFILE, or a web identity role)",
            ExitCode.DENIED,
        )
    if isinstance(exc, botocore.exceptions.PartialCredentialsError):
        missing = exc.kwargs.get("cred_var", "a variable")
        return FetchError(f"incomplete AWS credentials: {missing} is not set", ExitCode.DENIED)
    if isinstance(exc, botocore.exceptions.ClientError):
        code = _code(exc)
        if code in DENIED_CODES:
            return FetchError(
                f"S3 at {endpoint} refused the credentials for {location.shown} ({code})",
                ExitCode.DENIED,
            )
        if code == "NoSuchBucket":
            return FetchError(
                f"bucket {location.bucket!r} does not exist at {endpoint}", ExitCode.UNAVAILABLE
            )
        if code in MISSING_CODES:
            return FetchError(f"no object {location.shown} at {endpoint}", ExitCode.UNAVAILABLE)
        return FetchError(
            f"S3 at {endpoint} answered {code or 'an error'} for {location.shown}",
            ExitCode.UNAVAILABLE,
        )
    if isinstance(exc, botocore.exceptions.SSLError):
        return FetchError(
            f"TLS verification of {endpoint} failed: set AWS_CA_BUNDLE to the CA bundle that "
            "signed its certificate",
            ExitCode.UNAVAILABLE,
        )
    if isinstance(
        exc, botocore.exceptions.ConnectTimeoutError | botocore.exceptions.ReadTimeoutError
    ):
        return FetchError(
            f"timed out after {settings.timeout_s:g} s talking to S3 at {endpoint}",
            ExitCode.UNAVAILABLE,
        )
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return FetchError(f"cannot connect to S3 at {endpoint}", ExitCode.UNAVAILABLE)
    if isinstance(exc, botocore.exceptions.ParamValidationError):
        return FetchError(f"not a valid S3 location: {location.shown}", ExitCode.USAGE)
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return FetchError(f"S3 at {endpoint}: {exc}", ExitCode.UNAVAILABLE)
    if isinstance(exc, OSError):
        return None
    return FetchError(
        f"fetching {location.shown} failed ({type(exc).__name__})", ExitCode.UNAVAILABLE
    )


SOURCE = Download(parse, fetch)
