"""The SpeechRecognizer contract: every allowed value, bound, pattern and default that the CRD
schema, the operator's spec parse and the inference server's settings must agree on.

This module is the one source (docs/architecture.md, "The SpeechRecognizer contract"). `make
contract` (scripts/gen_contract.py) writes each `Field`'s constraints into the CRD schema
(crds/ and the chart's copy) and copies this module into the server package as
`asr_server/contract.py`; a test fails when either is stale, and the contract test checks every
field end to end (CRD admission, operator parse and render, server config, `fetch-model`).
Plain data and the standard library only: two packages that ship in different images import it.

The SpeechModel CRD (a model cache) has fields here too (`kind=SPEECH_MODEL`), as do the
names the fetching container and the operator share: the credentials Secret's keys and what
fetch-model's exit codes mean.

To admit a value (a model, a URI scheme, a compute type), add it here and run `make contract`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

Scalar = str | int | float | bool
SPEECH_RECOGNIZER = "SpeechRecognizer"
SPEECH_MODEL = "SpeechModel"


@dataclass(frozen=True)
class Field:
    """The constraints of one spec field, in the CRD schema's OpenAPI terms."""

    path: str
    """Dotted path from the object's root, e.g. `spec.model.computeType`; `[]` marks the items
    of a list (`spec.image.pullSecrets[]`)."""
    enum: tuple[str, ...] = ()
    minimum: int | float | None = None
    exclusive_minimum: bool = False
    maximum: int | float | None = None
    pattern: str | None = None
    max_length: int | None = None
    default: Scalar | None = None
    """What the API server fills in when the field is unset (and the operator's parse too)."""
    env: str | None = None
    """The inference server's variable this field is rendered as, value unchanged."""
    description: str | None = None
    """Set only where the CRD's description lists contract values, so it is written from them."""
    kind: str = SPEECH_RECOGNIZER
    """The custom resource whose schema holds the field (SpeechRecognizer or SpeechModel)."""

    @cached_property
    def key(self) -> str:
        """The field's name in its parent object."""
        return self.path.rsplit(".", 1)[-1].removesuffix("[]")

    @cached_property
    def _regex(self) -> re.Pattern[str] | None:
        return None if self.pattern is None else re.compile(self.pattern)

    def bounds(self) -> str:
        """The allowed range, as in `must be 100-5000`, `> 0`, `>= 0`, `> 0 and <= 30`."""
        low, high = self.minimum, self.maximum
        if low is not None and high is not None and not self.exclusive_minimum:
            return f"{low}-{high}"
        parts = []
        if low is not None:
            parts.append(f"{'>' if self.exclusive_minimum else '>='} {low}")
        if high is not None:
            parts.append(f"<= {high}")
        return " and ".join(parts)

    def violation(self, value: Scalar) -> str | None:
        """What is wrong with a value of the right type (`must be ...`), or None if allowed."""
        if self.enum and value not in self.enum:
            return f"must be one of {', '.join(self.enum)}"
        if isinstance(value, str):
            if self.max_length is not None and len(value) > self.max_length:
                return f"must be at most {self.max_length} characters"
            if self._regex is not None and not self._regex.search(value):
                return f"must match {self.pattern}"
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            low, high = self.minimum, self.maximum
            too_low = low is not None and (value <= low if self.exclusive_minimum else value < low)
            if too_low or (high is not None and value > high):
                return f"must be {self.bounds()}"
        return None


# --- allowed values -------------------------------------------------------------------------

