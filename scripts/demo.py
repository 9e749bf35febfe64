"""`make demo`: asrfleet end to end on one machine, no cluster needed.

Starts a Kubernetes API emulator (kmock) on 127.0.0.1, runs the operator against it, applies
crds/ and examples/cpu-english.yaml with kubectl, shows what the operator reconciled, then
runs the inference server exactly as the rendered Deployment's container would (its command,
args and env), transcribes ../shared/audio/jfk.flac (or espeak-ng speech) through the
OpenAI-compatible API, streams it over the WebSocket (`asr-server stream`: a final per
utterance) and prints the transcript, the finals and the metrics. Last it points the
SpeechRecognizer at that local server (the `console.asrfleet.io/url` annotation: the emulator
runs no pods) and starts the management console against the emulator, printing its URL and
token; `--keep-running` keeps everything up until Ctrl-C so the console can be used. Everything
it started is stopped on exit, also on Ctrl-C; a failure names the step and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import yaml
from demo_support import (
    Child,
    Children,
    StepFailed,
    Steps,
    fail,
    free_port,
    http_get,
    kubectl,
    kubectl_json,
    parse_metrics,
    port_is_free,
    wait_until,
)

REPO = Path(__file__).resolve().parents[1]
STATE = REPO / ".demo"
MODEL_CACHE = REPO / ".cache" / "models"
EXAMPLE = REPO / "examples" / "cpu-english.yaml"
JFK = REPO.parent / "shared" / "audio" / "jfk.flac"
ESPEAK_TEXT = "And so my fellow Americans, ask not what your country can do for you."
URL_ANNOTATION = "console.asrfleet.io/url"
CHILD_KINDS = ["deployment", "service", "horizontalpodautoscaler", "poddisruptionbudget"]


def start_emulator(children: Children, state: Path) -> tuple[Child, Path]:
    kubeconfig = state / "kubeconfig"
    kubeconfig.unlink(missing_ok=True)
    argv = [sys.executable, str(REPO / "scripts" / "kube_emulator.py"),
            "--kubeconfig", str(kubeconfig), "--crds", str(REPO / "crds")]  # fmt: skip
    child = children.start("kube emulator", argv, state / "emulator.log")
    wait_until("the emulator's kubeconfig", kubeconfig.exists, 60, alive=child)
    server = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    print(f"    Kubernetes API emulator on {server}; KUBECONFIG={kubeconfig}")
    return child, kubeconfig


def start_operator(children: Children, kubeconfig: Path, state: Path) -> Child:
    port = free_port()
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "ASRFLEET_HEALTH_PORT": str(port),
           "ASRFLEET_LOG_FORMAT": "text", "ASRFLEET_RESYNC_SECONDS": "30"}  # fmt: skip
    argv = [sys.executable, "-m", "asrfleet_operator"]
    child = children.start("operator", argv, state / "operator.log", env)
    health = f"http://127.0.0.1:{port}/healthz"
    wait_until(f"the operator's {health}", lambda: http_get(health)[0] == 200, 90, alive=child)
    print(f"    operator running: {' '.join(argv[1:])} (health {health}, log {child.log})")
    return child


def apply(kubeconfig: Path, path: Path) -> None:
    result = kubectl(kubeconfig, "apply", "--validate=false", "-f", str(path))
    for line in result.stdout.splitlines():
        print(f"    {line}")


def wait_for_deployment(kubeconfig: Path, name: str, ns: str, operator: Child) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def rendered() -> bool:
        found["deployment"] = kubectl_json(kubeconfig, "deployment", name, ns)
        return found["deployment"] is not None

    wait_until(f"the operator to create deployment {ns}/{name}", rendered, 90, alive=operator)
    return dict(found["deployment"])


def print_objects(kubeconfig: Path, name: str, ns: str) -> None:
    rows = [("KIND", "NAME", "DETAIL")]
    recognizer = kubectl_json(kubeconfig, "speechrecognizer", name, ns) or {}
    status = recognizer.get("status", {})
    rows.append(("SpeechRecognizer", name, f"phase={status.get('phase', '-')} "
                 f"url={status.get('url', '-')}"))  # fmt: skip
    for kind in CHILD_KINDS:
        obj = kubectl_json(kubeconfig, kind, name, ns)
        if obj is None:
            continue
        spec = obj.get("spec", {})
        owner = ",".join(o["kind"] for o in obj["metadata"].get("ownerReferences", []))
        detail = {
            "deployment": lambda s: (
                f"replicas={s.get('replicas')} "
                f"image={s['template']['spec']['containers'][0]['image']}"
            ),
            "service": lambda s: (
                f"type={s.get('type', 'ClusterIP')} ports="
                + ",".join(f"{p['port']}->{p.get('targetPort')}" for p in s.get("ports", []))
            ),
            "horizontalpodautoscaler": lambda s: (
                f"{s.get('minReplicas')}..{s.get('maxReplicas')}"
                f" on {','.join(m.get('type', '?') for m in s.get('metrics', []))}"
            ),
            "poddisruptionbudget": lambda s: " ".join(
                f"{k}={s[k]}" for k in ("minAvailable", "maxUnavailable") if k in s
            ),
        }[kind](spec)
        rows.append((obj["kind"], name, f"{detail} owner={owner or '-'}"))
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    for kind, obj_name, detail in rows:
        print(f"    {kind:<{widths[0]}}  {obj_name:<{widths[1]}}  {detail}")
    print("    (the emulator runs no controllers: no pods start, so replicas stay unready)")


def print_container(container: dict[str, Any]) -> None:
    keys = ("image", "command", "args", "env", "ports", "resources")
    shown: dict[str, Any] = {k: container[k] for k in keys if k in container}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        if probe in container:
            shown[probe] = container[probe].get("httpGet", container[probe])
    for line in yaml.safe_dump(shown, sort_keys=False).splitlines():
        print(f"    {line}")


def server_process(container: dict[str, Any]) -> tuple[list[str], dict[str, str], int]:
    """The container's command, args and env, with only the paths that cannot exist here
    (and a busy port) overridden; the executable comes from this venv."""
    command = [*container.get("command", []), *container.get("args", [])]
    if not command:
        raise StepFailed("the Deployment's container has no command")
    executable = shutil.which(command[0], path=str(Path(sys.executable).parent))
    if executable is None:
        raise StepFailed(f"{command[0]} is not installed in {Path(sys.executable).parent}")
    env = {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}
    skipped = [e["name"] for e in container.get("env", []) if "value" not in e]
    overrides = {"ASR_MODEL_DIR": str(MODEL_CACHE), "ASR_HOST": "127.0.0.1"}
    port = int(env.get("ASR_PORT", "8080"))
    if not port_is_free(port):
        overrides["ASR_PORT"] = str(free_port())
    for key, value in overrides.items():
        why = "busy here" if key == "ASR_PORT" else "local path" if key.endswith("DIR") else "local"
        print(f"    override {key}: {env.get(key, '(unset)')} -> {value} ({why})")
    for key in skipped:
        print(f"    skip {key}: comes from a Secret (valueFrom) in the cluster")
    env.update(overrides)
    return [executable, *command[1:]], {**os.environ, **env}, int(env.get("ASR_PORT", port))


def speech_file(state: Path) -> Path:
    if JFK.exists():
        return JFK
    if shutil.which("espeak-ng") is None:
        raise StepFailed(f"{JFK} is absent and espeak-ng is not installed to generate speech")
    generated = state / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(generated), ESPEAK_TEXT], check=True)
    print(f"    {JFK} is absent: generated {generated} with espeak-ng")
    return generated


def transcribe(base_url: str, audio: Path) -> str:
    from openai import OpenAI

    client = OpenAI(base_url=f"{base_url}/v1", api_key="demo", max_retries=0, timeout=300)
    started = time.monotonic()
    with audio.open("rb") as fh:
        result = client.audio.transcriptions.create(model="whisper-1", file=fh)
    print(f"    POST {base_url}/v1/audio/transcriptions ({audio.name}) "
          f"answered in {time.monotonic() - started:.2f} s")  # fmt: skip
    return str(result.text)


def stream(base_url: str, audio: Path) -> list[str]:
    """`asr-server stream` (the CLI client) against GET /v1/stream; its final lines."""
    url = base_url.replace("http://", "ws://") + "/v1/stream"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "asr_server", "stream", str(audio), "--url", url, "--no-partials"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        raise StepFailed(f"asr-server stream exited {done.returncode}: {done.stderr.strip()}")
    print(f"    asr-server stream {audio.name} --url {url} "
          f"({time.monotonic() - started:.2f} s, sent as fast as the server reads it)")  # fmt: skip
    return done.stdout.splitlines()


def print_metrics(base_url: str) -> None:
    status, body = http_get(f"{base_url}/metrics")
    if status != 200:
        raise StepFailed(f"GET /metrics answered {status}")
    samples = parse_metrics(body)
    for name, value in samples.items():
        if value and "_bucket" not in name and "_created" not in name:
            print(f"    {name} {value:g}")


def run(
    steps: Steps, children: Children, example_path: Path, state: Path, keep_running: bool = False
) -> None:
    state.mkdir(parents=True, exist_ok=True)
    with steps.step("start a Kubernetes API emulator (kmock) on 127.0.0.1"):
        _, kubeconfig = start_emulator(children, state)
    with steps.step("run the operator against it (python -m asrfleet_operator)"):
        operator = start_operator(children, kubeconfig, state)
    with steps.step(f"kubectl apply crds/ and {example_path.name}"):
        example = yaml.safe_load(example_path.read_text(encoding="utf-8"))
        name = example["metadata"]["name"]
        ns = example["metadata"].get("namespace", "default")
        apply(kubeconfig, REPO / "crds")
        apply(kubeconfig, example_path)
    with steps.step(f"wait for the operator to reconcile {ns}/{name}"):
        deployment = wait_for_deployment(kubeconfig, name, ns, operator)
        time.sleep(2)  # the status and the other children follow the Deployment
        print_objects(kubeconfig, name, ns)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    with steps.step("the Deployment's inference container"):
        print_container(container)
    with steps.step("run the inference server as that container would"):
        argv, env, port = server_process(container)
        print(f"    {' '.join(argv)}")
        server = children.start("inference server", argv, state / "server.log", env)
    base_url = f"http://127.0.0.1:{port}"
    with steps.step(f"wait for {base_url}/readyz (loads the model)"):
        ready = lambda: http_get(f"{base_url}/readyz")[0] == 200  # noqa: E731
        wait_until("/readyz to answer 200", ready, 300, alive=server)
        print("    ready")
    with steps.step("transcribe speech through the OpenAI-compatible API"):
        text = transcribe(base_url, speech_file(state))
        print(f"\n    transcript: {text.strip()}\n")
        if not text.strip():
            raise StepFailed("the transcript is empty")
    with steps.step("stream it over the WebSocket: a final per utterance (GET /v1/stream)"):
        finals = stream(base_url, speech_file(state))
        for line in finals:
            print(f"    stream: {line}")
        if not finals:
            raise StepFailed("the stream gave no final")
    with steps.step("the metrics (GET /metrics)"):
        print_metrics(base_url)
    with steps.step(f"point {ns}/{name} at the local server ({URL_ANNOTATION})"):
        kubectl(kubeconfig, "annotate", "--overwrite", "-n", ns, "speechrecognizer", name,
                f"{URL_ANNOTATION}={base_url}")  # fmt: skip
        print(f"    kubectl annotate speechrecognizer {name} {URL_ANNOTATION}={base_url}")
    with steps.step("start the management console (python -m asrfleet_operator.console)"):
        console_url, token = start_console(children, kubeconfig, state)
        print_console_fleet(console_url, token)
        print(f"\n    console: {console_url}/\n    token:   {token}\n"
              f"    (or open {console_url}/#token={token} to log in at once)")  # fmt: skip
    if keep_running:
        print("\ndemo: everything keeps running; press Ctrl-C to stop it", flush=True)
        while True:
            time.sleep(3600)


def start_console(children: Children, kubeconfig: Path, state: Path) -> tuple[str, str]:
    """`python -m asrfleet_operator.console` against the emulator, with a fresh token."""
    port, token = free_port(), secrets.token_urlsafe(24)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "ASRFLEET_CONSOLE_TOKEN": token,
           "ASRFLEET_CONSOLE_ALLOW_URL_OVERRIDE": "true"}  # fmt: skip
    argv = [sys.executable, "-m", "asrfleet_operator.console", "--host", "127.0.0.1",
            "--port", str(port)]  # fmt: skip
    child = children.start("console", argv, state / "console.log", env)
    url = f"http://127.0.0.1:{port}"
    wait_until(f"the console's {url}/healthz", lambda: http_get(f"{url}/healthz")[0] == 200,
               60, alive=child)  # fmt: skip
    print(f"    {' '.join(argv[1:])} (log {child.log})")
    return url, token


def print_console_fleet(url: str, token: str) -> None:
    """The console's own view of the fleet (GET /api/fleet with the token), once the first
    round has scraped the local server."""
    rows: list[dict[str, Any]] = []

    def scraped() -> bool:
        status, body = http_get(f"{url}/api/fleet", headers={"Authorization": f"Bearer {token}"})
        rows[:] = json.loads(body)["rows"] if status == 200 else []
        return any((row.get("load") or {}).get("servers_scraped") for row in rows)

    wait_until("the console to scrape the local server", scraped, 60)
    for row in rows:
        s, load = row["summary"], row["load"] or {}
        queue, streams = load.get("queue_depth", 0), load.get("active_streams", 0)
        print(f"    {s['namespace']}/{s['name']}: {s['phase']} ({s['reason']}),"
              f" {s['ready_replicas']}/{s['desired_replicas']} ready, queue {queue:g},"
              f" streams {streams:g} (scraped from the local server)")  # fmt: skip


def _raise_interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", type=Path, default=EXAMPLE, help="SpeechRecognizer to apply")
    parser.add_argument("--state-dir", type=Path, default=STATE, help="logs and kubeconfig")
    keep = "keep the emulator, operator, server and console up until Ctrl-C"
    parser.add_argument("--keep-running", action="store_true", help=keep)
    args = parser.parse_args(argv)
    for sig in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored
        signal.signal(sig, _raise_interrupt)
    steps, children = Steps(), Children()
    try:
        run(steps, children, args.example, args.state_dir, args.keep_running)
    except KeyboardInterrupt:
        print(f"\ndemo: interrupted during {steps.current}; shutting down", flush=True)
        return 130
    except StepFailed as exc:
        return fail(steps, str(exc))
    except Exception as exc:  # any other surprise still names the step and cleans up
        return fail(steps, f"{type(exc).__name__}: {exc}")
    finally:
        with steps.step("shut everything down"):
            children.stop_all()
    print("\ndemo: done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
