"""Batch size and thread count defaults per device, from measurements (docs/throughput.md).

On CPU the encoder of a 30 s window dominates and is memory-bound: batching amortises the
decoder's per-step overhead, but batches much larger than twice the core count lose (measured on
2 cores: 2.36 req/s at batch 1, 3.02 at batch 4, 2.0 at batch 8). On a GPU the encoder is
compute-bound and batches of 16+ keep it busy.
"""

from __future__ import annotations

from dataclasses import dataclass

from asr_server.config import CPU_LAYOUTS
from asr_server.engines.cpu_limit import cpu_threads

CPU_MAX_BATCH = 8
GPU_BATCH = 16


@dataclass(frozen=True)
class BatchDefaults:
    """What the scheduler and `/v1/models` report as the chosen batching settings."""

    device: str
    cpus: float
    max_batch_size: int
    cpu_threads: int


def default_batch_size(device: str, cpus: float) -> int:
    """Windows per encode/generate call: 2 per CPU on CPU (capped at 8), 16 on a GPU."""
    if device.startswith("cuda"):
        return GPU_BATCH
    return max(1, min(CPU_MAX_BATCH, 2 * cpu_threads(cpus)))


def cpu_layout(setting: str, device: str, threads: int) -> str:
    """The CTranslate2 layout to load (config `cpu_layout`): `adaptive` (the model on every
    thread for small batches plus `threads` single-thread replicas that larger batches are
    split across) or `single`. `auto` is adaptive on a CPU device with 2+ threads; adaptive
    never applies to a GPU or to one thread, where it has nothing to split."""
    if setting not in CPU_LAYOUTS:
        raise ValueError(f"unknown cpu layout {setting!r}")
    usable = not device.startswith("cuda") and threads >= 2
    return "adaptive" if usable and setting != "single" else "single"


def batch_defaults(device: str, cpus: float) -> BatchDefaults:
    return BatchDefaults(
        device=device,
        cpus=cpus,
        max_batch_size=default_batch_size(device, cpus),
        cpu_threads=cpu_threads(cpus),
    )
