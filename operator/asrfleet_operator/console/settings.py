"""Console settings: one frozen dataclass, loaded once from `ASRFLEET_CONSOLE_*` env (and the
`--port`/`--host` flags, which win).

Every field documents itself (the docstring under it) and names its variable in `metadata`;
the chart's `console.*` values and docs/console.md follow this file.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from asrfleet_operator.settings import values_from_env

TOKEN_ENV = "ASRFLEET_CONSOLE_TOKEN"
AUTH_MODES = ("token", "kubernetes")
MIN_TOKEN_CHARS = 16
"""A shorter token is refused at startup: it would be guessable."""


class ConsoleSettingsError(ValueError):
    """A setting the console cannot use; the message names the variable."""


def _env(name: str) -> dict[str, Any]:
    return {"env": name}


@dataclass(frozen=True)
class ConsoleSettings:
    token: str = field(default="", repr=False, metadata=_env(TOKEN_ENV))
    """The console's secret: with `auth` token, the bearer token every API request must carry
    (header, or the cookie the login sets); with kubernetes, the key sessions are signed with."""
    auth: str = field(default="token", metadata=_env("ASRFLEET_CONSOLE_AUTH"))
    """token: everyone with the console's token has the console's rights; kubernetes: people
    log in with their own Kubernetes token (TokenReview) and may do what their RBAC allows
    (SubjectAccessReview), within the console's rights."""
    access_cache_seconds: float = field(
        default=10.0, metadata=_env("ASRFLEET_CONSOLE_ACCESS_CACHE_SECONDS")
    )
    """kubernetes auth: how long a TokenReview or SubjectAccessReview answer is reused (a
    revoked token or RoleBinding takes up to this long to take effect)."""
    host: str = field(default="0.0.0.0", metadata=_env("ASRFLEET_CONSOLE_HOST"))
    """Address to listen on."""
    port: int = field(default=8090, metadata=_env("ASRFLEET_CONSOLE_PORT"))
    """TCP port to listen on."""
    read_only: bool = field(default=False, metadata=_env("ASRFLEET_CONSOLE_READ_ONLY"))
    """true: no scale or suspend; the actions are hidden and refused with 403."""
    namespaces: tuple[str, ...] = field(default=(), metadata=_env("ASRFLEET_CONSOLE_NAMESPACES"))
    """Comma-separated namespaces to show; empty shows every namespace (cluster-wide RBAC)."""
    scrape_seconds: float = field(default=5.0, metadata=_env("ASRFLEET_CONSOLE_SCRAPE_SECONDS"))
    """How often the fleet is listed and every recognizer's pods' /metrics scraped."""
    history_minutes: float = field(default=15.0, metadata=_env("ASRFLEET_CONSOLE_HISTORY_MINUTES"))
    """Load history kept in memory per recognizer (the recognizer page's charts)."""
    scrape_timeout_seconds: float = field(
        default=2.0, metadata=_env("ASRFLEET_CONSOLE_SCRAPE_TIMEOUT_SECONDS")
    )
    """A pod whose /metrics does not answer within this is left out of that round."""
    max_upload_mb: float = field(default=25.0, metadata=_env("ASRFLEET_CONSOLE_MAX_UPLOAD_MB"))
    """Largest audio file the Try-it upload forwards (413 beyond)."""
    allow_url_override: bool = field(
        default=False, metadata=_env("ASRFLEET_CONSOLE_ALLOW_URL_OVERRIDE")
    )
    """true: a SpeechRecognizer's `console.asrfleet.io/url` annotation replaces its pods and
    Service as the console's target (the demo and tests: the emulator runs no pods)."""
    prometheus_url: str = field(default="", metadata=_env("ASRFLEET_CONSOLE_PROMETHEUS_URL"))
    """Prometheus to ask for the load figures (http://prometheus:9090); empty: the console
    scrapes the pods itself."""
    prometheus_name_label: str = field(
        default="service", metadata=_env("ASRFLEET_CONSOLE_PROMETHEUS_NAME_LABEL")
    )
    """The label holding a recognizer's name on its asr_* series (a ServiceMonitor gives
    `service`; it is grouped with `namespace`)."""
    prometheus_window: str = field(
        default="1m", metadata=_env("ASRFLEET_CONSOLE_PROMETHEUS_WINDOW")
    )
    """Range of the rate() and quantile queries."""
    secure_cookie: bool = field(default=False, metadata=_env("ASRFLEET_CONSOLE_SECURE_COOKIE"))
    """true: the session cookie is sent over HTTPS only (set it behind a TLS ingress)."""

    def __post_init__(self) -> None:
        if len(self.token) < MIN_TOKEN_CHARS:
            raise ConsoleSettingsError(
                f"{TOKEN_ENV} must be set to a secret of at least {MIN_TOKEN_CHARS} characters"
                " (the chart creates one in a Secret)"
            )
        if self.prometheus_url and not self.prometheus_url.startswith(("http://", "https://")):
            raise ConsoleSettingsError(
                "ASRFLEET_CONSOLE_PROMETHEUS_URL must be an http(s) URL,"
                f" got {self.prometheus_url!r}"
            )
        if not re.fullmatch(r"[0-9]+(ms|s|m|h)", self.prometheus_window):
            raise ConsoleSettingsError(
                "ASRFLEET_CONSOLE_PROMETHEUS_WINDOW must be a duration such as 1m or 30s,"
                f" got {self.prometheus_window!r}"
            )
        if self.auth not in AUTH_MODES:
            raise ConsoleSettingsError(
                f"ASRFLEET_CONSOLE_AUTH must be one of {', '.join(AUTH_MODES)}, got {self.auth!r}"
            )
        if not 0 <= self.port < 65536:
            raise ConsoleSettingsError(f"ASRFLEET_CONSOLE_PORT must be 0-65535, got {self.port}")
        for name in (
            "scrape_seconds",
            "history_minutes",
            "scrape_timeout_seconds",
            "max_upload_mb",
            "access_cache_seconds",
        ):
            if getattr(self, name) <= 0:
                env = _field(name).metadata["env"]
                raise ConsoleSettingsError(f"{env} must be > 0, got {getattr(self, name)}")

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: Any) -> ConsoleSettings:
        """Settings from `ASRFLEET_CONSOLE_*`; unset or empty variables keep the default;
        `overrides` (the command-line flags) win."""
        values = values_from_env(cls, env, _PARSERS, ConsoleSettingsError)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def history_points(self) -> int:
        return max(2, int(self.history_minutes * 60 / self.scrape_seconds))


def _field(name: str) -> dataclasses.Field[Any]:
    return next(f for f in dataclasses.fields(ConsoleSettings) if f.name == name)


def _parse_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _parse_namespaces(raw: str) -> tuple[str, ...]:
    return tuple(ns.strip() for ns in raw.split(",") if ns.strip())


_PARSERS: dict[str, Callable[[str], Any]] = {
    "port": int,
    "read_only": _parse_bool,
    "namespaces": _parse_namespaces,
    "scrape_seconds": float,
    "history_minutes": float,
    "scrape_timeout_seconds": float,
    "max_upload_mb": float,
    "access_cache_seconds": float,
    "allow_url_override": _parse_bool,
    "secure_cookie": _parse_bool,
}
