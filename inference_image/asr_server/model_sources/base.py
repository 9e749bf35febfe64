"""The two shapes of a source. Each scheme's module parses its URI into a location (bad URIs
fail here, before any I/O) and either downloads into a work directory (`Download`) or finds
the model where a volume already holds it (`InPlace`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from asr_server.model_sources.settings import FetchSettings
from asr_server.model_sources.uri import ModelUri

L = TypeVar("L")


@dataclass(frozen=True)
class Fetched:
    """What a download produced."""

    root: Path
    """Directory holding the model's files (or one folder that does)."""
    owned: bool
    """`root` is in the work directory (its files can be moved, not copied)."""
    revision: str | None = None
    """What the source resolved the URI to (a Hugging Face commit), for the marker."""


@dataclass(frozen=True)
class Download(Generic[L]):
    """A source whose model is fetched into a work directory beside DEST."""

    parse: Callable[[ModelUri], L]
    fetch: Callable[[L, Path, FetchSettings], Fetched]
    """(location, work directory, settings) -> what it fetched there."""


@dataclass(frozen=True)
class InPlace(Generic[L]):
    """A source already mounted in the pod: checked where it is, nothing copied."""

    parse: Callable[[ModelUri], L]
    locate: Callable[[L, FetchSettings], Path]


Source = Download[Any] | InPlace[Any]
