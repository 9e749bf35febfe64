"""Building blocks of the spec parse: allowed values, a problem-collecting field reader, and
the self-contained `spec.server.streaming` section (here so that spec.py stays small)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from asrfleet_operator.specmodel import StreamingSpec

# The inference server's model catalogue (DESIGN.md "Models"); other models come through `uri`.
KNOWN_MODELS = ("whisper-tiny.en", "whisper-base")
ENGLISH_ONLY_MODELS = ("whisper-tiny.en",)
ENGINES = ("faster-whisper",)
COMPUTE_TYPES = ("auto", "int8", "int8_float16", "float16", "float32")
GPU_ONLY_COMPUTE_TYPES = ("float16", "int8_float16")
CPU_ONLY_COMPUTE_TYPES: tuple[str, ...] = ()
OUTPUT_SCRIPTS = ("simplified", "traditional", "as-is")
URI_SCHEMES = ("file", "http", "https", "pvc", "hf", "s3")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
STRATEGIES = ("RollingUpdate", "Recreate")
ENCODER_CONTEXTS = ("full", "trimmed")
CPU_LAYOUTS = ("auto", "single", "adaptive")
# The inference server's own bounds (asr_server/config.py; the env contract test checks the edges).
STREAM_MAX_UTTERANCE_SECONDS = 30  # Whisper's window
STREAM_ENDPOINT_SILENCE_MS = (100, 5000)
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
_PERCENT = re.compile(r"^[0-9]{1,3}%$")
_MISSING = object()


class Reader:
    """Reads typed fields out of raw mappings, collecting `path: problem` lines instead of
    stopping at the first one, so a user sees everything wrong with a spec at once."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, path: str, what: str) -> None:
        self.problems.append(f"{path}: {what}")

    def raise_if_problems(self, error: type[Exception]) -> None:
        if self.problems:
            raise error(self.problems)

    def fail(self, path: str, what: str, error: type[Exception]) -> NoReturn:
        self.problem(path, what)
        raise error(self.problems)

    def mapping(self, value: Any, path: str, report: bool = True) -> Mapping[str, Any] | None:
        if value is None:
            return None
        if isinstance(value, Mapping):
            return value
        if report:
            self.problem(path, f"must be an object, got {type(value).__name__}")
        return None

    def _get(self, raw: Mapping[str, Any], path: str) -> Any:
        value = raw.get(path.rsplit(".", 1)[-1], _MISSING)
        return _MISSING if value is None else value

    def string(
        self, raw: Mapping[str, Any], path: str, pattern: re.Pattern[str] | None = None
    ) -> str | None:
        value = self._get(raw, path)
        if value is _MISSING:
            return None
        if not isinstance(value, str) or value == "":
            self.problem(path, "must be a non-empty string")
            return None
        if pattern is not None and not pattern.match(value):
            self.problem(path, f"{value!r} does not match {pattern.pattern}")
            return None
        return value

    def choice(
        self, raw: Mapping[str, Any], path: str, choices: Sequence[str], default: Any
    ) -> Any:
        value = self._get(raw, path)
        if value is _MISSING:
            return default
        if value not in choices:
            self.problem(path, f"must be one of {', '.join(choices)}; got {value!r}")
            return default
        return value

    def boolean(self, raw: Mapping[str, Any], path: str, default: bool) -> bool:
        value = self._get(raw, path)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.problem(path, f"must be true or false; got {value!r}")
            return default
        return value

    def integer(
        self,
        raw: Mapping[str, Any],
        path: str,
        default: int | None,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        value = self._get(raw, path)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, f"must be an integer; got {value!r}")
            return default
        if minimum is not None and value < minimum:
            self.problem(path, f"must be >= {minimum}; got {value}")
            return default
        if maximum is not None and value > maximum:
            self.problem(path, f"must be <= {maximum}; got {value}")
            return default
        return value

    def number(
        self, raw: Mapping[str, Any], path: str, minimum: float, maximum: float | None = None
    ) -> float | None:
        value = self._get(raw, path)
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(path, f"must be a number; got {value!r}")
            return None
        if value < minimum:
            self.problem(path, f"must be >= {minimum}; got {value}")
            return None
        if maximum is not None and value > maximum:
            self.problem(path, f"must be <= {maximum}; got {value}")
            return None
        return float(value)

    def positive(
        self, raw: Mapping[str, Any], path: str, maximum: float | None = None
    ) -> float | None:
        value = self.number(raw, path, minimum=0, maximum=maximum)
        if value == 0:
            self.problem(path, "must be > 0")
            return None
        return value

    def int_or_percent(self, raw: Mapping[str, Any], path: str) -> int | str | None:
        value = self._get(raw, path)
        if value is _MISSING:
            return None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        if isinstance(value, str) and _PERCENT.match(value) and int(value[:-1]) <= 100:
            return value
        self.problem(path, f"must be an integer >= 0 or a percentage like 25%; got {value!r}")
        return None

    def string_map(
        self, raw: Mapping[str, Any], path: str, allow_numbers: bool = False
    ) -> dict[str, str]:
        found = self._get(raw, path)
        value = None if found is _MISSING else self.mapping(found, path)
        if value is None:
            return {}
        result: dict[str, str] = {}
        for key, item in value.items():
            if isinstance(item, str) or (
                allow_numbers and isinstance(item, int | float) and not isinstance(item, bool)
            ):
                result[str(key)] = str(item)
            else:
                self.problem(f"{path}.{key}", f"must be a string; got {item!r}")
        return result

    def object_list(self, raw: Mapping[str, Any], path: str) -> tuple[Mapping[str, Any], ...]:
        value = self._get(raw, path)
        if value is _MISSING:
            return ()
        if not isinstance(value, list):
            self.problem(path, "must be a list")
            return ()
        items = []
        for i, item in enumerate(value):
            if isinstance(item, Mapping):
                items.append(item)
            else:
                self.problem(f"{path}[{i}]", "must be an object")
        return tuple(items)

    def string_list(self, raw: Mapping[str, Any], path: str, pattern: re.Pattern[str]) -> list[str]:
        value = self._get(raw, path)
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            self.problem(path, "must be a list of strings")
            return []
        result = []
        for i, item in enumerate(value):
            if isinstance(item, str) and pattern.match(item):
                result.append(item)
            else:
                self.problem(f"{path}[{i}]", f"must be a name matching {pattern.pattern}")
        return result


def streaming_section(r: Reader, value: Any, p: str) -> StreamingSpec:
    """`spec.server.streaming` (path `p`), checked against the server's own bounds so that a
    spec accepted here never stops the server at start-up."""
    raw = r.mapping(value, p) or {}
    low, high = STREAM_ENDPOINT_SILENCE_MS
    return StreamingSpec(
        max_streams=r.integer(raw, f"{p}.maxStreams", None, minimum=0),
        max_stream_seconds=r.positive(raw, f"{p}.maxStreamSeconds"),
        idle_timeout_seconds=r.positive(raw, f"{p}.idleTimeoutSeconds"),
        partial_interval_milliseconds=r.positive(raw, f"{p}.partialIntervalMilliseconds"),
        max_utterance_seconds=r.positive(
            raw, f"{p}.maxUtteranceSeconds", maximum=STREAM_MAX_UTTERANCE_SECONDS
        ),
        endpoint_silence_milliseconds=r.integer(
            raw, f"{p}.endpointSilenceMilliseconds", None, minimum=low, maximum=high
        ),
        encoder_context=r.choice(raw, f"{p}.encoderContext", ENCODER_CONTEXTS, None),
    )
