"""Server settings: one dataclass, from `ASR_*` environment variables and CLI flags (flags win).

This is the server's side of the SpeechRecognizer contract (docs/architecture.md): every
variable the operator renders is checked against the same `contract.py` field the CRD schema
and the operator's parse come from, so a value the API server admits is one the server accepts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asr_server import contract
from asr_server.engines.torch.context_graph import DEFAULT_SCORE, HOTWORD_MODES, MAX_SCORE

DEVICES = ("auto", "cpu", "cuda")
COMPUTE_TYPES = contract.COMPUTE_TYPES
OUTPUT_SCRIPTS = contract.OUTPUT_SCRIPTS
LOG_FORMATS = ("json", "text")
ENGINES = (*contract.ENGINES, "fake")
"""The contract's engines and `fake` for tests without a model (no SpeechRecognizer names it)."""
ENCODER_CONTEXTS = contract.ENCODER_CONTEXTS
"""Encoder context: the padded 30 s window, or the audio plus a margin
(engines/whisper/batched/windows.py)."""
CPU_LAYOUTS = contract.CPU_LAYOUTS
BEAM_SIZES = contract.BEAM_SIZES
"""Bounds of the beam width, this setting and a request's `beam_size` alike."""
ENDPOINT_SILENCE_MS = contract.ENDPOINT_SILENCE_MS
"""Bounds of a stream's endpoint silence, server setting and start message alike."""
CHECKS: dict[str, contract.Field] = {
    **contract.SERVER_FIELDS,
    "ASR_ENGINE": dataclasses.replace(contract.ENGINE, enum=ENGINES),
}
"""Variable -> the contract field its value must satisfy (the engine list has `fake` too)."""


class ConfigError(ValueError):
    """A setting with a value the server cannot use; the message names the variable."""


DEFAULT_BODIES_MB = 512.0
"""The body budget ASR_MAX_BODIES_MB=0 chooses (unless one body may be larger): 20 bodies at
the default ASR_MAX_BODY_MB, far more of ordinary uploads."""


