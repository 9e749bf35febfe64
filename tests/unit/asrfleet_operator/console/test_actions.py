"""Scale and suspend patches, validated against the object as it is."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from asrfleet_operator.console import actions
from asrfleet_operator.console.errors import BadRequest, Conflict
from support.console_stack import recognizer

CRD = Path(__file__).resolve().parents[4] / "crds" / "asrfleet.io_speechrecognizers.yaml"


def test_scale_patches_spec_replicas() -> None:
    assert actions.scale_patch(recognizer("a"), {"replicas": 4}) == {"spec": {"replicas": 4}}
    assert actions.scale_patch(recognizer("a"), {"replicas": 0}) == {"spec": {"replicas": 0}}


@pytest.mark.parametrize("value", [-1, 1001, "3", 2.5, True, None])
def test_scale_refuses_what_the_crd_would(value: object) -> None:
    with pytest.raises(BadRequest):
        actions.scale_patch(recognizer("a"), {"replicas": value})


def test_scale_refuses_an_autoscaled_or_suspended_fleet() -> None:
    with pytest.raises(Conflict, match="autoscaled"):
        actions.scale_patch(
            recognizer("a", spec={"autoscaling": {"maxReplicas": 3}}), {"replicas": 2}
        )
    with pytest.raises(Conflict, match="suspended"):
        actions.scale_patch(recognizer("a", spec={"suspend": True}), {"replicas": 2})


def test_suspend_takes_a_boolean() -> None:
    assert actions.suspend_patch({"suspend": True}) == {"spec": {"suspend": True}}
    with pytest.raises(BadRequest):
        actions.suspend_patch({"suspend": "yes"})


def test_the_replica_bound_is_the_crds() -> None:
    crd = yaml.safe_load(CRD.read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["properties"]["replicas"]["maximum"] == actions.MAX_REPLICAS
    assert spec["properties"]["replicas"]["minimum"] == 0
