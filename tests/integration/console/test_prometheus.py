"""The console with ASRFLEET_CONSOLE_PROMETHEUS_URL: the fleet's load from a real Prometheus
(Debian's) scraping the test's asr-server with the labels a ServiceMonitor gives."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from support.console_stack import TOKEN, Processes, Stack, free_port, http, start_console

pytestmark = pytest.mark.model
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def prometheus_console(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    directory = tmp_path_factory.mktemp("prometheus")
    target = stack.server.removeprefix("http://")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{
            "job_name": "english",
            "static_configs": [{"targets": [target],
                                "labels": {"namespace": "default", "service": "english"}}],
        }],
    }  # fmt: skip
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    processes = Processes(directory)
    try:
        port = free_port()
        prometheus = processes.start("prometheus", [
            binary, f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
        ])  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        processes.wait_http(prometheus, f"{url}/-/ready", timeout=60)
        yield start_console(
            processes, stack.kubeconfig, "console-prometheus",
            ASRFLEET_CONSOLE_PROMETHEUS_URL=url, ASRFLEET_CONSOLE_PROMETHEUS_WINDOW="15s",
        )  # fmt: skip
    finally:
        processes.stop_all()


def english(console: str) -> dict[str, Any]:
    _, fleet = http("GET", f"{console}/api/fleet", headers=BEARER)
    [row] = [r for r in fleet["rows"] if r["summary"]["name"] == "english"]
    return dict(row)


def test_the_load_comes_from_prometheus(
    prometheus_console: str, stack: Stack, jfk_clip: Any
) -> None:
    audio = jfk_clip.path.read_bytes()
    deadline = time.monotonic() + 90
    row = english(prometheus_console)
    while time.monotonic() < deadline:
        status, _ = http("POST", f"{stack.server}/v1/recognize", audio,
                         content_type="application/octet-stream")  # fmt: skip
        assert status == 200
        row = english(prometheus_console)
        load = row["load"] or {}
        if (load.get("requests_per_second") or 0) > 0 and load.get("servers_scraped") == 1:
            break
        time.sleep(1)
    load = row["load"]
    assert load["requests_per_second"] > 0, row
    assert load["realtime_factor_p50"] is not None and 0 < load["realtime_factor_p50"] < 1
    assert load["latency_p50_seconds"] is not None
    # Recognizers Prometheus knows nothing of are listed with no figures, not dropped.
    _, fleet = http("GET", f"{prometheus_console}/api/fleet", headers=BEARER)
    broken = next(r for r in fleet["rows"] if r["summary"]["name"] == "broken")
    assert broken["load"]["servers_scraped"] == 0 and broken["load"]["requests_per_second"] is None
    assert fleet["error"] is None
