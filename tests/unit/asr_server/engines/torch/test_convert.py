"""The conversion's stamps hash a model file once per process, and again once it changes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from asr_server.engines.torch import convert


def test_a_file_is_hashed_once_while_it_stays_and_again_when_it_changes(tmp_path: Path) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(b"a" * 1000)
    before = convert._sha256.cache_info()
    assert convert.sha256(model) == hashlib.sha256(b"a" * 1000).hexdigest()
    assert convert.sha256(model) == hashlib.sha256(b"a" * 1000).hexdigest()
    after = convert._sha256.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)

    stat = model.stat()
    model.write_bytes(b"b" * 1000)  # same size, new weights: an upgrade in place
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert convert.sha256(model) == hashlib.sha256(b"b" * 1000).hexdigest()
