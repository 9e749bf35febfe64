"""Write the SpeechRecognizer contract (operator/asrfleet_operator/spec/contract.py) where it is
needed: each field's enum, bounds, pattern, default (and a description listing contract values)
into its CRD's schema (SpeechRecognizer or SpeechModel), crds/ and the chart's copies; the module
itself into the server package.

    python scripts/gen_contract.py           # rewrite the generated files
    python scripts/gen_contract.py --check   # exit 1 when one is stale

`make contract` runs the first (then `make reference`, the docs come from the CRD);
tests/unit/scripts/test_gen_contract.py fails when a file is stale. Only the lines of
constraint keys change in the CRD (its layout, comments and descriptions stay as written);
a CRD's spec may hold no enum, bound, pattern or default that the contract does not have.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "operator" / "asrfleet_operator" / "spec" / "contract.py"
CRD = REPO / "crds" / "asrfleet.io_speechrecognizers.yaml"
MODEL_CRD = REPO / "crds" / "asrfleet.io_speechmodels.yaml"
CHART_CRDS = REPO / "charts" / "asrfleet" / "crds"
CRDS = {"SpeechRecognizer": CRD, "SpeechModel": MODEL_CRD}
"""The contract's `Field.kind` -> the CRD whose schema holds its fields."""
SERVER_COPY = REPO / "inference_image" / "asr_server" / "contract.py"
SCHEMA_ROOT: tuple[str | int, ...] = ("spec", "versions", 0, "schema", "openAPIV3Schema")
CONSTRAINTS = ("enum", "default", "minimum", "exclusiveMinimum", "maximum", "maxLength", "pattern")
"""The schema keys the contract owns, in the order new ones are written."""
UNMANAGED = ("exclusiveMaximum", "minLength", "minItems", "maxItems", "multipleOf")
"""Constraint keys the contract has no word for: none may appear in the spec schema."""


def load_contract(path: Path = SOURCE) -> ModuleType:
    spec = importlib.util.spec_from_file_location("asrfleet_contract", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


def schema_path(field_path: str) -> tuple[str | int, ...]:
    """`spec.image.pullSecrets[]` -> the keys down the CRD document to that field's schema."""
    steps: list[str | int] = list(SCHEMA_ROOT)
    for name in field_path.split("."):
        steps += ["properties", name.removesuffix("[]")]
        if name.endswith("[]"):
            steps.append("items")
    return tuple(steps)


def wanted(field: Any) -> dict[str, Any]:
    """The constraint keys a contract field puts in its schema, with their values."""
    values: dict[str, Any] = {
        "enum": list(field.enum) or None,
        "default": field.default,
        "minimum": field.minimum,
        "exclusiveMinimum": True if field.exclusive_minimum else None,
        "maximum": field.maximum,
        "maxLength": field.max_length,
        "pattern": field.pattern,
    }
    result = {key: value for key, value in values.items() if value is not None}
    if field.description is not None:
        result["description"] = field.description
    return result


def render_value(key: str, value: Any) -> str:
    if key == "pattern":  # quoted, as every pattern in the CRD is written
        return "'" + str(value).replace("'", "''") + "'"
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9)
    return text.removesuffix("...\n").strip()


@dataclass(frozen=True)
class Edit:
    start: int  # first line replaced (0-based)
    end: int  # line after the last one replaced
    lines: tuple[str, ...]


def _node(root: yaml.Node, steps: tuple[str | int, ...]) -> yaml.MappingNode:
    node = root
    for step in steps:
        if isinstance(step, int):
            assert isinstance(node, yaml.SequenceNode), steps
            node = node.value[step]
        else:
            assert isinstance(node, yaml.MappingNode), steps
            found = [v for k, v in node.value if k.value == step]
            if not found:
                raise KeyError(f"the CRD schema has no {'.'.join(map(str, steps))}")
            node = found[0]
    assert isinstance(node, yaml.MappingNode), steps
    return node


def _span(key: yaml.Node, value: yaml.Node) -> tuple[int, int]:
    """Lines [start, end) that hold one `key: value` entry (a block scalar spans several)."""
    end = value.end_mark.line
    return (
        key.start_mark.line,
        end if value.end_mark.column == 0 and end > key.start_mark.line else end + 1,
    )


