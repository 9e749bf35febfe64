"""`spec.model`: which model (a catalogue name, a uri, or a SpeechModel), from where, and how
it decodes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from asrfleet_operator.spec import contract as c
from asrfleet_operator.spec.reader import Reader
from asrfleet_operator.spec.types import ModelSpec

_CLAIM = re.compile(c.DNS1123_SUBDOMAIN)


def model_section(r: Reader, spec: Mapping[str, Any]) -> ModelSpec | None:
    raw = r.mapping(spec.get("model"), "spec.model")
    if raw is None:
        r.problem("spec.model", "is required (set model.name, model.uri or model.speechModelRef)")
        return None
    sources = [key for key in ("name", "uri", "speechModelRef") if raw.get(key) is not None]
    if len(sources) != 1:  # the CRD's CEL rules
        r.problem("spec.model", "set exactly one of model.name, model.uri or model.speechModelRef")
    name = r.string(raw, c.MODEL_NAME)
    uri = r.string(raw, c.MODEL_URI)
    speech_model = r.name_ref(raw, c.SPEECH_MODEL_REF)
    credentials = r.name_ref(raw, c.MODEL_CREDENTIALS_SECRET)
    if credentials is not None and raw.get("uri") is None:
        r.problem(
            c.MODEL_CREDENTIALS_SECRET.path,
            "is for a model.uri (a SpeechModel names its own credentialsSecretRef)",
        )
    if uri is not None and uri.startswith("pvc://"):
        claim, _, path = uri.removeprefix("pvc://").partition("/")
        if not _CLAIM.match(claim) or not path:
            r.problem(c.MODEL_URI.path, "must be pvc://CLAIM/PATH with a valid claim name")
    language = r.string(raw, c.LANGUAGE)
    if name in c.ENGLISH_ONLY_MODELS and language not in (None, "en"):
        r.problem(c.LANGUAGE.path, f"{name} is English-only; use en or another model")
    return ModelSpec(
        name=name,
        uri=uri,
        engine=r.choice(raw, c.ENGINE) or "faster-whisper",
        compute_type=r.choice(raw, c.COMPUTE_TYPE) or "auto",
        language=language,
        output_script=r.choice(raw, c.OUTPUT_SCRIPT) or "simplified",
        speech_model=speech_model,
        credentials_secret=credentials,
    )