MODELS = ("whisper-tiny.en", "whisper-base")
"""The inference server's model catalogue (asr_server/engines/whisper/catalogue.py); other
models come by uri."""
ENGLISH_ONLY_MODELS = ("whisper-tiny.en",)
ENGINES = ("faster-whisper", "torch")
"""The inference server's engines: CTranslate2 (faster-whisper) and Whisper on PyTorch with
hotword biasing in the decoder (asr_server/engines/torch/)."""
COMPUTE_TYPES = ("auto", "int8", "int8_float16", "int8_float32", "float16", "float32")
"""Compute types in CTranslate2's names; auto is int8 on CPU and float16 on GPU for
faster-whisper, float32 on CPU and float16 on GPU for torch."""
GPU_ONLY_COMPUTE_TYPES = ("float16", "int8_float16")
ENGINE_COMPUTE_TYPES: dict[str, tuple[str, ...]] = {
    "faster-whisper": COMPUTE_TYPES,
    "torch": ("auto", "int8", "int8_float32", "float16", "float32"),
}
"""The compute types each engine runs: PyTorch has no int8_float16 (its dynamic quantisation
computes in float32, so int8_float32 means int8)."""
ENGINE_CPU_ONLY_COMPUTE_TYPES: dict[str, tuple[str, ...]] = {
    "faster-whisper": (),
    "torch": ("int8", "int8_float32"),
}
"""Compute types an engine runs on the CPU only (PyTorch's dynamic quantisation is CPU-only)."""
OUTPUT_SCRIPTS = ("simplified", "traditional", "as-is")
ENCODER_CONTEXTS = ("full", "trimmed")
"""The padded 30 s window, or the audio plus a margin (much cheaper on CPU)."""
CPU_LAYOUTS = ("auto", "single", "adaptive")
MODEL_URI_FORMS = {
    "file": "file://PATH",
    "http": "http://URL",
    "https": "https://URL",
    "pvc": "pvc://CLAIM/PATH",
    "hf": "hf://ORG/REPO[@REVISION][/SUBDIR]",
    "s3": "s3://BUCKET/PREFIX",
}
"""URI scheme -> the form of a `spec.model.uri`: exactly the schemes `asr-server fetch-model`
implements (a scheme the CRD admitted but fetch-model refused would fail every pod's init)."""
URI_SCHEMES = tuple(MODEL_URI_FORMS)
DOWNLOAD_SCHEMES = tuple(s for s in URI_SCHEMES if s != "pvc")
"""The schemes a SpeechModel downloads from into its claim (a pvc:// model is on a claim
already: a SpeechRecognizer mounts it directly)."""
ACCESS_MODES = ("ReadWriteOnce", "ReadWriteMany")
"""Of a SpeechModel's claim: one Job writes it, then server pods mount it read-only (on one
node with ReadWriteOnce, on any with ReadWriteMany)."""
DEFAULT_ACCESS_MODES = ("ReadWriteOnce",)
FETCH_SECRET_VARIABLES = (
    "HF_TOKEN",
    "HF_ENDPOINT",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "ASR_S3_ADDRESSING_STYLE",
)
"""The keys of a credentials Secret (`credentialsSecretRef`) that the fetching container gets
as variables of the same name, each optional: the variables `asr-server fetch-model` reads.
Only the fetching container (the init container or the SpeechModel's Job) gets them."""
FETCH_EXIT_REASONS = {
    2: "InvalidSource",
    3: "SourceUnavailable",
    4: "VerificationFailed",
    5: "CredentialsRefused",
}
"""`asr-server fetch-model` exit code -> the reason a failed fetch is reported with: a wrong
URI or setting, an unreachable or missing source, content that failed its checks, refused or
missing credentials."""
FETCH_PERMANENT_EXIT_CODES = (2, 4, 5)
"""Exit codes a retry cannot fix: the Job fails at once (its podFailurePolicy) instead of
trying again; 3 (unreachable) is retried up to the Job's backoffLimit."""
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
ROLLOUT_STRATEGIES = ("RollingUpdate", "Recreate")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
STREAM_MAX_UTTERANCE_SECONDS = 30
"""Whisper's window: a longer utterance could not be decoded in one piece."""
ENDPOINT_SILENCE_MS = (100, 5000)
"""Bounds of a stream's endpoint silence, server setting and start message alike: under 0.1 s
every short breath ends an utterance; over 5 s a final waits longer than it is worth."""

BEAM_SIZES = (1, 10)
"""Bounds of the beam width, server setting and request field alike: 1 is greedy decoding;
each beam is one more decoder row for every window, so the decoder's cost grows about in
proportion, while Whisper gains little past faster-whisper's and OpenAI's default of 5
(docs/models.md, "Decoding settings")."""

DNS1035_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
QUANTITY = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
"""A Kubernetes resource quantity (`10Gi`, `500M`), as the API server's own schema has it."""
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
RESOURCE_NAME = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
SECRET_KEY = r"^[-._a-zA-Z0-9]+$"
MAX_NAME_LENGTH = 52
"""metadata.name (a DNS-1035 label) names every child; this leaves room for pod-name suffixes."""


def _uri_forms(schemes: tuple[str, ...] = URI_SCHEMES) -> str:
    forms = [MODEL_URI_FORMS[scheme] for scheme in schemes]
    return ", ".join(forms[:-1]) + f" or {forms[-1]}" if len(forms) > 1 else forms[0]


# --- the fields -----------------------------------------------------------------------------

