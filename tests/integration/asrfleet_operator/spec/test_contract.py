"""The SpeechRecognizer contract (spec/contract.py) end to end: for every field, every allowed
value and both sides of every bound, the CRD schema admits exactly what the operator parses and
renders and the server's config accepts (unchanged); the CRD's defaults are the operator's;
every URI scheme the CRD admits is one `asr-server fetch-model` fetches from a real source, and
every other scheme is refused by all three. The same for the SpeechModel CRD's fields, whose
download Job's command fetches every scheme it admits; fetch-model's exit codes are the ones
the operator reports."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import http.server
import json
import os
import shutil
import ssl
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from asrfleet_operator.render import desired_children
from asrfleet_operator.render.env import MODEL_SOURCE_DIR
from asrfleet_operator.render.speech_model import CACHE_MOUNT, CachedModel, fetch_job
from asrfleet_operator.settings import Settings
from asrfleet_operator.spec import (
    SpecError,
    SpeechModelSpec,
    SpeechRecognizerSpec,
    parse_spec,
    parse_speech_model,
)
from asrfleet_operator.spec import contract as c
from support.hf_hub import Hub, serve_in_thread
from support.model_dirs import MODEL_FILES
from support.s3_server import SETUP_KEY, moto_s3

config = pytest.importorskip("asr_server.config", reason="the inference server package is absent")
model_sources = pytest.importorskip("asr_server.model_sources")
models = pytest.importorskip("asr_server.engines.whisper.catalogue")
fields = pytest.importorskip("asr_server.fields")
errors = pytest.importorskip("asr_server.errors")
protocol = pytest.importorskip("asr_server.streaming.protocol")

REPO = Path(__file__).resolve().parents[4]
CRD = yaml.safe_load((REPO / "crds" / "asrfleet.io_speechrecognizers.yaml").read_text())
SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
CRD_VALIDATOR = jsonschema.Draft4Validator(SCHEMA)
CONFIG_FIELDS = {f.metadata["env"]: f.name for f in dataclasses.fields(config.ServerConfig)}
MODEL_CRD = yaml.safe_load((REPO / "crds" / "asrfleet.io_speechmodels.yaml").read_text())
MODEL_SCHEMA = MODEL_CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
MODEL_CRD_VALIDATOR = jsonschema.Draft4Validator(MODEL_SCHEMA)


@dataclass(frozen=True)
class Case:
    field: c.Field
    value: Any
    allowed: bool

    def __str__(self) -> str:
        return f"{self.field.path}={self.value!r}:{'ok' if self.allowed else 'refused'}"


# Values for the fields whose rule is a pattern or a length: the contract cannot enumerate
# them. A pattern field without samples here fails test_every_field_has_cases.
SAMPLES: dict[str, list[tuple[Any, bool]]] = {
    c.MODEL_URI.path: [
        ("file:///models/whisper", True),
        ("http://models.example/whisper.tgz", True),
        ("https://models.example/whisper.tgz", True),
        ("pvc://models/whisper", True),
        ("https://models.example/" + "a" * (2048 - 23), True),
        ("https://models.example/" + "a" * (2049 - 23), False),
        ("hf://openai/whisper-large-v3", True),
        ("hf://Systran/faster-whisper-large-v3@edaa852", True),
        ("s3://bucket/model.tgz", True),
        ("s3://", False),
        ("ftp://host/model.tgz", False),
        ("https://", False),
    ],
    c.LANGUAGE.path: [("en", True), ("zh", True), ("yue", True), ("EN", False), ("e", False)],
    c.GPU_RESOURCE_NAME.path: [
        ("nvidia.com/gpu", True),
        ("nvidia.com/mig-1g.10gb", True),
        ("gpu", True),
        ("bad name", False),
    ],
    c.GPU_PRODUCT.path: [("NVIDIA-A100-SXM4-40GB", True), ("A" * 63, True), ("A" * 64, False)],
    c.RUNTIME_CLASS_NAME.path: [("nvidia", True), ("a.b-c", True), ("Bad_Name", False)],
    c.PRIORITY_CLASS_NAME.path: [("high", True), ("-high", False)],
    c.PULL_SECRET.path: [("regcred", True), ("reg.cred", True), ("RegCred", False)],
    c.API_KEY_SECRET_NAME.path: [("asr-key", True), ("asr_key", False)],
    c.API_KEY_SECRET_KEY.path: [("token", True), ("api.key_1", True), ("a/b", False)],
    c.SERVICE_MONITOR_INTERVAL.path: [
        ("30s", True),
        ("500ms", True),
        ("1h", True),
        ("30", False),
        ("1d", False),
    ],
    c.SPEECH_MODEL_REF.path: [
        ("whisper-large-v3", True),
        ("a" * 52, True),
        ("a" * 53, False),
        ("Large", False),
        ("3-large", False),
    ],
    c.MODEL_CREDENTIALS_SECRET.path: [("hf-token", True), ("s3.creds", True), ("S3", False)],
    # The SpeechModel's fields.
    c.CACHE_URI.path: [
        ("hf://Systran/faster-whisper-large-v3@edaa852", True),
        ("s3://models/whisper/", True),
        ("https://models.example/whisper.tgz", True),
        ("http://models.example/whisper.tgz", True),
        ("file:///models/whisper", True),
        ("https://models.example/" + "a" * (2048 - 23), True),
        ("https://models.example/" + "a" * (2049 - 23), False),
        ("pvc://models/whisper", False),
        ("ftp://host/whisper.tgz", False),
        ("s3://", False),
    ],
    c.CACHE_CREDENTIALS_SECRET.path: [("hf-token", True), ("Hf", False)],
    c.CACHE_SIZE.path: [("10Gi", True), ("500M", True), ("1.5Gi", True), ("10 Gi", False)],
    c.CACHE_STORAGE_CLASS.path: [("nfs-rwx", True), ("efs.csi", True), ("NFS", False)],
    c.CACHE_EXISTING_CLAIM.path: [("team-models", True), ("team_models", False)],
}
# What a field needs around it so that only the value under test decides (the operator's rules
# across fields: an autoscaling needs maxReplicas, float16 needs a GPU...).
CONTEXT: dict[str, dict[str, Any]] = {
    "spec.autoscaling.": {"autoscaling": {"maxReplicas": 1000}},
    c.COMPUTE_TYPE.path: {"gpu": {"count": 1}},
    c.GPU_PRODUCT.path: {"gpu": {"count": 1}},
    "spec.server.apiKeySecretRef.": {"server": {"apiKeySecretRef": {"name": "k", "key": "v"}}},
    "spec.model.credentialsSecretRef.": {"model": {"uri": "s3://models/whisper"}},
}
REPLACE_THE_NAME = (
    c.MODEL_URI.path,
    "spec.model.speechModelRef.",
    "spec.model.credentialsSecretRef.",
)
"""Fields that name the model another way: the base spec's model.name goes."""


