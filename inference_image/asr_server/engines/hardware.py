"""The hardware an engine sizes itself by: how many CPUs this container may use, from its
cgroup, not `os.cpu_count()`, and the threads that makes.

A pod limited to 2 CPUs on a 64-core node sees 64 in `os.cpu_count()`; sizing CTranslate2's
thread pool from that oversubscribes the quota and the kernel throttles the process.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def parse_cgroup_cpu_limit(
    cpu_max: str | None = None,
    cfs_quota_us: str | None = None,
    cfs_period_us: str | None = None,
) -> float | None:
    """CPUs allowed by the cgroup files' contents, or None when unlimited or unreadable.

    cgroup v2: `cpu.max` is "<quota> <period>" or "max <period>". cgroup v1:
    `cpu.cfs_quota_us` (-1 = unlimited) over `cpu.cfs_period_us`.
    """
    if cpu_max is not None:
        fields = cpu_max.split()
        if len(fields) >= 1 and fields[0] == "max":
            return None
        try:
            quota = int(fields[0])
            period = int(fields[1]) if len(fields) > 1 else 100_000
        except (IndexError, ValueError):
            return None
        return quota / period if quota > 0 and period > 0 else None
    if cfs_quota_us is not None and cfs_period_us is not None:
        try:
            quota, period = int(cfs_quota_us.strip()), int(cfs_period_us.strip())
        except ValueError:
            return None
        return quota / period if quota > 0 and period > 0 else None
    return None


def container_cpu_limit(root: Path = CGROUP_ROOT) -> float:
    """CPUs this process may use: the cgroup quota when set, capped by the affinity mask."""
    available = float(len(os.sched_getaffinity(0)))
    limit = parse_cgroup_cpu_limit(
        _read(root / "cpu.max"),
        _read(root / "cpu" / "cpu.cfs_quota_us"),
        _read(root / "cpu" / "cpu.cfs_period_us"),
    )
    return available if limit is None else min(available, limit)


def cpu_threads(cpus: float) -> int:
    """Intra-op threads for CTranslate2: one per whole CPU, at least one (1.5 CPUs -> 1)."""
    return max(1, math.floor(cpus))


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None
