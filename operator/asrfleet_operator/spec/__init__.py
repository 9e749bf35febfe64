"""The SpeechRecognizer spec: its contract with the CRD and the server (contract.py), the typed
result (types.py), a problem-collecting reader (reader.py), one parse module per section and
`parse_spec` (parse.py), which assembles them and adds the rules across sections."""

from asrfleet_operator.spec.contract import MAX_NAME_LENGTH
from asrfleet_operator.spec.parse import parse_spec
from asrfleet_operator.spec.reader import SpecError
from asrfleet_operator.spec.types import (
    AutoscalingSpec,
    GpuSpec,
    ImageSpec,
    ModelSpec,
    PodDisruptionBudgetSpec,
    RolloutSpec,
    SecretKeyRef,
    ServerSpec,
    ServiceSpec,
    SpeechRecognizerSpec,
    StreamingSpec,
)

__all__ = [
    "MAX_NAME_LENGTH",
    "AutoscalingSpec",
    "GpuSpec",
    "ImageSpec",
    "ModelSpec",
    "PodDisruptionBudgetSpec",
    "RolloutSpec",
    "SecretKeyRef",
    "ServerSpec",
    "ServiceSpec",
    "SpecError",
    "SpeechRecognizerSpec",
    "StreamingSpec",
    "parse_spec",
]
