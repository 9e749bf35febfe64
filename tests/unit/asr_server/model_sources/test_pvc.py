"""pvc://CLAIM/PATH: checked where the claim is mounted; nothing is copied."""

from __future__ import annotations

from pathlib import Path

import pytest
from asr_server.model_sources import ExitCode, FetchError, FetchSettings, fetch_model


def test_a_model_on_the_claim_is_used_in_place(model_dir: Path, tmp_path: Path) -> None:
    settings = FetchSettings(pvc_mount=model_dir.parent)
    result = fetch_model("pvc://models-claim/whisper-custom", tmp_path / "d", settings)
    assert (result.path, result.reused, result.files) == (model_dir, True, 4)
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    ("uri", "code", "message"),
    [
        ("pvc://models-claim/absent", ExitCode.UNAVAILABLE, "no model directory at .*absent"),
        ("pvc://models-claim/whisper-custom", ExitCode.INVALID, r"has no model\.bin"),
        ("pvc:///whisper-custom", ExitCode.USAGE, "needs a claim"),
        ("pvc://models-claim/../etc", ExitCode.USAGE, "inside the claim"),
    ],
)
def test_refusals(uri: str, code: ExitCode, message: str, model_dir: Path, tmp_path: Path) -> None:
    (model_dir / "model.bin").unlink()
    with pytest.raises(FetchError, match=message) as caught:
        fetch_model(uri, tmp_path / "d", FetchSettings(pvc_mount=model_dir.parent))
    assert caught.value.exit_code == code