def schema_at(path: str, schema: dict[str, Any] = SCHEMA) -> dict[str, Any]:
    node: dict[str, Any] = schema
    for name in path.split("."):
        node = node["properties"][name.removesuffix("[]")]
        if name.endswith("[]"):
            node = node["items"]
    return node


def cases_of(field: c.Field) -> list[Case]:
    schema = MODEL_SCHEMA if field.kind == c.SPEECH_MODEL else SCHEMA
    kind = schema_at(field.path, schema).get("type")
    pairs: list[tuple[Any, bool]] = list(SAMPLES.get(field.path, []))
    if field.enum:
        pairs += [(value, True) for value in field.enum] + [(f"not-{field.enum[0]}", False)]
    elif kind in ("integer", "number"):
        step = 1 if kind == "integer" else 0.001
        low, high = field.minimum, field.maximum
        if kind == "integer":
            pairs.append(((low or 0) + 0.5, False))  # not an integer
        if low is not None:
            pairs += (
                [(low, False), (low + step, True)]
                if field.exclusive_minimum
                else [(low, True), (low - step, False)]
            )
        if high is not None:
            pairs += [(high, True), (high + step, False)]
    elif kind == "boolean":
        pairs += [(True, True), (False, True), ("yes", False)]
    return [Case(field, value, allowed) for value, allowed in pairs]


