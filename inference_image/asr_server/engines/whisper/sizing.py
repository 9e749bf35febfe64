"""How the Whisper engine sizes itself to the device, from measurements (docs/throughput.md).

On CPU the encoder of a 30 s window dominates and is memory-bound: batching amortises the
decoder's per-step overhead, but batches much larger than twice the core count lose (measured on
2 cores: 2.36 req/s at batch 1, 3.02 at batch 4, 2.0 at batch 8). On a GPU the encoder is
compute-bound and batches of 16+ keep it busy.
"""

from __future__ import annotations

from asr_server import contract
from asr_server.engines.hardware import cpu_threads

CPU_MAX_BATCH = 8
GPU_BATCH = 16
CPU_LAYOUTS = contract.CPU_LAYOUTS
"""ASR_CPU_LAYOUT's choices (the contract's list)."""


def batch_size(setting: int, device: str, cpus: float) -> int:
    """Windows per encode/generate call, and requests per batch: the setting
    (ASR_BATCH_MAX_SIZE) when not 0, else 2 per CPU thread on CPU (capped at 8), 16 on a GPU."""
    if setting:
        return setting
    if device.startswith("cuda"):
        return GPU_BATCH
    return max(1, min(CPU_MAX_BATCH, 2 * cpu_threads(cpus)))


def cpu_layout(setting: str, device: str, threads: int) -> str:
    """The CTranslate2 layout to load (ASR_CPU_LAYOUT): `adaptive` (the model on every
    thread for small batches plus `threads` single-thread replicas that larger batches are
    split across) or `single`. `auto` is adaptive on a CPU device with 2+ threads; adaptive
    never applies to a GPU or to one thread, where it has nothing to split."""
    if setting not in CPU_LAYOUTS:
        raise ValueError(f"unknown cpu layout {setting!r}")
    usable = not device.startswith("cuda") and threads >= 2
    return "adaptive" if usable and setting != "single" else "single"
