"""CPU threads follow the container's cgroup quota, not the node's core count."""

from __future__ import annotations

from pathlib import Path

import pytest
from asr_server.engines.hardware import container_cpu_limit, cpu_threads, parse_cgroup_cpu_limit


@pytest.mark.parametrize(
    ("cpu_max", "quota", "period", "expected"),
    [
        ("200000 100000\n", None, None, 2.0),
        ("150000 100000", None, None, 1.5),
        ("50000 100000", None, None, 0.5),
        ("max 100000\n", None, None, None),
        ("garbage", None, None, None),
        ("", None, None, None),
        (None, "400000\n", "100000\n", 4.0),
        (None, "-1", "100000", None),
        (None, "x", "100000", None),
        (None, None, None, None),
    ],
)
def test_parse(
    cpu_max: str | None, quota: str | None, period: str | None, expected: float | None
) -> None:
    assert parse_cgroup_cpu_limit(cpu_max, quota, period) == expected


def test_v2_wins_over_v1() -> None:
    assert parse_cgroup_cpu_limit("100000 100000", "400000", "100000") == 1.0


@pytest.mark.parametrize(("cpus", "threads"), [(0.5, 1), (1.0, 1), (1.9, 1), (2.0, 2), (16, 16)])
def test_threads_are_whole_cpus(cpus: float, threads: int) -> None:
    assert cpu_threads(cpus) == threads


def test_container_limit_reads_a_cgroup_tree(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("50000 100000\n")
    assert container_cpu_limit(tmp_path) == 0.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    unlimited = container_cpu_limit(tmp_path)
    assert unlimited >= 1  # the affinity mask
    assert container_cpu_limit(tmp_path / "absent") == unlimited
