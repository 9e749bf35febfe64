"""The operator integration tests' user scenarios on a real cluster: create (children owned,
status Ready once real pods are), transcribe through the Service, edit in place, hand edits
undone, optional children come and go, invalid specs refused or reported, delete collected."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from support.e2e_cluster import (
    READY_TIMEOUT,
    apply,
    get_json,
    kubectl,
    kubectl_result,
    recognizer,
    wait_for,
)
from support.text import word_error_rate

pytestmark = pytest.mark.e2e


def phase(name: str, ns: str) -> str | None:
    sr = get_json("speechrecognizer", name, ns)
    return sr.get("status", {}).get("phase") if sr else None


def condition(sr: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in sr["status"]["conditions"] if c["type"] == kind)


def env_of(dep: dict[str, Any]) -> dict[str, str]:
    container = dep["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", "<ref>") for e in container["env"]}


@contextmanager
def port_forward(service: str, ns: str) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        ["kubectl", "port-forward", "-n", ns, f"svc/{service}", f"{port}:80"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for(lambda: _connects(port), f"port-forward to svc/{service}", 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def _connects(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_create_then_ready_and_transcribe(namespace: str, jfk_clip: Any) -> None:
    apply(recognizer("english", namespace))
    dep = wait_for(lambda: get_json("deployment", "english", namespace), "deployment")
    sr = get_json("speechrecognizer", "english", namespace)
    assert sr is not None
    for child in (dep, get_json("service", "english", namespace)):
        assert child is not None
        [ref] = child["metadata"]["ownerReferences"]
        assert ref["controller"] is True and ref["uid"] == sr["metadata"]["uid"]
    wait_for(lambda: phase("english", namespace) == "Ready", "phase Ready", READY_TIMEOUT)
    sr = get_json("speechrecognizer", "english", namespace)
    assert sr is not None and sr["status"]["readyReplicas"] == 1
    assert sr["status"]["url"] == f"http://english.{namespace}.svc.cluster.local"

    from openai import OpenAI

    with port_forward("english", namespace) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="e2e", max_retries=2, timeout=300)
        with jfk_clip.path.open("rb") as audio:
            text = client.audio.transcriptions.create(model="whisper-1", file=audio).text
    assert word_error_rate(jfk_clip.transcript, text) <= 0.2, text


def test_edits_patch_children_in_place(namespace: str) -> None:
    apply(recognizer("english", namespace))
    before = wait_for(lambda: get_json("deployment", "english", namespace), "deployment")
    apply(recognizer("english", namespace, replicas=2, model={"name": "whisper-base"}))

    def patched() -> dict[str, Any] | None:
        d = get_json("deployment", "english", namespace)
        return d if d and env_of(d)["ASR_MODEL"] == "whisper-base" else None

    after = wait_for(patched, "patched deployment")
    assert after["spec"]["replicas"] == 2
    assert after["metadata"]["uid"] == before["metadata"]["uid"], "patched, not re-created"


def test_hand_edits_are_undone(namespace: str) -> None:
    apply(recognizer("english", namespace, replicas=1))
    wait_for(lambda: get_json("deployment", "english", namespace), "deployment")
    kubectl("-n", namespace, "set", "image", "deployment/english", "asr-server=evil/image:1")

    def restored() -> bool:
        d = get_json("deployment", "english", namespace)
        return bool(d) and d["spec"]["template"]["spec"]["containers"][0]["image"] != (  # type: ignore[index]
            "evil/image:1"
        )

    wait_for(restored, "drift correction", 180)


def test_optional_children_come_and_go(namespace: str) -> None:
    apply(
        recognizer(
            "english", namespace, replicas=None,
            autoscaling={"minReplicas": 1, "maxReplicas": 3, "targetCPUUtilizationPercentage": 80},
            podDisruptionBudget={"maxUnavailable": 1},
        )
    )  # fmt: skip
    hpa = wait_for(lambda: get_json("hpa", "english", namespace), "hpa")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "english"
    wait_for(lambda: get_json("pdb", "english", namespace), "pdb")
    apply(recognizer("english", namespace, replicas=1))
    wait_for(lambda: get_json("hpa", "english", namespace) is None, "hpa deleted")
    wait_for(lambda: get_json("pdb", "english", namespace) is None, "pdb deleted")


def test_invalid_specs_are_refused_or_reported(namespace: str) -> None:
    # What the schema can say, the API server refuses (CEL rule in the CRD).
    bad = recognizer("english", namespace, replicas=None,
                     autoscaling={"minReplicas": 5, "maxReplicas": 2})  # fmt: skip
    refused = kubectl_result("apply", "-f", "-", stdin=json.dumps(bad))
    assert refused.returncode != 0 and "minReplicas" in refused.stderr
    # What it cannot, the operator reports without touching what runs.
    apply(recognizer("english", namespace, replicas=1))
    before = wait_for(lambda: get_json("deployment", "english", namespace), "deployment")
    apply(recognizer("english", namespace, replicas=3,
                     model={"name": "whisper-tiny.en", "language": "zh"}))  # fmt: skip
    wait_for(lambda: phase("english", namespace) == "Degraded", "phase Degraded")
    sr = get_json("speechrecognizer", "english", namespace)
    assert sr is not None and condition(sr, "Degraded")["reason"] == "InvalidSpec"
    time.sleep(15)
    after = get_json("deployment", "english", namespace)
    assert after is not None and after["spec"] == before["spec"]


def test_delete_collects_the_children(namespace: str) -> None:
    apply(recognizer("english", namespace))
    wait_for(lambda: get_json("deployment", "english", namespace), "deployment")
    kubectl("-n", namespace, "delete", "speechrecognizer", "english", "--wait=true")
    wait_for(lambda: get_json("deployment", "english", namespace) is None, "deployment gone")
    wait_for(lambda: get_json("service", "english", namespace) is None, "service gone")
