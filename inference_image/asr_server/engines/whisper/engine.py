"""The faster-whisper (CTranslate2) engine.

Confidence: faster-whisper reports each segment's `avg_logprob`, the mean log-probability of
its tokens; a segment's confidence is `types.confidence(avg_logprob)` and a transcription's
`types.overall_confidence` of its segments.

Every decode is the batched decoder's (`batched/`: one CTranslate2 encode and generate per
group of windows across requests), `transcribe` included.

Chinese: Whisper writes Mandarin in simplified or traditional characters unpredictably. When
the language is Chinese the text is converted to `config.output_script` (simplified by
default, traditional, or as-is) with OpenCC.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from asr_server.engines.base import (
    EngineError,
    EngineInfo,
    ModelError,
    Progress,
    transcribe_one,
)
from asr_server.engines.hardware import container_cpu_limit, cpu_threads
from asr_server.engines.whisper.batched.decoder import BatchedWhisperDecoder
from asr_server.engines.whisper.catalogue import resolve_model
from asr_server.engines.whisper.options import WhisperSettings
from asr_server.engines.whisper.quality import WhisperStreamQuality
from asr_server.engines.whisper.sizing import batch_size, cpu_layout
from asr_server.text import transcription_in_script
from asr_server.types import Audio, TranscribeOptions, Transcription

log = logging.getLogger(__name__)

TASKS = ("transcribe", "translate")


def choose_device(device: str, compute_type: str, cuda_devices: int) -> tuple[str, str]:
    """(device, compute type): `auto` is CUDA float16 when a GPU is visible, else CPU int8
    (their accuracy against float32: docs/models.md, "Decoding settings")."""
    if device == "auto":
        device = "cuda" if cuda_devices > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


def check_compute_type(device: str, compute_type: str, supported: set[str]) -> None:
    """ModelError unless CTranslate2 runs `compute_type` on `device` as asked. CTranslate2
    refuses a type the device cannot run (float16 on this CPU) with a bare ValueError; the
    server says which types the device has, so a setting is honoured or the load fails, never
    replaced by another precision. (`int8` on a CPU runs as int8_float32: the same thing.)"""
    runs = {compute_type, f"{compute_type}_float32"} if compute_type == "int8" else {compute_type}
    if not runs & supported:
        raise ModelError(
            f"compute type {compute_type} is not supported on {device}; this device runs "
            f"{', '.join(sorted(supported))} (ASR_COMPUTE_TYPE, spec.model.computeType)"
        )


class WhisperEngine:
    """ASREngine on faster-whisper's `WhisperModel`, with the BatchSizing, ReportsProgress and
    HasStreamQuality capabilities. `self.model` is the loaded WhisperModel (its `.model` is the
    CTranslate2 Whisper, with `.feature_extractor` and `.hf_tokenizer`) for the batched
    decoder."""

    def __init__(self, settings: WhisperSettings) -> None:
        self.settings = settings
        self.model: Any = None
        self._batched: BatchedWhisperDecoder | None = None
        self.replicas: Any = None
        """Adaptive CPU layout: the same model as `cpu_threads` single-thread replicas."""
        self._info = EngineInfo(
            name=settings.model,
            engine="faster-whisper",
            device=settings.device,
            compute_type=settings.compute_type,
        )

    @property
    def info(self) -> EngineInfo:
        return self._info

    @property
    def ready(self) -> bool:
        return self.model is not None

    def load(self) -> None:
        import ctranslate2
        from faster_whisper import WhisperModel

        started = time.monotonic()
        settings = self.settings
        path = resolve_model(settings.model, settings.model_dir)
        device, compute_type = choose_device(
            settings.device, settings.compute_type, ctranslate2.get_cuda_device_count()
        )
        try:
            supported = ctranslate2.get_supported_compute_types(device)
        except RuntimeError as exc:  # ASR_DEVICE=cuda where CUDA cannot run
            raise ModelError(f"device {device} cannot be used: {exc}") from None
        check_compute_type(device, compute_type, supported)
        cpus = container_cpu_limit()
        threads = cpu_threads(cpus) if device == "cpu" else 0
        model = WhisperModel(
            str(path), device=device, compute_type=compute_type, cpu_threads=threads
        )
        layout = cpu_layout(settings.cpu_layout, device, threads)
        if layout == "adaptive":
            self.replicas = ctranslate2.models.Whisper(
                str(path),
                device="cpu",
                compute_type=model.model.compute_type,
                inter_threads=threads,
                intra_threads=1,
            )
        self._batched = BatchedWhisperDecoder(
            model,
            max_batch_size=batch_size(settings.batch_max_size, device, cpus),
            workers=threads if self.replicas is not None else 1,
            name=settings.model,
            encoder_context=settings.encoder_context,
            replicas=self.replicas,
        )
        seconds = time.monotonic() - started
        self._info = EngineInfo(
            name=settings.model,
            engine="faster-whisper",
            device=device,
            compute_type=compute_type,
            path=str(path),
            languages=tuple(model.supported_languages),
            load_seconds=seconds,
            # English-only models (*.en) have no translate token: they only transcribe.
            tasks=TASKS if model.model.is_multilingual else TASKS[:1],
            details={"cpu_threads": threads, "cpu_layout": layout},
        )
        self.model = model
        log.info(
            "loaded %s from %s on %s/%s (%d CPU threads, %s layout) in %.2f s",
            settings.model, path, device, compute_type, threads, layout, seconds,
        )  # fmt: skip

    def max_batch_size(self) -> int:
        """Windows per CTranslate2 call, and requests per scheduler batch (sizing.batch_size)."""
        if self._batched is None:
            raise RuntimeError("WhisperEngine.max_batch_size() before load()")
        return self._batched.max_batch_size

    def stream_quality(self) -> WhisperStreamQuality:
        return WhisperStreamQuality(self.settings.stream_encoder_context)

    def transcribe(self, audio: Audio, options: TranscribeOptions) -> Transcription:
        """One request, decoded as every request is (`transcribe_batch`), so a file gives the
        same text however it reaches the engine."""
        return transcribe_one(self, audio, options)

    def transcribe_batch(
        self, items: Sequence[tuple[Audio, TranscribeOptions]]
    ) -> list[Transcription | EngineError]:
        """All items decoded together by the batched decoder (batched/decoder.py: one
        CTranslate2 encode + generate per group of up to `max_batch_size()` windows); one bad
        item never fails the others."""
        return self.transcribe_batch_with_progress(items, ())

    def transcribe_batch_with_progress(
        self,
        items: Sequence[tuple[Audio, TranscribeOptions]],
        progress: Sequence[Progress | None],
    ) -> list[Transcription | EngineError]:
        if self.model is None or self._batched is None:
            raise RuntimeError("WhisperEngine.transcribe_batch() before load()")
        return [
            r if isinstance(r, EngineError) else self.postprocess(r)
            for r in self._batched.decode(items, progress)
        ]

    def postprocess(self, result: Transcription) -> Transcription:
        """Chinese script conversion; apply to every result, however it was decoded."""
        return transcription_in_script(result, self.settings.output_script)
