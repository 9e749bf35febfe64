"""The SpeechRecognizer spec: its contract with the CRD and the server (contract.py), the typed
result (types.py), a problem-collecting reader (reader.py), one parse module per section and
`parse_spec` (parse.py), which assembles them and adds the rules across sections. A SpeechModel's
spec (a model cache) is parsed by `parse_speech_model` (speech_model.py)."""

from asrfleet_operator.spec.contract import MAX_NAME_LENGTH
from asrfleet_operator.spec.parse import parse_spec
from asrfleet_operator.spec.reader import SpecError
from asrfleet_operator.spec.speech_model import parse_speech_model
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
    SpeechModelSpec,
    SpeechRecognizerSpec,
    StorageSpec,
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
    "SpeechModelSpec",
    "SpeechRecognizerSpec",
    "StorageSpec",
    "StreamingSpec",
    "parse_spec",
    "parse_speech_model",
]
