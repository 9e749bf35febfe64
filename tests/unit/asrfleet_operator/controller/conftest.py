"""Fixtures of the controller's unit tests: a Context, and SpeechRecognizers as kopf hands
them to the event handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kopf
import pytest
from asrfleet_operator.controller.context import Context
from asrfleet_operator.kube import KubeClient
from asrfleet_operator.settings import Settings

MakeSR = Callable[..., kopf.Body]


@pytest.fixture
def ctx() -> Context:
    return Context(settings=Settings(), client=KubeClient())


@pytest.fixture
def sr() -> MakeSR:
    """sr(generation, observed=None, **metadata) -> the object with that generation and
    status.observedGeneration."""

    def make(generation: int, observed: int | None = None, **meta: Any) -> kopf.Body:
        metadata = {"name": "en", "namespace": "default", "uid": "u1", "generation": generation}
        raw: dict[str, Any] = {"metadata": {**metadata, **meta}}
        if observed is not None:
            raw["status"] = {"observedGeneration": observed}
        return kopf.Body(raw)  # type: ignore[arg-type]

    return make