CASES = [case for field in c.FIELDS for case in cases_of(field)]
MODEL_CASES = [case for field in c.SPEECH_MODEL_FIELDS for case in cases_of(field)]


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def spec_with(field: c.Field, value: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"model": {"name": "whisper-base"}}
    for prefix, extra in CONTEXT.items():
        if field.path.startswith(prefix):
            spec = merge(spec, extra)
    if field.path.startswith(REPLACE_THE_NAME):
        del spec["model"]["name"]
    return placed(spec, field, value)


def placed(spec: dict[str, Any], field: c.Field, value: Any) -> dict[str, Any]:
    """`spec` with `value` at the field's path."""
    *parents, leaf = field.path.removeprefix("spec.").split(".")
    node = spec
    for name in parents:
        node = node.setdefault(name, {})
    node[leaf.removesuffix("[]")] = [value] if leaf.endswith("[]") else value
    return spec


def model_spec_with(field: c.Field, value: Any) -> dict[str, Any]:
    """A SpeechModel spec, valid but for the value under test."""
    spec: dict[str, Any] = {"uri": "s3://models/whisper/", "storage": {"size": "10Gi"}}
    if field is c.CACHE_EXISTING_CLAIM:
        del spec["storage"]["size"]
    return placed(spec, field, value)


def rendered_env(spec: SpeechRecognizerSpec) -> dict[str, str]:
    children = desired_children("fleet", "speech", spec, Settings(), "sum")
    deployment = next(m for k, m in children.items() if k.kind == "Deployment")
    assert deployment is not None
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    return {e["name"]: e["value"] for e in env if "value" in e}


def test_every_field_has_cases_on_both_sides() -> None:
    for field in c.ALL_FIELDS:
        verdicts = {case.allowed for case in cases_of(field)}
        assert verdicts == {True, False}, f"{field.path}: add values to SAMPLES"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_crd_operator_and_server_agree(case: Case) -> None:
    spec = spec_with(case.field, case.value)
    crd_admits = CRD_VALIDATOR.is_valid({"spec": spec})
    try:
        parsed: SpeechRecognizerSpec | None = parse_spec(spec, name="fleet")
    except SpecError:
        parsed = None
    assert crd_admits == case.allowed, f"the CRD {'refuses' if case.allowed else 'admits'} it"
    assert (parsed is not None) == case.allowed, f"the operator disagrees: {spec}"
    var = case.field.env
    if var is None:
        return
    if parsed is not None:
        env = rendered_env(parsed)
        served = config.ServerConfig.from_env(env)  # the pod starts
        assert getattr(served, CONFIG_FIELDS[var]) == case.value, env.get(var)
    else:
        with pytest.raises(config.ConfigError, match=var):
            config.ServerConfig.from_env({var: str(case.value)})


def request_option(name: str) -> Callable[[object], object]:
    """The routes' parser of option `name` (fields.py, the one table of request options)."""

    def parse(value: object) -> object:
        chosen = fields.parse_options({name: value}, fields.RECOGNIZE, fields.FieldContext())
        return getattr(chosen, name)

    return parse


REQUEST_FIELDS: dict[str, tuple[str, Callable[[object], object]]] = {
    c.BEAM_SIZE.path: ("beam_size", request_option("beam_size")),
}
"""Spec fields that set the server's default for a field each request may set for itself:
the request field's name (HTTP and stream start message) and the routes' parser of it."""


@pytest.mark.parametrize(
    "case", [case for case in CASES if case.field.path in REQUEST_FIELDS], ids=str
)
def test_a_request_may_ask_exactly_what_the_fleet_may_default_to(case: Case) -> None:
    """The HTTP routes (a JSON number, or the text of a query or form field) and the stream's
    start message refuse exactly what the CRD refuses as the fleet's default."""
    name, parse = REQUEST_FIELDS[case.field.path]
    for value in (case.value, str(case.value)):
        try:
            accepted = parse(value) == case.value
        except errors.BadRequest as exc:
            assert name in exc.message
            accepted = False
        assert accepted == case.allowed, f"HTTP {name}={value!r}"
    start = json.dumps({"type": "start", name: case.value})
    try:
        message = protocol.parse_client_text(start)
        stream_accepts = getattr(message.options, name) == case.value
    except protocol.ProtocolError:
        stream_accepts = False
    assert stream_accepts == case.allowed, start


