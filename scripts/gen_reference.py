"""Generate docs/reference.md, the SpeechRecognizer and SpeechModel field reference, from the
CRDs' schemas.

    python scripts/gen_reference.py           # rewrite docs/reference.md
    python scripts/gen_reference.py --check   # exit 1 when docs/reference.md is stale

`make reference` runs the first; tests/unit/test_readme.py fails when the file is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CRD = REPO / "crds" / "asrfleet.io_speechrecognizers.yaml"
MODEL_CRD = REPO / "crds" / "asrfleet.io_speechmodels.yaml"
CRDS = (CRD, MODEL_CRD)
OUTPUT = REPO / "docs" / "reference.md"


@dataclass(frozen=True)
class Field:
    path: str
    type: str
    required: bool
    default: str
    constraints: str
    description: str


def load_crd(path: Path = CRD) -> dict[str, Any]:
    crd = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(crd, dict) and crd["kind"] == "CustomResourceDefinition"
    return crd


def type_of(schema: dict[str, Any]) -> str:
    if schema.get("x-kubernetes-int-or-string"):
        return "int or string"
    kind = str(schema.get("type", "any"))
    if kind == "array":
        return f"[]{type_of(schema.get('items', {}))}"
    if kind == "object" and "properties" not in schema:
        values = schema.get("additionalProperties")
        if isinstance(values, dict):
            return f"map[string]{type_of(values)}"
    return kind


BOUNDS = [("minimum", ">="), ("maximum", "<="), ("minLength", "len >="), ("maxLength", "len <="),
          ("minItems", "items >="), ("maxItems", "items <=")]  # fmt: skip
EXCLUSIVE = {"minimum": "exclusiveMinimum", "maximum": "exclusiveMaximum"}
"""OpenAPI v3.0 (what CRDs use): a boolean that makes the bound strict (> instead of >=)."""


def constraints_of(schema: dict[str, Any]) -> str:
    parts: list[str] = []
    if "enum" in schema:
        parts.append(" \\| ".join(f"`{v}`" for v in schema["enum"]))
    for key, label in BOUNDS:
        if key in schema:
            exclusive = schema.get(EXCLUSIVE.get(key, ""), False)
            parts.append(f"{label.rstrip('=') if exclusive else label} {schema[key]}")
    if "pattern" in schema:
        parts.append(f"pattern `{schema['pattern']}`".replace("|", "\\|"))
    for rule in schema.get("x-kubernetes-validations", []):
        parts.append(str(rule.get("message") or rule["rule"]).replace("|", "\\|"))
    return "; ".join(parts)


def _default_text(default: Any) -> str:
    if default is None:
        return ""
    return f"`{default if isinstance(default, str) else json.dumps(default)}`"


def walk(schema: dict[str, Any], prefix: str, required: set[str]) -> Iterator[Field]:
    """Every documented field under an object schema, depth first, in schema order."""
    for name, child in schema.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        default = child.get("default")
        yield Field(
            path=path,
            type=type_of(child),
            required=name in required,
            default=_default_text(default),
            constraints=constraints_of(child),
            description=" ".join(str(child.get("description", "")).split()).replace("|", "\\|"),
        )
        target = child.get("items", child) if child.get("type") == "array" else child
        if "properties" in target:
            yield from walk(target, path + ("[]" if target is not child else ""),
                            set(target.get("required", [])))  # fmt: skip


def render(crd: dict[str, Any]) -> str:
    names = crd["spec"]["names"]
    version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
    root = version["schema"]["openAPIV3Schema"]
    api_version = f"{crd['spec']['group']}/{version['name']}"
    lines = [
        f"# {names['kind']} reference ({api_version})",
        "",
        " ".join(str(root.get("description", "")).split()),
        "",
        f"Namespaced; plural `{names['plural']}`; short names "
        + ", ".join(f"`{s}`" for s in names.get("shortNames", []))
        + ". Subresources: "
        + ", ".join(sorted(version.get("subresources", {})))
        + ".",
        "",
    ]
    for section in ("spec", "status"):
        schema = root["properties"][section]
        lines += [f"## {section}", ""]
        if schema.get("description"):
            lines += [" ".join(str(schema["description"]).split()), ""]
        for rule in schema.get("x-kubernetes-validations", []):
            lines.append(f"- Rule: {rule.get('message') or rule['rule']}")
        if schema.get("x-kubernetes-validations"):
            lines.append("")
        lines += [
            "| Field | Type | Default | Constraints | Description |",
            "|---|---|---|---|---|",
        ]
        for field in walk(schema, section, set(schema.get("required", []))):
            name = f"`{field.path}`" + (" (required)" if field.required else "")
            lines.append(
                f"| {name} | {field.type} | {field.default} | {field.constraints} |"
                f" {field.description} |"
            )
        lines.append("")
    columns = version.get("additionalPrinterColumns", [])
    if columns:
        lines += ["## kubectl get columns", "", "| Column | From |", "|---|---|"]
        lines += [f"| {c['name']} | `{c['jsonPath']}` |" for c in columns]
        lines.append("")
    return "\n".join(lines)


def reference() -> str:
    """docs/reference.md: every CRD's reference, under one header."""
    header = [
        "<!-- Generated by scripts/gen_reference.py from crds/asrfleet.io_speechrecognizers.yaml",
        "     and crds/asrfleet.io_speechmodels.yaml; do not edit: run `make reference`. -->",
    ]
    return "\n".join([*header, *(render(load_crd(path)) for path in CRDS)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    args = parser.parse_args(argv)
    text = reference()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(REPO)} is stale: run `make reference`", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
