"""`parse_speech_model`: a SpeechModel's raw `spec` -> `SpeechModelSpec`, or `SpecError` with
every problem (the CRD's schema and CEL rules again, for API servers without them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes.utils import parse_quantity

from asrfleet_operator.spec import contract as c
from asrfleet_operator.spec.reader import Reader
from asrfleet_operator.spec.types import SpeechModelSpec, StorageSpec


def parse_speech_model(raw: Mapping[str, Any], *, name: str) -> SpeechModelSpec:
    r = Reader()
    r.object_name(name, "it names the claim and, with a suffix, the download Job")
    spec = r.mapping(raw, "spec") or {}
    uri = r.string(spec, c.CACHE_URI)
    if uri is None and spec.get("uri") is None:
        r.problem(c.CACHE_URI.path, "is required")
    engine = r.choice(spec, c.CACHE_ENGINE) or "faster-whisper"
    credentials = r.name_ref(spec, c.CACHE_CREDENTIALS_SECRET)
    storage = storage_section(r, spec.get("storage"))
    node_selector = r.string_map(spec, "spec.nodeSelector")
    tolerations = r.object_list(spec, "spec.tolerations")
    r.raise_if_problems()
    assert uri is not None and storage is not None
    return SpeechModelSpec(
        uri=uri,
        storage=storage,
        engine=engine,
        credentials_secret=credentials,
        node_selector=node_selector,
        tolerations=tolerations,
    )


def storage_section(r: Reader, value: Any) -> StorageSpec | None:
    p = "spec.storage"
    raw = r.mapping(value, p)
    if raw is None:
        r.problem(p, "is required (storage.size for a new claim, or storage.existingClaim)")
        return None
    size = r.string(raw, c.CACHE_SIZE)
    existing = r.string(raw, c.CACHE_EXISTING_CLAIM)
    if (raw.get("size") is None) == (raw.get("existingClaim") is None):  # the CRD's CEL rules
        r.problem(p, "set storage.size (a new claim) or storage.existingClaim, not both")
    elif existing is not None and any(
        raw.get(key) is not None for key in ("storageClassName", "accessModes")
    ):
        r.problem(p, "storageClassName and accessModes are for a new claim (storage.size)")
    if size is not None and not _positive(size):
        r.problem(c.CACHE_SIZE.path, f"must be a quantity above zero; got {size!r}")
    modes = tuple(r.string_list(raw, c.CACHE_ACCESS_MODE))
    return StorageSpec(
        size=size,
        storage_class_name=r.string(raw, c.CACHE_STORAGE_CLASS),
        access_modes=modes or c.DEFAULT_ACCESS_MODES,
        existing_claim=existing,
    )


def _positive(size: str) -> bool:
    try:
        return bool(parse_quantity(size) > 0)
    except ValueError:
        return False
