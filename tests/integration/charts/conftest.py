"""Fixtures: a Kubernetes emulator per test and `helm install` of the chart into it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from support.helm_install import CHART, Installed, RunningEmulator, helm_install, running_emulator

HERE = Path(__file__).resolve().parent
Install = Callable[..., Coroutine[Any, Any, Installed]]


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[RunningEmulator]:
    # The chart's CRDs make discovery list asrfleet.io and kopf.dev; the ServiceMonitor stub
    # stands in for the prometheus-operator CRDs a real cluster would have.
    crds = [CHART / "crds", HERE / "servicemonitor-crd.yaml"]
    async with running_emulator(tmp_path / "kubeconfig", crds) as running:
        yield running


@pytest.fixture
def install(emulator: RunningEmulator) -> Install:
    """`await install("-f", "values.yaml", "--set", "a=b")` -> Installed."""

    async def run(*values_args: str, verb: tuple[str, ...] = ("install",)) -> Installed:
        return await helm_install(emulator, *values_args, verb=verb)

    return run