MODEL_NAME = Field("spec.model.name", enum=MODELS)
MODEL_URI = Field(
    "spec.model.uri",
    pattern=f"^({'|'.join(URI_SCHEMES)})://.+",
    max_length=2048,
    description=f"Where to fetch a CTranslate2 Whisper model directory from: {_uri_forms()}.",
)
ENGINE = Field("spec.model.engine", enum=ENGINES, default="faster-whisper", env="ASR_ENGINE")
COMPUTE_TYPE = Field(
    "spec.model.computeType", enum=COMPUTE_TYPES, default="auto", env="ASR_COMPUTE_TYPE"
)
LANGUAGE = Field("spec.model.language", pattern=r"^[a-z]{2,3}$", env="ASR_LANGUAGE")
OUTPUT_SCRIPT = Field(
    "spec.model.outputScript", enum=OUTPUT_SCRIPTS, default="simplified", env="ASR_OUTPUT_SCRIPT"
)
SPEECH_MODEL_REF = Field(
    "spec.model.speechModelRef.name", pattern=DNS1035_LABEL, max_length=MAX_NAME_LENGTH
)
SECRET_NAME_DESCRIPTION = (
    f"Secret name (same namespace). Its keys {', '.join(FETCH_SECRET_VARIABLES)}, each"
    " optional, become variables of the same name in the fetching container only."
)
MODEL_CREDENTIALS_SECRET = Field(
    "spec.model.credentialsSecretRef.name",
    pattern=DNS1123_SUBDOMAIN,
    description=SECRET_NAME_DESCRIPTION,
)

REPLICAS = Field("spec.replicas", minimum=0, maximum=1000)
MIN_REPLICAS = Field("spec.autoscaling.minReplicas", minimum=1, default=1)
MAX_REPLICAS = Field("spec.autoscaling.maxReplicas", minimum=1, maximum=1000)
TARGET_INFLIGHT_REQUESTS = Field("spec.autoscaling.targetInflightRequests", minimum=1)
TARGET_CPU_UTILIZATION = Field(
    "spec.autoscaling.targetCPUUtilizationPercentage", minimum=1, maximum=1000
)
ROLLOUT_STRATEGY = Field("spec.rollout.strategy", enum=ROLLOUT_STRATEGIES)
SUSPEND = Field("spec.suspend", default=False)

GPU_COUNT = Field("spec.gpu.count", minimum=0, maximum=16, default=0)
GPU_RESOURCE_NAME = Field("spec.gpu.resourceName", pattern=RESOURCE_NAME, default="nvidia.com/gpu")
GPU_PRODUCT = Field("spec.gpu.product", max_length=63)
RUNTIME_CLASS_NAME = Field("spec.runtimeClassName", pattern=DNS1123_SUBDOMAIN)
PRIORITY_CLASS_NAME = Field("spec.priorityClassName", pattern=DNS1123_SUBDOMAIN)
PULL_POLICY = Field("spec.image.pullPolicy", enum=PULL_POLICIES)
PULL_SECRET = Field("spec.image.pullSecrets[]", pattern=DNS1123_SUBDOMAIN)

SERVICE_TYPE = Field("spec.service.type", enum=SERVICE_TYPES, default="ClusterIP")
SERVICE_PORT = Field("spec.service.port", minimum=1, maximum=65535, default=80)
SERVICE_MONITOR_ENABLED = Field("spec.monitoring.serviceMonitor.enabled", default=False)
SERVICE_MONITOR_INTERVAL = Field(
    "spec.monitoring.serviceMonitor.interval", pattern=r"^[0-9]+(ms|s|m|h)$", default="30s"
)

MAX_CONCURRENT_REQUESTS = Field(
    "spec.server.maxConcurrentRequests", minimum=0, env="ASR_MAX_CONCURRENCY"
)
MAX_QUEUE = Field("spec.server.maxQueue", minimum=0, env="ASR_MAX_QUEUE")
MAX_AUDIO_SECONDS = Field(
    "spec.server.maxAudioSeconds", minimum=0, exclusive_minimum=True, env="ASR_MAX_AUDIO_SECONDS"
)
MAX_BODY_MEGABYTES = Field(
    "spec.server.maxBodyMegabytes", minimum=0, exclusive_minimum=True, env="ASR_MAX_BODY_MB"
)
REQUEST_TIMEOUT_SECONDS = Field(
    "spec.server.requestTimeoutSeconds",
    minimum=0,
    exclusive_minimum=True,
    env="ASR_REQUEST_TIMEOUT_S",
)
MAX_BATCH_SIZE = Field("spec.server.batching.maxBatchSize", minimum=0, env="ASR_BATCH_MAX_SIZE")
MAX_WAIT_MILLISECONDS = Field(
    "spec.server.batching.maxWaitMilliseconds", minimum=0, env="ASR_BATCH_MAX_WAIT_MS"
)
ENCODER_CONTEXT = Field(
    "spec.server.batching.encoderContext", enum=ENCODER_CONTEXTS, env="ASR_ENCODER_CONTEXT"
)
BEAM_SIZE = Field(
    "spec.server.decoding.beamSize",
    minimum=BEAM_SIZES[0],
    maximum=BEAM_SIZES[1],
    env="ASR_BEAM_SIZE",
)
CPU_LAYOUT = Field("spec.server.cpuLayout", enum=CPU_LAYOUTS, env="ASR_CPU_LAYOUT")
CACHE_ENTRIES = Field("spec.server.cacheEntries", minimum=0, env="ASR_CACHE_ENTRIES")
API_KEY_SECRET_NAME = Field("spec.server.apiKeySecretRef.name", pattern=DNS1123_SUBDOMAIN)
API_KEY_SECRET_KEY = Field("spec.server.apiKeySecretRef.key", pattern=SECRET_KEY)