@dataclass(frozen=True)
class ServerConfig:
    model: str = field(default="whisper-tiny.en", metadata={"env": "ASR_MODEL"})
    """Catalogue name (`whisper-tiny.en`, `whisper-base`) or a CTranslate2 Whisper directory."""
    model_dir: Path = field(default=Path("/tmp/asr-models"), metadata={"env": "ASR_MODEL_DIR"})
    """Cache directory for prepared models (e.g. the joined whisper-base model.bin)."""
    engine: str = field(default="faster-whisper", metadata={"env": "ASR_ENGINE"})
    """Engine implementation: `faster-whisper`, `torch` (Whisper on PyTorch), or `fake` for tests
    without a model."""
    device: str = field(default="auto", metadata={"env": "ASR_DEVICE"})
    """auto | cpu | cuda; auto picks CUDA when a GPU is visible."""
    compute_type: str = field(default="auto", metadata={"env": "ASR_COMPUTE_TYPE"})
    """Compute type in CTranslate2's names; auto is int8 on CPU (float32 with torch), float16 on
    GPU; the engine refuses one it cannot run (contract.ENGINE_COMPUTE_TYPES)."""
    language: str | None = field(default=None, metadata={"env": "ASR_LANGUAGE"})
    """Fixed language for every request; None detects (a request may still name one)."""
    output_script: str = field(default="simplified", metadata={"env": "ASR_OUTPUT_SCRIPT"})
    """Chinese output script: simplified | traditional | as-is."""
    host: str = field(default="0.0.0.0", metadata={"env": "ASR_HOST"})
    """Address to listen on."""
    port: int = field(default=8080, metadata={"env": "ASR_PORT"})
    """TCP port to listen on."""
    max_concurrency: int = field(default=0, metadata={"env": "ASR_MAX_CONCURRENCY"})
    """Requests decoded at once; 0 chooses from the device (CPU limit, or GPU)."""
    max_queue: int = field(default=64, metadata={"env": "ASR_MAX_QUEUE"})
    """Requests waiting for a worker before new ones get 429."""
    max_audio_seconds: float = field(default=600.0, metadata={"env": "ASR_MAX_AUDIO_SECONDS"})
    """Longest audio accepted per request (400 beyond)."""
    max_body_mb: float = field(default=25.0, metadata={"env": "ASR_MAX_BODY_MB"})
    """Largest request body accepted (413 beyond)."""
    request_timeout_s: float = field(default=120.0, metadata={"env": "ASR_REQUEST_TIMEOUT_S"})
    """Time a request may wait and decode before it gets 504."""
    body_timeout_s: float = field(default=60.0, metadata={"env": "ASR_BODY_TIMEOUT_S"})
    """Time a client may take to send its request body before it gets 408 (slow or stalled
    uploads must not hold a connection and a body buffer indefinitely)."""
    max_connections: int = field(default=256, metadata={"env": "ASR_MAX_CONNECTIONS"})
    """Open TCP connections the pod accepts (HTTP and streams); one more is answered 503
    `too_many_connections` and closed. Bounds the memory of bodies being read (docs/server-api.md,
    "Memory")."""
    max_bodies_mb: float = field(default=0.0, metadata={"env": "ASR_MAX_BODIES_MB"})
    """Request bodies the pod holds at once, summed over every request from its first byte to
    its answer (a body without Content-Length counts as ASR_MAX_BODY_MB); one more gets 429
    `bodies_full`. At least ASR_MAX_BODY_MB; 0 chooses 512, or ASR_MAX_BODY_MB when that is
    larger (docs/server-api.md, "Memory")."""
    batch_max_size: int = field(default=0, metadata={"env": "ASR_BATCH_MAX_SIZE"})
    """Most requests decoded in one batch; 0 chooses from the device."""
    batch_max_wait_ms: float = field(default=10.0, metadata={"env": "ASR_BATCH_MAX_WAIT_MS"})
    """Longest a request waits for others to fill its batch."""
    encoder_context: str = field(default="full", metadata={"env": "ASR_ENCODER_CONTEXT"})
    """full | trimmed: how much of each 30 s window the encoder sees (trimmed: the audio plus
    3 s of silence; several times cheaper on CPU, text not guaranteed identical; see
    docs/throughput.md). A request or stream may choose its own."""
    beam_size: int = field(default=1, metadata={"env": "ASR_BEAM_SIZE"})
    """Beam width of requests and streams that do not choose one (1-10; 1 is greedy, 5 is
    faster-whisper's default: more accurate, slower; docs/models.md, "Decoding settings")."""
    cpu_layout: str = field(default="auto", metadata={"env": "ASR_CPU_LAYOUT"})
    """How CTranslate2 uses the CPUs: `single` (one model on every core), `adaptive` (that
    model for small batches, plus one single-thread replica per core that larger batches are
    split across; one more copy of the weights) or `auto` (adaptive on a CPU device with 2+
    CPUs, else single)."""
    api_key: str | None = field(default=None, repr=False, metadata={"env": "ASR_API_KEY"})
    """Bearer key required on API routes when set (health and metrics stay open)."""
    cache_entries: int = field(default=256, metadata={"env": "ASR_CACHE_ENTRIES"})
    """Result-cache size (LRU); 0 disables the cache."""
    log_format: str = field(default="text", metadata={"env": "ASR_LOG_FORMAT"})
    """json | text."""
    drain_seconds: float = field(default=30.0, metadata={"env": "ASR_DRAIN_SECONDS"})
    """Longest SIGTERM waits for in-flight work before exiting."""
    max_streams: int = field(default=32, metadata={"env": "ASR_MAX_STREAMS"})
    """Concurrent WebSocket streams; the next one gets `busy` (0 disables streaming)."""
    stream_max_seconds: float = field(default=3600.0, metadata={"env": "ASR_STREAM_MAX_SECONDS"})
    """Most audio one stream may send before it is finalised and closed."""
    stream_idle_timeout_s: float = field(
        default=30.0, metadata={"env": "ASR_STREAM_IDLE_TIMEOUT_S"}
    )
    """A stream that sends nothing for this long is finalised and closed."""
    stream_partial_interval_ms: float = field(
        default=500.0, metadata={"env": "ASR_STREAM_PARTIAL_INTERVAL_MS"}
    )
    """New audio between two partial results of an utterance."""
    stream_max_utterance_s: float = field(
        default=20.0, metadata={"env": "ASR_STREAM_MAX_UTTERANCE_S"}
    )
    """An utterance this long is finalised without waiting for a pause (at most 30)."""
    stream_encoder_context: str = field(
        default="trimmed", metadata={"env": "ASR_STREAM_ENCODER_CONTEXT"}
    )
    """full | trimmed: encoder context of stream decodes (partials and finals). Trimmed by
    default: utterances are short, so a 30 s window would be mostly padding (docs/streaming.md)."""
    stream_endpoint_silence_ms: int = field(
        default=500, metadata={"env": "ASR_STREAM_ENDPOINT_SILENCE_MS"}
    )
    """Silence (ms) that ends a stream's utterance; a start message's `endpointing_ms` wins."""
    hotword_mode: str = field(default="decoder", metadata={"env": "ASR_HOTWORD_MODE"})
    """torch engine: how a request's hotwords steer it: `decoder` (a context graph boosts the
    beams), `prompt` (prompt text, as faster-whisper's) or `both` (docs/models.md)."""
    hotword_score: float = field(default=DEFAULT_SCORE, metadata={"env": "ASR_HOTWORD_SCORE"})
    """torch engine: boost per token (natural-log units, > 0 and <= 10) of a hotword that names
    no `:score` of its own."""
    cpu_threads: int = field(default=0, metadata={"env": "ASR_TORCH_CPU_THREADS"})
    """torch engine on the CPU: PyTorch's intra-op threads; 0 = one per CPU of the container's
    limit (faster-whisper chooses its own from the same limit)."""
    decode_threads: int = field(default=0, metadata={"env": "ASR_TORCH_DECODE_THREADS"})
    """torch engine on the CPU: intra-op threads of the decoding steps; 0 = 1 at int8, else
    ASR_TORCH_CPU_THREADS (docs/models.md, "Cost and accuracy")."""
    seed: int | None = field(default=None, metadata={"env": "ASR_TORCH_SEED"})
    """torch engine: seed of the sampler of requests asking for temperature > 0 (unset: not
    reproducible)."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            var, value = f.metadata["env"], getattr(self, f.name)
            check = CHECKS.get(var)
            what = None if check is None or value is None else check.violation(value)
            if what is not None:
                raise ConfigError(f"{var} {what}, got {value!r}")
        _check_choice("ASR_DEVICE", self.device, DEVICES)
        if self.device == "cpu" and self.compute_type in contract.GPU_ONLY_COMPUTE_TYPES:
            raise ConfigError(f"ASR_COMPUTE_TYPE {self.compute_type} needs ASR_DEVICE cuda or auto")
        _check_choice("ASR_LOG_FORMAT", self.log_format, LOG_FORMATS)
        _check_choice("ASR_HOTWORD_MODE", self.hotword_mode, HOTWORD_MODES)
        if not 0 < self.hotword_score <= MAX_SCORE:  # also refuses nan
            raise ConfigError(
                f"ASR_HOTWORD_SCORE must be > 0 and <= {MAX_SCORE:g}, got {self.hotword_score!r}"
            )
        for name in ("cpu_threads", "decode_threads"):
            if getattr(self, name) < 0:
                var = _field(name).metadata["env"]
                raise ConfigError(f"{var} must be >= 0 (0: automatic), got {getattr(self, name)}")
        if not self.model:
            raise ConfigError("ASR_MODEL must not be empty")
        if not 0 < self.port < 65536:
            raise ConfigError(f"ASR_PORT must be a TCP port (1-65535), got {self.port}")
        if not self.body_timeout_s > 0:
            raise ConfigError(f"ASR_BODY_TIMEOUT_S must be positive, got {self.body_timeout_s}")
        if self.max_connections < 1:
            raise ConfigError(f"ASR_MAX_CONNECTIONS must be at least 1, got {self.max_connections}")
        if self.max_bodies_mb != 0 and not self.max_bodies_mb >= self.max_body_mb:  # and nan
            raise ConfigError(
                f"ASR_MAX_BODIES_MB must be at least ASR_MAX_BODY_MB ({self.max_body_mb:g}), "
                f"got {self.max_bodies_mb!r}"
            )

    @property
    def bodies_budget_mb(self) -> float:
        """ASR_MAX_BODIES_MB, or what 0 chooses."""
        return self.max_bodies_mb or max(DEFAULT_BODIES_MB, self.max_body_mb)

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: Any) -> ServerConfig:
        """Settings from `ASR_*` variables; keyword overrides (CLI flags) win when not None."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(f.metadata["env"])
            if raw is not None and raw != "":
                values[f.name] = _parse(f.metadata["env"], raw, _PARSERS[f.name])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def env_names() -> frozenset[str]:
    """Every variable the server reads."""
    return frozenset(str(f.metadata["env"]) for f in dataclasses.fields(ServerConfig))


