"""The torch engine: Whisper on PyTorch (CPU and CUDA), with hotword biasing in the decoder.

`TorchWhisperEngine` implements `asr_server.engines.base.ASREngine`. Loading resolves the model
(a catalogue name is converted from its bundled CTranslate2 package once, resolve.py), builds
the model without initialising any weights (on the meta device) and assigns the checkpoint's
tensors to it, float32 ones mapped from the file as they are. Then, by compute type:
- `float32`: as loaded (the CPU default, see `choose_precision`);
- `float16`: half precision, CUDA only (as CTranslate2, it refuses the CPU, where half
  precision matrix products are slower than float32);
- `int8` / `int8_float32`: dynamic quantisation of every linear layer (quantize.py), CPU only:
  PyTorch's dynamically quantised kernels exist for the CPU alone. The float checkpoint is
  quantised once into an int8 checkpoint beside it (int8_checkpoint.py), which later starts
  load without ever holding the float32 weights.
One encoder pass over a silent window warms the kernels up before the engine reports ready.

Results go through the same Chinese script conversion as the faster-whisper engine
(`asr_server.text.transcription_in_script`, per `output_script`), and word timings come from
the decoder's cross-attention (alignment.py) as faster-whisper's from CTranslate2's.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from asr_server.contract import ENGINE_COMPUTE_TYPES, OUTPUT_SCRIPTS
from asr_server.engines.base import EngineError, EngineInfo, ModelError, transcribe_one
from asr_server.engines.hardware import container_cpu_limit, cpu_threads
from asr_server.engines.torch.checkpoint import load_checkpoint
from asr_server.engines.torch.context_graph import DEFAULT_SCORE, HOTWORD_MODES, MAX_SCORE
from asr_server.engines.torch.model import Whisper
from asr_server.engines.torch.pipeline import Biasing, Pipeline
from asr_server.engines.torch.quantize import load_int8
from asr_server.engines.torch.resolve import resolve_checkpoint, resolve_int8, tokenizer_for
from asr_server.engines.torch.vocabulary import Vocabulary
from asr_server.engines.whisper.batched.windows import WINDOW_FRAMES
from asr_server.engines.whisper.options import ENCODER_CONTEXTS
from asr_server.engines.whisper.sizing import batch_size
from asr_server.text import transcription_in_script
from asr_server.types import Audio, TranscribeOptions, Transcription

log = logging.getLogger(__name__)

ENGINE_NAME = "torch"
COMPUTE_TYPES = ENGINE_COMPUTE_TYPES[ENGINE_NAME]
"""What the torch engine accepts (the contract's list: int8_float16, CTranslate2's GPU int8, has
no PyTorch kernel)."""


@dataclass(frozen=True)
class TorchEngineOptions:
    """The torch engine's settings (`from_server_config` reads them from the server's)."""

    model: str = "whisper-tiny.en"
    """Catalogue name, CTranslate2 Whisper directory, or PyTorch Whisper checkpoint (.pt)."""
    model_dir: Path = Path("/tmp/asr-models")
    """Model cache: converted checkpoints go to its `torch/` subdirectory."""
    device: str = "auto"
    """auto | cpu | cuda (auto: CUDA when PyTorch sees a GPU)."""
    compute_type: str = "auto"
    """auto | float32 | float16 | int8 | int8_float32 (auto: float16 on CUDA, float32 on CPU)."""
    output_script: str = "simplified"
    """Chinese output script: simplified | traditional | as-is."""
    batch_max_size: int = 0
    """Windows per encoder/decoder call; 0 chooses from the device (engines/batch_defaults)."""
    encoder_context: str = "full"
    """full | trimmed (engines/windows.py); a request may choose its own."""
    cpu_threads: int = 0
    """PyTorch intra-op threads on CPU; 0: one per CPU of the container's limit."""
    decode_threads: int = 0
    """Intra-op threads of the decoding steps on CPU; 0: 1 at int8, else `cpu_threads`. int8's
    kernels split even a one-row product across every thread, and on shared cores the threads
    then wait on each other at every layer (docs/models.md, "Cost and accuracy")."""
    hotword_score: float = DEFAULT_SCORE
    """Boost per hotword token (log-probability units) for hotwords that name no score."""
    hotword_mode: str = "decoder"
    """decoder | prompt | both: bias the beam search with a context graph, write the hotwords
    into the prompt as faster-whisper does, or both (docs/models.md compares them)."""
    seed: int | None = None
    """Seed of the sampler of requests that ask for a temperature > 0 (None: not
    reproducible; the fallback itself is deterministic, engines/fallback.py)."""

    def __post_init__(self) -> None:
        choices = {
            "device": ("auto", "cpu", "cuda"),
            "compute_type": COMPUTE_TYPES,
            "output_script": OUTPUT_SCRIPTS,
            "encoder_context": ENCODER_CONTEXTS,
            "hotword_mode": HOTWORD_MODES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"torch engine: {name} must be one of {', '.join(allowed)}; "
                    f"got {getattr(self, name)!r}"
                )
        if self.batch_max_size < 0 or self.cpu_threads < 0 or self.decode_threads < 0:
            raise ValueError(
                "torch engine: batch_max_size, cpu_threads and decode_threads must be >= 0"
            )
        if not 0 < self.hotword_score <= MAX_SCORE:
            raise ValueError(f"torch engine: hotword_score must be in (0, {MAX_SCORE:g}]")

    @classmethod
    def from_server_config(cls, settings: Any, **overrides: Any) -> TorchEngineOptions:
        """The options the server's settings imply (the `ServerConfig` fields named as these
        are), then `overrides`. The engine never imports the server's configuration."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {n: getattr(settings, n) for n in names if hasattr(settings, n)}
        return cls(**{**values, **overrides})


def choose_precision(device: str, compute_type: str, cuda_available: bool) -> tuple[str, str]:
    """(device, compute type) to load; ModelError for a combination PyTorch cannot run."""
    if device == "auto":
        device = "cuda" if cuda_available else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "float32"
    if compute_type == "int8_float32":
        compute_type = "int8"
    if device == "cuda" and not cuda_available:
        raise ModelError("device cuda was asked for but PyTorch sees no CUDA device")
    if compute_type == "int8" and device != "cpu":
        raise ModelError("int8 (dynamic quantisation) runs on the CPU only in PyTorch")
    if compute_type == "float16" and device != "cuda":
        raise ModelError("float16 needs a CUDA device (on the CPU use float32 or int8)")
    return device, compute_type


def decode_threads(
    options: TorchEngineOptions, device: str, compute_type: str, threads: int
) -> int:
    """Intra-op threads of the decoding steps (0: as set for the encoder; see the option)."""
    if device != "cpu":
        return 0
    if options.decode_threads:
        return options.decode_threads
    return 1 if compute_type == "int8" else threads


class TorchWhisperEngine:
    """ASREngine running Whisper on PyTorch."""

    def __init__(self, options: TorchEngineOptions) -> None:
        self.options = options
        self.model: Whisper | None = None
        self.vocabulary: Vocabulary | None = None
        self.pipeline: Pipeline | None = None
        self._info = EngineInfo(
            name=options.model,
            engine=ENGINE_NAME,
            device=options.device,
            compute_type=options.compute_type,
        )

    @property
    def info(self) -> EngineInfo:
        return self._info

    @property
    def ready(self) -> bool:
        return self.pipeline is not None

    def load(self) -> None:
        started = time.monotonic()
        options = self.options
        device, compute_type = choose_precision(
            options.device, options.compute_type, torch.cuda.is_available()
        )
        threads = 0
        if device == "cpu":
            threads = options.cpu_threads or cpu_threads(container_cpu_limit())
            torch.set_num_threads(threads)
        source = resolve_checkpoint(options.model, options.model_dir)
        if compute_type == "int8":
            # Read, not mapped: load_int8 releases each int8 tensor once it is packed.
            checkpoint = load_checkpoint(resolve_int8(source, options.model_dir), mmap=False)
            model = load_int8(checkpoint.dims, checkpoint.state_dict)
        else:
            checkpoint = load_checkpoint(source.checkpoint)
            model = build_model(checkpoint.dims, checkpoint.state_dict, device, compute_type)
        vocabulary = Vocabulary(
            tokenizer_for(source, checkpoint.dims, options.model_dir),
            checkpoint.dims,
            options.model,
        )
        loaded, heads = checkpoint.path, checkpoint.alignment_heads
        del checkpoint
        dtype = torch.float16 if compute_type == "float16" else torch.float32
        batch = batch_size(options.batch_max_size, device, container_cpu_limit())
        pipeline = Pipeline(
            model,
            vocabulary,
            torch.device(device),
            dtype,
            max_batch_size=batch,
            encoder_context=options.encoder_context,
            biasing=Biasing(options.hotword_score, options.hotword_mode),
            seed=options.seed,
            decode_threads=decode_threads(options, device, compute_type, threads),
            alignment_heads=heads,
        )
        with torch.inference_mode():  # first calls pay for kernel selection: not a request
            model.encoder(
                torch.zeros(1, model.dims.n_mels, WINDOW_FRAMES, dtype=dtype, device=device)
            )
        seconds = time.monotonic() - started
        self._info = EngineInfo(
            name=options.model,
            engine=ENGINE_NAME,
            device=device,
            compute_type=compute_type,
            path=str(loaded),
            languages=vocabulary.languages,
            load_seconds=seconds,
            details={"cpu_threads": threads, "decode_threads": pipeline.decode_threads or threads},
        )
        self.model, self.vocabulary, self.pipeline = model, vocabulary, pipeline
        log.info(
            "loaded %s from %s on %s/%s (%d CPU threads) in %.2f s",
            options.model, loaded, device, compute_type, threads, seconds,
        )  # fmt: skip

    def max_batch_size(self) -> int:
        """Windows (and requests) per call (the BatchSizing capability): ASR_BATCH_MAX_SIZE,
        else the Whisper engine's per-device choice (engines/whisper/sizing.py)."""
        if self.pipeline is None:
            raise RuntimeError("TorchWhisperEngine.max_batch_size() before load()")
        return self.pipeline.max_batch_size

    def transcribe(self, audio: Audio, options: TranscribeOptions) -> Transcription:
        return transcribe_one(self, audio, options)

    def transcribe_batch(
        self, items: Sequence[tuple[Audio, TranscribeOptions]]
    ) -> list[Transcription | EngineError]:
        """All items decoded together (pipeline.py); one bad item never fails the others."""
        if self.pipeline is None:
            raise RuntimeError("TorchWhisperEngine.transcribe_batch() before load()")
        return [
            r if isinstance(r, EngineError) else self.postprocess(r)
            for r in self.pipeline.transcribe(items)
        ]

    def postprocess(self, result: Transcription) -> Transcription:
        """Chinese script conversion, as the faster-whisper engine's."""
        return transcription_in_script(result, self.options.output_script)


def build_model(
    dims: Any, state_dict: dict[str, torch.Tensor], device: str, compute_type: str
) -> Whisper:
    """The float model with the checkpoint's weights, at `compute_type` (float32 | float16)
    on `device`, for inference."""
    model = Whisper.from_state_dict(dims, state_dict)
    if compute_type == "float16":
        return model.to(device=device, dtype=torch.float16)
    return model.float().to(device)  # openai's own checkpoints hold float16 weights