MAX_STREAMS = Field("spec.server.streaming.maxStreams", minimum=0, env="ASR_MAX_STREAMS")
MAX_STREAM_SECONDS = Field(
    "spec.server.streaming.maxStreamSeconds",
    minimum=0,
    exclusive_minimum=True,
    env="ASR_STREAM_MAX_SECONDS",
)
IDLE_TIMEOUT_SECONDS = Field(
    "spec.server.streaming.idleTimeoutSeconds",
    minimum=0,
    exclusive_minimum=True,
    env="ASR_STREAM_IDLE_TIMEOUT_S",
)
PARTIAL_INTERVAL_MILLISECONDS = Field(
    "spec.server.streaming.partialIntervalMilliseconds",
    minimum=0,
    exclusive_minimum=True,
    env="ASR_STREAM_PARTIAL_INTERVAL_MS",
)
MAX_UTTERANCE_SECONDS = Field(
    "spec.server.streaming.maxUtteranceSeconds",
    minimum=0,
    exclusive_minimum=True,
    maximum=STREAM_MAX_UTTERANCE_SECONDS,
    env="ASR_STREAM_MAX_UTTERANCE_S",
)
ENDPOINT_SILENCE_MILLISECONDS = Field(
    "spec.server.streaming.endpointSilenceMilliseconds",
    minimum=ENDPOINT_SILENCE_MS[0],
    maximum=ENDPOINT_SILENCE_MS[1],
    env="ASR_STREAM_ENDPOINT_SILENCE_MS",
)
STREAM_ENCODER_CONTEXT = Field(
    "spec.server.streaming.encoderContext", enum=ENCODER_CONTEXTS, env="ASR_STREAM_ENCODER_CONTEXT"
)

# --- the SpeechModel's fields (a model cache: crds/asrfleet.io_speechmodels.yaml) ------------

CACHE_URI = Field(
    "spec.uri",
    pattern=f"^({'|'.join(DOWNLOAD_SCHEMES)})://.+",
    max_length=2048,
    description=f"Where to download the model from: {_uri_forms(DOWNLOAD_SCHEMES)}. A new"
    " revision is a new uri: the cache is filled again and the SpeechRecognizers using it roll.",
    kind=SPEECH_MODEL,
)
CACHE_ENGINE = Field("spec.engine", enum=ENGINES, default="faster-whisper", kind=SPEECH_MODEL)
CACHE_CREDENTIALS_SECRET = Field(
    "spec.credentialsSecretRef.name",
    pattern=DNS1123_SUBDOMAIN,
    description=SECRET_NAME_DESCRIPTION,
    kind=SPEECH_MODEL,
)
CACHE_SIZE = Field("spec.storage.size", pattern=QUANTITY, kind=SPEECH_MODEL)
CACHE_STORAGE_CLASS = Field(
    "spec.storage.storageClassName", pattern=DNS1123_SUBDOMAIN, kind=SPEECH_MODEL
)
CACHE_ACCESS_MODE = Field("spec.storage.accessModes[]", enum=ACCESS_MODES, kind=SPEECH_MODEL)
CACHE_EXISTING_CLAIM = Field(
    "spec.storage.existingClaim", pattern=DNS1123_SUBDOMAIN, kind=SPEECH_MODEL
)

ALL_FIELDS = tuple(v for v in list(globals().values()) if isinstance(v, Field))
FIELDS: tuple[Field, ...] = tuple(f for f in ALL_FIELDS if f.kind == SPEECH_RECOGNIZER)
"""Every SpeechRecognizer field above, in order: its CRD schema holds no enum, bound, pattern
or default else."""
SPEECH_MODEL_FIELDS: tuple[Field, ...] = tuple(f for f in ALL_FIELDS if f.kind == SPEECH_MODEL)
"""The same for the SpeechModel CRD."""
SERVER_FIELDS: dict[str, Field] = {f.env: f for f in FIELDS if f.env}
"""Server variable -> the field it comes from: the server checks its settings against these."""
