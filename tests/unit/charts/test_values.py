"""The chart's values: every value documented, the schema accepting the defaults and refusing
wrong types, the CRD copy identical to crds/."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

CHART = Path(__file__).resolve().parents[3] / "charts" / "asrfleet"
KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_]+):(?P<rest>.*)$")


def _values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))


def _schema() -> dict[str, Any]:
    return json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))


def undocumented_keys(text: str) -> list[str]:
    """Keys with no comment line right above them, unless an ancestor has a `# --` comment
    (which documents the whole value, e.g. `resources`)."""
    missing: list[str] = []
    stack: list[tuple[int, str, bool]] = []  # (indent, key, documented as a whole)
    previous = ""
    for line in text.splitlines():
        match = KEY_LINE.match(line)
        if match:
            indent = len(match["indent"])
            while stack and stack[-1][0] >= indent:
                stack.pop()
            path = ".".join([k for _, k, _ in stack] + [match["key"]])
            covered = any(whole for _, _, whole in stack)
            if not covered and not previous.lstrip().startswith("#"):
                missing.append(path)
            stack.append((indent, match["key"], previous.lstrip().startswith("# --")))
        if line.strip():
            previous = line
    return missing


def test_every_value_has_a_comment() -> None:
    assert undocumented_keys((CHART / "values.yaml").read_text(encoding="utf-8")) == []


def test_the_documentation_check_finds_a_bare_key() -> None:
    assert undocumented_keys("# -- fine\na: 1\nb: 2\n") == ["b"]
    assert undocumented_keys("# -- a whole map\na:\n  x: 1\nc:\n  y: 2\n") == ["c", "c.y"]


def test_schema_accepts_the_default_values() -> None:
    jsonschema.validate(_values(), _schema())


@pytest.mark.parametrize(
    ("path", "wrong"),
    [
        (["replicaCount"], "2"),
        (["replicaCount"], -1),
        (["rbac", "scope"], "everything"),
        (["operator", "logFormat"], "xml"),
        (["image", "pullPolicy"], "Sometimes"),
        (["watch", "namespaces"], "default"),
        (["metrics", "serviceMonitor", "interval"], "often"),
        (["notAValue"], True),
        (["console", "enabled"], "yes"),
        (["console", "namespaces"], ["Not_A_Namespace"]),
        (["console", "service", "type"], "Ingress"),
        (["console", "scrapeSeconds"], 0),
        (["console", "prometheusUrl"], "prometheus:9090"),
    ],
)
def test_schema_refuses_a_wrong_value(path: list[str], wrong: Any) -> None:
    values = _values()
    node = values
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = wrong
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(values, _schema())


def test_chart_crd_is_the_same_file_as_crds() -> None:
    source = sorted((CHART.parents[1] / "crds").glob("*.yaml"))
    assert source, "crds/ holds no CRD"
    for path in source:
        copy = CHART / "crds" / path.name
        assert copy.exists(), f"{copy} is missing: run `make sync-crds`"
        assert copy.read_bytes() == path.read_bytes(), f"{copy} is stale: run `make sync-crds`"


def test_chart_supports_the_operators_kubernetes_versions() -> None:
    from asrfleet_operator.settings import SUPPORTED_KUBERNETES_VERSIONS

    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    tested = str(chart["annotations"]["asrfleet.io/tested-kubernetes-versions"]).split()
    assert tuple(tested) == SUPPORTED_KUBERNETES_VERSIONS
    assert chart["kubeVersion"] == f">={SUPPORTED_KUBERNETES_VERSIONS[0]}.0-0"