def _field(name: str) -> dataclasses.Field[Any]:
    return next(f for f in dataclasses.fields(ServerConfig) if f.name == name)


def _check_choice(var: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{var} must be one of {', '.join(choices)}; got {value!r}")


def _parse(var: str, raw: str, parser: Callable[[str], Any]) -> Any:
    try:
        return parser(raw)
    except ValueError as exc:
        raise ConfigError(f"{var}={raw!r} is not valid: {exc}") from None


_PARSERS: dict[str, Callable[[str], Any]] = {
    "model": str,
    "model_dir": Path,
    "engine": str,
    "device": str,
    "compute_type": str,
    "language": str,
    "output_script": str,
    "host": str,
    "port": int,
    "max_concurrency": int,
    "max_queue": int,
    "max_audio_seconds": float,
    "max_body_mb": float,
    "request_timeout_s": float,
    "body_timeout_s": float,
    "max_connections": int,
    "max_bodies_mb": float,
    "batch_max_size": int,
    "batch_max_wait_ms": float,
    "encoder_context": str,
    "beam_size": int,
    "cpu_layout": str,
    "api_key": str,
    "cache_entries": int,
    "log_format": str,
    "drain_seconds": float,
    "max_streams": int,
    "stream_max_seconds": float,
    "stream_idle_timeout_s": float,
    "stream_partial_interval_ms": float,
    "stream_max_utterance_s": float,
    "stream_encoder_context": str,
    "stream_endpoint_silence_ms": int,
    "hotword_mode": str,
    "hotword_score": float,
    "cpu_threads": int,
    "decode_threads": int,
    "seed": int,
}
