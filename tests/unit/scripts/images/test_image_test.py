"""scripts/images/image_test.py where podman cannot run: it says why, exits 1, builds nothing
(`make image-test` itself runs it for real in CI); the chart values it installs the chart with
name the images it built, the PyTorch build by the chart's own default where it can."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from demo_support import StepFailed
from smoke import image_values

SCRIPT = Path(__file__).resolve().parents[4] / "scripts" / "images" / "image_test.py"


def test_without_podman_it_says_so_and_fails(tmp_path: Path) -> None:
    work, out = tmp_path / "podman", tmp_path / "images"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--server-image", "s:1", "--operator-image", "o:1",
         "--torch-server-image", "s:1-torch",
         "--work", str(work), "--out", str(out)],
        env={"PATH": str(tmp_path)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "image-test: cannot build or run the images here" in result.stderr
    assert "podman" in result.stderr and "apt-get install podman" in result.stderr
    assert not work.exists() and not out.exists(), "it wrote podman state before failing"


IMAGES = {"operator": "reg.example/asrfleet/operator:0.2.0",
          "server": "reg.example/asrfleet/asr-server:0.2.0"}  # fmt: skip


def test_the_torch_build_named_as_the_chart_names_it_sets_no_torch_tag() -> None:
    values = image_values({**IMAGES, "server-torch": "reg.example/asrfleet/asr-server:0.2.0-torch"})
    assert values == {
        "image.repository": "reg.example/asrfleet/operator",
        "image.tag": "0.2.0",
        "inference.image.repository": "reg.example/asrfleet/asr-server",
        "inference.image.tag": "0.2.0",
    }


def test_another_torch_tag_is_set_and_another_repository_refused() -> None:
    values = image_values({**IMAGES, "server-torch": "reg.example/asrfleet/asr-server:pt"})
    assert values["inference.image.torchTag"] == "pt"
    with pytest.raises(StepFailed, match="server's repository"):
        image_values({**IMAGES, "server-torch": "elsewhere/asr-server:0.2.0-torch"})
