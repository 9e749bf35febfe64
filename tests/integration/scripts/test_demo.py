"""`make demo` end to end (~20 s): emulator, operator, kubectl apply, the server run from the
rendered Deployment, jfk.flac transcribed and streamed, the console started against them; and a
failing step named with exit code 1."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Clip
from support.text import word_error_rate

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "scripts" / "demo.py"


def run_demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DEMO), "--state-dir", str(tmp_path / "state"), *args],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip


@pytest.mark.model
def test_demo_transcribes_jfk_and_exits_0(tmp_path: Path, jfk_clip: Clip) -> None:
    result = run_demo(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert re.search(r"Deployment\s+english\s+replicas=2", out), "reconciled objects table"
    assert "command:\n    - asr-server" in out and "- serve" in out, "the container spec"
    assert "ASR_MODEL_DIR: /models ->" in out, "the override is announced"
    transcript = re.search(r"transcript: (.+)", out)
    assert transcript is not None
    assert word_error_rate(jfk_clip.transcript, transcript.group(1)) <= 0.15
    assert 'asr_requests_total{code="200",route="/v1/audio/transcriptions"} 1' in out
    streamed = re.findall(r"stream: \[[ \d.]+-[ \d.]+\] (.+)", out)
    assert len(streamed) >= 2, "a final per utterance from the WebSocket step"
    assert word_error_rate(jfk_clip.transcript, " ".join(streamed)) <= 0.15
    assert "annotate speechrecognizer english console.asrfleet.io/url=http://127.0.0.1:" in out
    assert re.search(r"default/english: Pending \(WaitingForPods\), 0/2 ready, queue 0", out)
    assert re.search(r"console: http://127\.0\.0\.1:\d+/\n    token:   \S{20,}", out)
    assert "stopping console" in out
    assert "demo: done" in out
    for log in ("emulator.log", "operator.log", "server.log", "console.log"):
        assert (tmp_path / "state" / log).exists()


def test_a_failing_step_is_named_and_everything_stops(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: asrfleet.io/v1alpha1\nkind: NoSuchKind\nmetadata: {name: x}\n")
    result = run_demo(tmp_path, "--example", str(broken))
    assert result.returncode == 1
    assert "demo: FAILED at step 3 (kubectl apply crds/ and broken.yaml)" in result.stderr
    assert "NoSuchKind" in result.stderr
    assert "stopping operator" in result.stdout and "stopping kube emulator" in result.stdout
