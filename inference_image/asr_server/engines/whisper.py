"""The faster-whisper (CTranslate2) engine.

Confidence: faster-whisper reports each segment's `avg_logprob`, the mean log-probability of
its tokens. A segment's confidence is `exp(avg_logprob)` clamped to [0, 1] (the geometric-mean
probability of its tokens: 0.9 means the decoder was, on average, 90 % sure of each token).
A transcription's confidence is the mean over its segments weighted by segment duration.

Chinese: Whisper writes Mandarin in simplified or traditional characters unpredictably. When
the language is Chinese the text is converted to `config.output_script` (simplified by
default, traditional, or as-is) with OpenCC.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from asr_server.config import ServerConfig
from asr_server.engines.base import (
    Audio,
    EngineError,
    EngineInfo,
    Segment,
    TranscribeOptions,
    Transcription,
)
from asr_server.engines.batch_defaults import cpu_layout, default_batch_size
from asr_server.engines.batched import BatchedWhisperDecoder
from asr_server.engines.cpu_limit import container_cpu_limit, cpu_threads
from asr_server.models import resolve_model
from asr_server.text import convert_script, is_chinese

log = logging.getLogger(__name__)

Progress = Callable[[float, float], None]
"""Called with (seconds decoded so far, total seconds) after each segment."""


def choose_device(device: str, compute_type: str, cuda_devices: int) -> tuple[str, str]:
    """(device, compute type): `auto` is CUDA float16 when a GPU is visible, else CPU int8."""
    if device == "auto":
        device = "cuda" if cuda_devices > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


def confidence(avg_logprob: float) -> float:
    """exp(avg_logprob) clamped to [0, 1]: the geometric-mean token probability."""
    return min(1.0, max(0.0, math.exp(avg_logprob)))


def overall_confidence(segments: Sequence[Segment]) -> float:
    """Duration-weighted mean of the segments' confidence (plain mean if all are 0 s)."""
    weights = [max(s.end - s.start, 0.0) for s in segments]
    total = sum(weights)
    if total > 0:
        return sum(w * s.confidence for w, s in zip(weights, segments, strict=True)) / total
    return sum(s.confidence for s in segments) / len(segments) if segments else 0.0


class WhisperEngine:
    """ASREngine on faster-whisper's `WhisperModel`. `self.model` is the loaded WhisperModel
    (its `.model` is the CTranslate2 Whisper, with `.feature_extractor` and `.hf_tokenizer`)
    for the batched and streaming decoders."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.model: Any = None
        self._batched: BatchedWhisperDecoder | None = None
        self.replicas: Any = None
        """Adaptive CPU layout: the same model as `cpu_threads` single-thread replicas."""
        self._info = EngineInfo(
            name=config.model,
            engine="faster-whisper",
            device=config.device,
            compute_type=config.compute_type,
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
        path = resolve_model(self.config.model, self.config.model_dir)
        device, compute_type = choose_device(
            self.config.device, self.config.compute_type, ctranslate2.get_cuda_device_count()
        )
        threads = cpu_threads(container_cpu_limit()) if device == "cpu" else 0
        model = WhisperModel(
            str(path), device=device, compute_type=compute_type, cpu_threads=threads
        )
        layout = cpu_layout(self.config.cpu_layout, device, threads)
        if layout == "adaptive":
            self.replicas = ctranslate2.models.Whisper(
                str(path),
                device="cpu",
                compute_type=model.model.compute_type,
                inter_threads=threads,
                intra_threads=1,
            )
        seconds = time.monotonic() - started
        self._info = EngineInfo(
            name=self.config.model,
            engine="faster-whisper",
            device=device,
            compute_type=compute_type,
            path=str(path),
            languages=tuple(model.supported_languages),
            load_seconds=seconds,
            cpu_threads=threads,
            cpu_layout=layout,
        )
        self.model = model
        log.info(
            "loaded %s from %s on %s/%s (%d CPU threads, %s layout) in %.2f s",
            self.config.model, path, device, compute_type, threads, layout, seconds,
        )  # fmt: skip

    def transcribe(
        self, audio: Audio, options: TranscribeOptions, *, progress: Progress | None = None
    ) -> Transcription:
        """One request, decoded as every request is (`transcribe_batch`), so a file gives the
        same text from the CLI as through the server; `progress` is told when it is done."""
        result = self.transcribe_batch([(audio, options)])[0]
        if isinstance(result, EngineError):
            raise result
        if progress is not None:
            progress(result.duration, result.duration)
        return result

    def transcribe_batch(
        self, items: Sequence[tuple[Audio, TranscribeOptions]]
    ) -> list[Transcription | EngineError]:
        """All items decoded together by `engines/batched.py` (one CTranslate2 encode + generate
        per group of up to `batch_max_size` windows); one bad item never fails the others."""
        if self.model is None:
            raise RuntimeError("WhisperEngine.transcribe_batch() before load()")
        if self._batched is None:
            size = self.config.batch_max_size or default_batch_size(
                self._info.device, container_cpu_limit()
            )
            self._batched = BatchedWhisperDecoder(
                self.model,
                max_batch_size=size,
                workers=self._info.cpu_threads if self.replicas is not None else 1,
                name=self._info.name,
                encoder_context=self.config.encoder_context,
                replicas=self.replicas,
            )
        return [
            r if isinstance(r, EngineError) else self.postprocess(r)
            for r in self._batched.decode(items)
        ]

    def postprocess(self, result: Transcription) -> Transcription:
        """Chinese script conversion; apply to every result, however it was decoded."""
        script = self.config.output_script
        if script == "as-is" or not is_chinese(result.language):
            return result
        segments = tuple(
            dataclasses.replace(
                s,
                text=convert_script(s.text, script),
                words=tuple(
                    dataclasses.replace(w, text=convert_script(w.text, script)) for w in s.words
                ),
            )
            for s in result.segments
        )
        return dataclasses.replace(
            result, text=convert_script(result.text, script), segments=segments
        )