def field_edits(root: yaml.Node, field: Any) -> Iterator[Edit]:
    node = _node(root, schema_path(field.path))
    indent = " " * node.value[0][0].start_mark.column
    entries = {k.value: _span(k, v) for k, v in node.value}
    want = wanted(field)
    owned = (*CONSTRAINTS, *(("description",) if "description" in want else ()))
    after = max((entries[k][1] for k in ("type", "format") if k in entries), default=None)
    pending: list[str] = []
    for key in owned:
        line = f"{indent}{key}: {render_value(key, want[key])}" if key in want else None
        if key in entries:
            start, end = entries[key]
            yield Edit(start, end, (line,) if line else ())
            after = end
        elif line:
            pending.append(line)
    if pending:
        at = after if after is not None else node.value[0][0].start_mark.line
        yield Edit(at, at, tuple(pending))


def unmanaged(crd: dict[str, Any], fields: Sequence[Any]) -> list[str]:
    """Spec fields whose schema holds a constraint the contract does not own."""
    paths = {schema_path(f.path) for f in fields}
    found: list[str] = []

    def walk(schema: dict[str, Any], steps: tuple[str | int, ...], name: str) -> None:
        keys = [k for k in (*CONSTRAINTS, *UNMANAGED) if k in schema]
        if keys and (steps not in paths or any(k in UNMANAGED for k in keys)):
            found.append(f"{name}: {', '.join(keys)}")
        for key, child in (schema.get("properties") or {}).items():
            walk(child, (*steps, "properties", key), f"{name}.{key}")
        if isinstance(schema.get("items"), dict):
            walk(schema["items"], (*steps, "items"), f"{name}[]")

    spec = crd
    for step in (*SCHEMA_ROOT, "properties", "spec"):
        spec = spec[step]  # type: ignore[index]
    walk(spec, (*SCHEMA_ROOT, "properties", "spec"), "spec")
    return found


def generate_crd(text: str, fields: Sequence[Any]) -> str:
    """The CRD text with every one of its contract fields' constraint lines as the contract
    says."""
    root = yaml.compose(text)
    assert root is not None
    edits = sorted(
        (e for f in fields for e in field_edits(root, f)),
        key=lambda e: (e.start, e.end),
        reverse=True,
    )
    lines = text.splitlines()
    for edit in edits:
        lines[edit.start : edit.end] = edit.lines
    result = "\n".join(lines) + "\n"
    _verify(yaml.safe_load(result), fields)
    return result


def _verify(crd: dict[str, Any], fields: Sequence[Any]) -> None:
    """The generated schema says exactly what the contract says (a guard on the line edits)."""
    stray = unmanaged(crd, fields)
    if stray:
        raise ValueError(f"constraints in the CRD that are not in the contract: {stray}")
    for field in fields:
        schema: Any = crd
        for step in schema_path(field.path):
            schema = schema[step]
        want = wanted(field)
        got = {k: schema[k] for k in (*CONSTRAINTS, "description") if k in schema}
        if field.description is None:
            got.pop("description", None)
        if got != want:
            raise ValueError(f"{field.path}: the CRD says {got}, the contract {want}")


def server_copy(source: str) -> str:
    header = (
        "# Generated by `make contract` (scripts/gen_contract.py) from\n"
        "# operator/asrfleet_operator/spec/contract.py: edit that file, not this one.\n"
    )
    return header + source


def outputs() -> dict[Path, str]:
    """Every generated file -> the text it should hold."""
    contract = load_contract()
    result: dict[Path, str] = {}
    for kind, path in CRDS.items():
        fields = [f for f in contract.ALL_FIELDS if f.kind == kind]
        crd = generate_crd(path.read_text(encoding="utf-8"), fields)
        result[path] = result[CHART_CRDS / path.name] = crd
    result[SERVER_COPY] = server_copy(SOURCE.read_text(encoding="utf-8"))
    return result


def stale() -> list[Path]:
    return [
        path
        for path, text in outputs().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a file is stale")
    args = parser.parse_args(argv)
    if args.check:
        for path in stale():
            print(f"{path.relative_to(REPO)} is stale: run `make contract`", file=sys.stderr)
        return 1 if stale() else 0
    for path, text in outputs().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
