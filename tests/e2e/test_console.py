"""The console on a real cluster (the chart's console.enabled): its token from the Secret the
chart created, the fleet scraped from real pods, Try it through the recognizer's Service."""

from __future__ import annotations

import base64
import json
import urllib.request
from typing import Any

import pytest
from support.e2e_cluster import READY_TIMEOUT, apply, get_json, kubectl, recognizer, wait_for
from support.text import word_error_rate

from .conftest import RELEASE, SYSTEM_NAMESPACE
from .test_scenarios import phase, port_forward

pytestmark = pytest.mark.e2e
CONSOLE = f"{RELEASE}-asrfleet-console"


def call(url: str, token: str, body: bytes | None = None) -> Any:
    request = urllib.request.Request(url, data=body, headers={"Authorization": f"Bearer {token}"})
    if body is not None:
        request.add_header("Content-Type", "application/octet-stream")
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read())


def test_console_shows_the_fleet_and_transcribes(namespace: str, jfk_clip: Any) -> None:
    kubectl("-n", SYSTEM_NAMESPACE, "rollout", "status", f"deployment/{CONSOLE}", "--timeout=300s")
    secret = get_json("secret", CONSOLE, SYSTEM_NAMESPACE)
    assert secret is not None
    token = base64.b64decode(secret["data"]["token"]).decode()
    apply(recognizer("english", namespace))
    wait_for(lambda: phase("english", namespace) == "Ready", "phase Ready", READY_TIMEOUT)
    with port_forward(CONSOLE, SYSTEM_NAMESPACE) as url:

        def scraped() -> dict[str, Any] | None:
            rows = call(f"{url}/api/fleet", token)["rows"]
            row = next((r for r in rows if r["summary"]["namespace"] == namespace), None)
            return row if row and (row["load"] or {}).get("servers_scraped") else None

        row = wait_for(scraped, "the console to scrape the pod", 120)
        assert row["summary"]["phase"] == "Ready"
        answer = call(f"{url}/api/recognizers/{namespace}/english/transcribe", token,
                      jfk_clip.path.read_bytes())  # fmt: skip
    assert word_error_rate(jfk_clip.transcript, answer["text"]) <= 0.2, answer
