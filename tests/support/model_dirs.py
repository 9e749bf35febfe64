"""Stand-in model directories for the model-source tests that need no real model: the files a
CTranslate2 Whisper model consists of, one that is not part of it, archives of them."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

MODEL_FILES = {
    "model.bin": b"\x00ct2" * 1000,
    "config.json": b"{}",
    "tokenizer.json": b'{"model": {}}',
    "vocabulary.txt": b"a\nb\n",
}
"""What a fetch must deliver."""
EXTRA_FILES = {"README.md": b"not part of the model"}
"""Present at the source, never delivered."""


def write_model(directory: Path) -> Path:
    """The model files and the extra one, in a new `directory`."""
    directory.mkdir(parents=True)
    for name, data in {**MODEL_FILES, **EXTRA_FILES}.items():
        (directory / name).write_bytes(data)
    return directory


def tar_bytes(files: dict[str, bytes], mode: str = "w") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def zip_bytes(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def assert_model(dest: Path) -> None:
    """DEST holds exactly the model files and the marker, and no temp dir is left beside it."""
    assert sorted(p.name for p in dest.iterdir()) == sorted([*MODEL_FILES, ".fetched-from"])
    for name, data in MODEL_FILES.items():
        assert (dest / name).read_bytes() == data
    leftovers = [p.name for p in dest.parent.iterdir() if ".fetch-" in p.name]
    assert not leftovers, f"work dirs left beside DEST: {leftovers}"
