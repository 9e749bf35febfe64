"""contract.Field: the one check the CRD generator, the operator's reader and the server's
config all use, and the message it gives."""

from __future__ import annotations

import pytest
from asrfleet_operator.spec import contract as c


@pytest.mark.parametrize(
    ("field", "value", "what"),
    [
        (c.COMPUTE_TYPE, "fp8", "must be one of auto, int8, int8_float16, int8_float32,"),
        (c.COMPUTE_TYPE, "int8", None),
        (c.ENDPOINT_SILENCE_MILLISECONDS, 99, "must be 100-5000"),
        (c.ENDPOINT_SILENCE_MILLISECONDS, 5000, None),
        (c.MAX_UTTERANCE_SECONDS, 0, "must be > 0 and <= 30"),
        (c.MAX_UTTERANCE_SECONDS, 30.5, "must be > 0 and <= 30"),
        (c.MAX_AUDIO_SECONDS, 0.0, "must be > 0"),
        (c.MAX_QUEUE, -1, "must be >= 0"),
        (c.MAX_QUEUE, 0, None),
        (c.LANGUAGE, "EN", "must match ^[a-z]{2,3}$"),
        (c.GPU_PRODUCT, "A" * 64, "must be at most 63 characters"),
        (c.MODEL_URI, "ftp://host/model", "must match ^(file|http|https|pvc|hf|s3)://.+"),
    ],
)
def test_violation_says_what_is_allowed(field: c.Field, value: c.Scalar, what: str | None) -> None:
    found = field.violation(value)
    assert found == what if what is None else (found or "").startswith(what)


def test_fields_are_collected_and_server_fields_name_their_variable() -> None:
    assert c.FIELDS[0] is c.MODEL_NAME and c.STREAM_ENCODER_CONTEXT in c.FIELDS
    assert len({f.path for f in c.FIELDS}) == len(c.FIELDS)
    assert c.SERVER_FIELDS["ASR_MAX_QUEUE"] is c.MAX_QUEUE
    assert all(var.startswith("ASR_") for var in c.SERVER_FIELDS)


def test_the_uri_pattern_and_description_come_from_the_schemes() -> None:
    assert c.MODEL_URI.description is not None
    for form in c.MODEL_URI_FORMS.values():
        assert form in c.MODEL_URI.description
        assert c.MODEL_URI.violation(form.replace("PATH", "/m").replace("URL", "h/m")) is None
