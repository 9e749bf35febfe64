"""scripts/images/image_test.py where podman cannot run: it says why, exits 1, builds nothing
(`make image-test` itself runs it for real in CI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[4] / "scripts" / "images" / "image_test.py"


def test_without_podman_it_says_so_and_fails(tmp_path: Path) -> None:
    work, out = tmp_path / "podman", tmp_path / "images"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--server-image", "s:1", "--operator-image", "o:1",
         "--work", str(work), "--out", str(out)],
        env={"PATH": str(tmp_path)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "image-test: cannot build or run the images here" in result.stderr
    assert "podman" in result.stderr and "apt-get install podman" in result.stderr
    assert not work.exists() and not out.exists(), "it wrote podman state before failing"