@pytest.mark.parametrize("case", MODEL_CASES, ids=str)
def test_the_speech_model_crd_and_the_operator_agree(case: Case) -> None:
    spec = model_spec_with(case.field, case.value)
    crd_admits = MODEL_CRD_VALIDATOR.is_valid({"spec": spec})
    try:
        parsed: SpeechModelSpec | None = parse_speech_model(spec, name="large-v3")
    except SpecError:
        parsed = None
    assert crd_admits == case.allowed, f"the CRD {'refuses' if case.allowed else 'admits'} it"
    assert (parsed is not None) == case.allowed, f"the operator disagrees: {spec}"


def test_the_speech_model_crd_defaults_are_the_operators() -> None:
    spec = {"uri": "s3://models/whisper/", "storage": {"size": "10Gi"}}
    filled, paths = with_defaults(MODEL_SCHEMA["properties"]["spec"], spec, "spec")
    assert paths == {f.path for f in c.SPEECH_MODEL_FIELDS if f.default is not None}
    assert parse_speech_model(filled, name="m") == parse_speech_model(spec, name="m")


def test_the_crd_defaults_are_the_operators() -> None:
    """The API server fills the schema's defaults in; the operator, reading a spec without
    them (an API server without the CRD's schema), must come to the same spec."""
    spec = {
        "model": {"name": "whisper-base"},
        "autoscaling": {"maxReplicas": 3},
        "gpu": {},
        "service": {},
        "monitoring": {"serviceMonitor": {}},
    }
    filled, paths = with_defaults(SCHEMA["properties"]["spec"], spec, "spec")
    assert paths == {f.path for f in c.FIELDS if f.default is not None}
    assert parse_spec(filled, name="fleet") == parse_spec(spec, name="fleet")


def with_defaults(
    schema: dict[str, Any], obj: dict[str, Any], path: str
) -> tuple[dict[str, Any], set[str]]:
    """`obj` as the API server stores it (defaults filled in where the parent exists), and the
    paths it filled."""
    result, filled = dict(obj), set()
    for key, child in (schema.get("properties") or {}).items():
        if isinstance(result.get(key), dict):
            result[key], below = with_defaults(child, result[key], f"{path}.{key}")
            filled |= below
        elif key not in result and "default" in child:
            result[key] = child["default"]
            filled.add(f"{path}.{key}")
    return result, filled


def test_the_catalogue_models_are_the_servers() -> None:
    served = {entry.name: entry for entry in models.catalogue()}
    assert set(c.MODELS) <= set(served)
    english_only = {name for name, entry in served.items() if tuple(entry.languages) == ("en",)}
    assert set(c.ENGLISH_ONLY_MODELS) == english_only & set(c.MODELS)


# --- URI schemes ----------------------------------------------------------------------------


@pytest.fixture
def model(tmp_path: Path) -> Path:
    directory = tmp_path / "source" / "whisper-custom"
    directory.mkdir(parents=True)
    for name, data in MODEL_FILES.items():
        (directory / name).write_bytes(data)
    return directory


def _served(model: Path, tls: ssl.SSLContext | None) -> Iterator[str]:
    root = model.parent.parent / "www"
    root.mkdir()
    with tarfile.open(root / "whisper-custom.tar.gz", "w:gz") as archive:
        archive.add(model, arcname=model.name)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        scheme = "https" if tls else "http"
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}/whisper-custom.tar.gz"
    finally:
        server.shutdown()
        server.server_close()


def self_signed(directory: Path) -> Path:
    """A certificate for 127.0.0.1 (and its key, beside it), made with the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate for the https source")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert


def _hub(model: Path, work: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A Hugging Face Hub on 127.0.0.1 holding `model` as org/whisper-custom."""
    hub = Hub()
    files = {path.name: path for path in model.iterdir()}
    hub.add_repo("org/whisper-custom", {"main": files}, work=work)
    for served in serve_in_thread(hub.app()):
        yield "hf://org/whisper-custom", {"HF_ENDPOINT": served.url, "HF_HOME": str(work / "hf")}


