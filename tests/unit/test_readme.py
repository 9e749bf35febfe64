"""README.md and the generated SpeechRecognizer and SpeechModel reference stay true: the
reference matches the CRD schemas, every relative link resolves, every `make` target it names
exists."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"


def _gen_reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_reference", REPO / "scripts" / "gen_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


def test_reference_is_generated_from_the_current_crd() -> None:
    gen = _gen_reference()
    current = (REPO / "docs" / "reference.md").read_text(encoding="utf-8")
    assert current == gen.reference(), "docs/reference.md is stale: run `make reference`"


@pytest.mark.parametrize("crd", ["speechrecognizers", "speechmodels"])
def test_reference_lists_every_spec_field(crd: str) -> None:
    gen = _gen_reference()
    loaded = gen.load_crd(REPO / "crds" / f"asrfleet.io_{crd}.yaml")
    text = gen.render(loaded)
    spec = loaded["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    for name in spec["properties"]:
        assert f"`spec.{name}`" in text
    assert text in gen.reference()


def _readme() -> str:
    if not README.exists():
        pytest.fail("README.md is missing")
    return README.read_text(encoding="utf-8")


def test_readme_links_resolve() -> None:
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", _readme()):
        if re.match(r"[a-z]+://", target) or target.startswith("mailto:"):
            continue
        assert (REPO / target).exists(), f"README links to missing {target}"


def test_readme_make_targets_exist() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-zA-Z_-]+):", makefile, flags=re.MULTILINE))
    named = set(re.findall(r"\bmake ([a-z][a-z-]+)", _readme()))
    assert named, "the README names no make target"
    assert named <= targets, f"README names unknown make targets: {sorted(named - targets)}"


def test_quickstart_is_the_two_commands() -> None:
    text = _readme()
    quickstart = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert "make demo" in quickstart and "make test" in quickstart


def test_readme_adapter_rule_is_the_charts() -> None:
    import yaml

    block = _readme().split("rules:\n  custom:\n", 1)[1].split("```", 1)[0]
    [readme_rule] = yaml.safe_load(block)
    template = (REPO / "charts/asrfleet/templates/prometheus-adapter-rule.yaml").read_text()
    body = template.split("rules.yaml: |\n", 1)[1].split("{{- end }}", 1)[0]
    body = body.replace("{{ .Values.prometheusAdapter.window }}", "1m")
    [chart_rule] = yaml.safe_load(body)["rules"]
    assert readme_rule == chart_rule
