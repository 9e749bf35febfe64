"""DEST complete or absent: atomic replacement, the marker, re-runs, stale work, two fetchers.
Driven through fetch_model with file:// sources, the simplest real source."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from asr_server.model_sources import ExitCode, FetchError, fetch_model
from asr_server.model_sources.install import MARKER
from support.model_dirs import MODEL_FILES, assert_model, write_model


def test_a_rerun_of_the_same_uri_is_a_no_op(model_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "models" / "m"
    fetch_model(model_dir.as_uri(), dest)
    (model_dir / "model.bin").unlink()  # a second run must not need the source
    again = fetch_model(model_dir.as_uri(), dest)
    assert again.reused and again.files == len(MODEL_FILES)
    assert_model(dest)


def test_the_marker_records_the_fetch(model_dir: Path, tmp_path: Path) -> None:
    fetch_model(model_dir.as_uri(), tmp_path / "m")
    record = json.loads((tmp_path / "m" / MARKER).read_text())
    assert (record["source"], record["engine"]) == (model_dir.as_uri(), "faster-whisper")
    assert record["files"] == {name: len(data) for name, data in MODEL_FILES.items()}
    assert len(record["key"]) == 64 and record["revision"] is None


def test_another_uri_replaces_dest_whole(model_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "m"
    fetch_model(model_dir.as_uri(), dest)
    (dest / "stray").write_bytes(b"left by hand")
    other = write_model(tmp_path / "other")
    (other / "model.bin").write_bytes(b"new weights")
    assert not fetch_model(other.as_uri(), dest).reused
    assert (dest / "model.bin").read_bytes() == b"new weights"
    assert not (dest / "stray").exists()


def test_a_damaged_dest_is_fetched_again(model_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "m"
    fetch_model(model_dir.as_uri(), dest)
    (dest / "model.bin").write_bytes(b"trunc")  # e.g. a disk that lost the tail
    assert not fetch_model(model_dir.as_uri(), dest).reused
    assert_model(dest)


def test_a_failed_fetch_keeps_the_previous_model(model_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "models" / "m"
    fetch_model(model_dir.as_uri(), dest)
    broken = write_model(tmp_path / "broken")
    (broken / "config.json").unlink()
    with pytest.raises(FetchError, match=r"has no config\.json"):
        fetch_model(broken.as_uri(), dest)
    assert_model(dest)
    assert json.loads((dest / MARKER).read_text())["source"] == model_dir.as_uri()


def test_a_failed_first_fetch_leaves_no_dest(tmp_path: Path) -> None:
    with pytest.raises(FetchError):
        fetch_model((tmp_path / "absent").as_uri(), tmp_path / "models" / "m")
    assert [p.name for p in (tmp_path / "models").iterdir()] == [".m.lock"]


def test_work_left_by_a_killed_fetch_is_removed(model_dir: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    stale = models / ".m.fetch-abc123" / "model"
    stale.mkdir(parents=True)
    (stale / "model.bin").write_bytes(b"half a download")
    fetch_model(model_dir.as_uri(), models / "m")
    assert_model(models / "m")


def test_two_fetchers_of_one_dest_take_turns(model_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "m"
    results = []

    def fetch() -> None:
        results.append(fetch_model(model_dir.as_uri(), dest))

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.reused for r in results) == [False, True]
    assert_model(dest)


def test_an_unsupported_scheme_exits_2(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"unsupported model URI scheme ftp://") as caught:
        fetch_model("ftp://host/model.tgz", tmp_path / "d")
    assert caught.value.exit_code == ExitCode.USAGE
    assert not tmp_path.joinpath("d").exists()