@contextlib.contextmanager
def _bucket(model: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """moto's S3 server on 127.0.0.1 holding `model` under s3://models/whisper-custom/."""
    with moto_s3() as s3:
        s3.client().create_bucket(Bucket="models")
        s3.upload_dir("models", "whisper-custom/", model)
        key, secret = SETUP_KEY
        yield (
            "s3://models/whisper-custom",
            {
                "AWS_ENDPOINT_URL": s3.url,
                "AWS_ACCESS_KEY_ID": key,
                "AWS_SECRET_ACCESS_KEY": secret,
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONFIG_FILE": "/nonexistent/aws-config",
                "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
            },
        )


@pytest.fixture
def source(model: Path, tmp_path: Path) -> Iterator[Callable[[str], tuple[str, dict[str, str]]]]:
    """source(scheme) -> (a URI of that scheme holding `model`, env fetch-model runs with)."""
    stack: list[Iterator[str]] = []
    sources = contextlib.ExitStack()

    def make(scheme: str) -> tuple[str, dict[str, str]]:
        if scheme == "file":
            return model.as_uri(), {}
        if scheme == "hf":
            return sources.enter_context(contextlib.contextmanager(_hub)(model, tmp_path))
        if scheme == "s3":
            return sources.enter_context(_bucket(model))
        env: dict[str, str] = {}
        tls = None
        if scheme == "https":
            cert = self_signed(tmp_path)
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(cert, cert.with_name("key.pem"))
            env["SSL_CERT_FILE"] = str(cert)  # fetch-model trusts it as a CA
        served = _served(model, tls)
        stack.append(served)
        return next(served), env

    with sources:
        yield make
    for served in stack:
        served.close()


FETCHED_SCHEMES = ("file", "http", "https", "hf", "s3")
MOUNTED_SCHEMES = ("pvc",)


def test_every_admitted_scheme_is_tested_here() -> None:
    """A scheme added to the contract needs a real source in this file (and in fetch-model)."""
    assert set(c.URI_SCHEMES) == {*FETCHED_SCHEMES, *MOUNTED_SCHEMES}


def fetch_model_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The init container's command, `asr-server ...`, as a process."""
    return subprocess.run(
        [sys.executable, "-m", "asr_server", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def init_container(spec: dict[str, Any]) -> dict[str, Any]:
    parsed = parse_spec(spec, name="fleet")
    deployment = desired_children("fleet", "speech", parsed, Settings())
    pod = next(m for k, m in deployment.items() if k.kind == "Deployment")
    assert pod is not None
    [init] = pod["spec"]["template"]["spec"]["initContainers"]
    return dict(init)


@pytest.mark.parametrize("scheme", FETCHED_SCHEMES)
def test_a_fetched_scheme_is_admitted_rendered_and_fetched(
    scheme: str, source: Callable[[str], tuple[str, dict[str, str]]], tmp_path: Path
) -> None:
    uri, env = source(scheme)
    spec = {"model": {"uri": uri}}
    assert CRD_VALIDATOR.is_valid({"spec": spec})
    init = init_container(spec)
    assert init["command"] == ["asr-server"]
    verb, rendered_uri, dest = init["args"]
    local = tmp_path / "models" / Path(dest).name  # the pod's /models, here
    done = fetch_model_cli([verb, rendered_uri, str(local)], env)
    assert done.returncode == 0, done.stderr
    assert (local / "model.bin").read_bytes() == MODEL_FILES["model.bin"]
    served = config.ServerConfig.from_env(rendered_env(parse_spec(spec, name="fleet")))
    assert served.model == dest  # the server loads what the init container wrote


@pytest.mark.parametrize("scheme", FETCHED_SCHEMES)
def test_a_downloaded_scheme_is_admitted_and_fetched_by_a_speech_models_job(
    scheme: str, source: Callable[[str], tuple[str, dict[str, str]]], tmp_path: Path
) -> None:
    uri, env = source(scheme)
    spec = {"uri": uri, "storage": {"size": "1Gi"}}
    assert MODEL_CRD_VALIDATOR.is_valid({"spec": spec})
    job = fetch_job("custom", "speech", parse_speech_model(spec, name="custom"), Settings())
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["asr-server"]
    claim = tmp_path / "claim"  # the claim, mounted at CACHE_MOUNT in the Job's pod
    args = [str(claim) + a.removeprefix(CACHE_MOUNT) if a.startswith(CACHE_MOUNT) else a
            for a in container["args"]]  # fmt: skip
    done = fetch_model_cli(args, env)
    assert done.returncode == 0, done.stderr
    assert (claim / "custom" / "model.bin").read_bytes() == MODEL_FILES["model.bin"]
    user = parse_spec({"model": {"speechModelRef": {"name": "custom"}}}, name="fleet")
    cached = CachedModel(claim="custom", path="custom", revision="r")
    children = desired_children("fleet", "speech", user, Settings(), "", cached)
    deployment = next(m for k, m in children.items() if k.kind == "Deployment")
    assert deployment is not None
    env_list = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    served = config.ServerConfig.from_env({e["name"]: e["value"] for e in env_list if "value" in e})
    assert served.model == container["args"][-1]  # the server loads what the Job wrote


def test_a_speech_model_downloads_what_fetch_model_downloads() -> None:
    """Every scheme but pvc (a claim already: a SpeechRecognizer mounts it)."""
    assert set(c.DOWNLOAD_SCHEMES) == set(FETCHED_SCHEMES)
    assert set(model_sources.SCHEMES) - set(c.DOWNLOAD_SCHEMES) == set(MOUNTED_SCHEMES)


def test_the_exit_codes_the_operator_reports_are_fetch_models() -> None:
    codes = {int(code): code for code in model_sources.errors.ExitCode}
    assert set(c.FETCH_EXIT_REASONS) == set(codes)
    assert set(c.FETCH_PERMANENT_EXIT_CODES) < set(codes)
    assert codes[3].name == "UNAVAILABLE" and 3 not in c.FETCH_PERMANENT_EXIT_CODES, "retried"
    assert codes[5].name == "DENIED" and c.FETCH_EXIT_REASONS[5] == "CredentialsRefused"


def test_a_pvc_model_is_mounted_where_fetch_model_checks_it(model: Path) -> None:
    spec = {"model": {"uri": f"pvc://models/{model.name}"}}
    assert CRD_VALIDATOR.is_valid({"spec": spec})
    parsed = parse_spec(spec, name="fleet")
    served = config.ServerConfig.from_env(rendered_env(parsed))
    assert Path(MODEL_SOURCE_DIR) == model_sources.PVC_MOUNT
    mount = model.parent  # the claim's root, mounted at MODEL_SOURCE_DIR in the pod
    found = model_sources.fetch_model(
        spec["model"]["uri"], mount / "unused", model_sources.FetchSettings(pvc_mount=mount)
    ).path
    assert found == mount / Path(served.model).relative_to(MODEL_SOURCE_DIR)


def test_the_admitted_schemes_are_the_ones_fetch_model_implements() -> None:
    assert set(c.URI_SCHEMES) == set(model_sources.SCHEMES)


@pytest.mark.parametrize("scheme", ["ftp", "gs", "sftp"])
def test_a_scheme_the_contract_lacks_is_refused_by_all_three(scheme: str, tmp_path: Path) -> None:
    if scheme in c.URI_SCHEMES:
        pytest.skip(f"{scheme}:// is in the contract now")
    uri = f"{scheme}://bucket/whisper-custom"
    spec = {"model": {"uri": uri}}
    assert not CRD_VALIDATOR.is_valid({"spec": spec})
    with pytest.raises(SpecError, match=r"spec\.model\.uri"):
        parse_spec(spec, name="fleet")
    done = fetch_model_cli(["fetch-model", uri, str(tmp_path / "dest")], {})
    assert done.returncode == 2, done.stderr
