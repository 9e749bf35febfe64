"""A field reader that collects problems: every `spec.path: what is wrong` line at once, so a
user sees everything wrong with a spec in one report instead of one problem per edit.

Type checks are the reader's; allowed values, bounds, patterns and defaults come from the
field's `contract.Field`, the same the CRD schema and the server are generated or checked from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from asrfleet_operator.spec.contract import DNS1035_LABEL, MAX_NAME_LENGTH, Field

_PERCENT = re.compile(r"^[0-9]{1,3}%$")
_NAME = re.compile(DNS1035_LABEL)
_MISSING = object()


class SpecError(ValueError):
    """A spec the operator cannot run; `problems` are `spec.path: what is wrong` lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _key(path: str) -> str:
    return path.rpartition(".")[2]


class Reader:
    """Reads typed fields out of raw mappings; `raw` is always the field's parent object."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, path: str, what: str) -> None:
        self.problems.append(f"{path}: {what}")

    def raise_if_problems(self) -> None:
        if self.problems:
            raise SpecError(self.problems)

    def object_name(self, name: str, names: str) -> None:
        """metadata.name: a DNS-1035 label short enough for the children it `names`."""
        if not _NAME.match(name) or len(name) > MAX_NAME_LENGTH:
            self.problem(
                "metadata.name",
                f"must be a DNS-1035 label of at most {MAX_NAME_LENGTH} characters ({names})",
            )

    def mapping(self, value: Any, path: str, report: bool = True) -> Mapping[str, Any] | None:
        if value is None:
            return None
        if isinstance(value, Mapping):
            return value
        if report:
            self.problem(path, f"must be an object, got {type(value).__name__}")
        return None

    def _get(self, raw: Mapping[str, Any], key: str) -> Any:
        value = raw.get(key, _MISSING)
        return _MISSING if value is None else value

    def _allowed(self, field: Field, value: Any) -> bool:
        what = field.violation(value)
        if what is not None:
            self.problem(field.path, f"{what}; got {value!r}")
        return what is None

    def string(self, raw: Mapping[str, Any], field: Field | str) -> str | None:
        """A non-empty string the field allows (any, for a bare path); its default when unset
        or not allowed."""
        rule = field if isinstance(field, Field) else None
        path = field if isinstance(field, str) else field.path
        value = self._get(raw, rule.key if rule else _key(path))
        default = rule.default if rule and isinstance(rule.default, str) else None
        if value is _MISSING:
            return default
        if not isinstance(value, str) or value == "":
            self.problem(path, "must be a non-empty string")
            return default
        return value if rule is None or self._allowed(rule, value) else default

    def name_ref(self, raw: Mapping[str, Any], name: Field) -> str | None:
        """The name in a reference object (`credentialsSecretRef: {name: ...}`) under `raw`;
        `name` is the field of its `.name`. None when the object is absent."""
        path = name.path.rpartition(".")[0]
        ref = self.mapping(raw.get(_key(path)), path)
        if ref is None:
            return None
        if ref.get("name") is None:
            self.problem(name.path, "is required")
            return None
        return self.string(ref, name)

    def choice(self, raw: Mapping[str, Any], field: Field) -> str | None:
        """One of `field.enum`; the field's default when unset or not allowed."""
        value = self._get(raw, field.key)
        default = field.default if isinstance(field.default, str) else None
        if value is _MISSING:
            return default
        return value if self._allowed(field, value) else default

    def boolean(self, raw: Mapping[str, Any], field: Field) -> bool:
        value = self._get(raw, field.key)
        default = bool(field.default)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.problem(field.path, f"must be true or false; got {value!r}")
            return default
        return value

    def integer(
        self, raw: Mapping[str, Any], field: Field, default: int | None = None
    ) -> int | None:
        """An integer within the field's bounds; the field's default (else `default`) when unset
        or not allowed."""
        value = self._get(raw, field.key)
        if isinstance(field.default, int) and not isinstance(field.default, bool):
            default = field.default
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(field.path, f"must be an integer; got {value!r}")
            return default
        return value if self._allowed(field, value) else default

    def number(self, raw: Mapping[str, Any], field: Field) -> float | None:
        value = self._get(raw, field.key)
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(field.path, f"must be a number; got {value!r}")
            return None
        return float(value) if self._allowed(field, value) else None

    def int_or_percent(self, raw: Mapping[str, Any], path: str) -> int | str | None:
        value = self._get(raw, _key(path))
        if value is _MISSING:
            return None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        if isinstance(value, str) and _PERCENT.match(value) and int(value[:-1]) <= 100:
            return value
        self.problem(path, f"must be an integer >= 0 or a percentage like 25%; got {value!r}")
        return None

    def string_map(
        self, raw: Mapping[str, Any], path: str, allow_numbers: bool = False
    ) -> dict[str, str]:
        found = self._get(raw, _key(path))
        value = None if found is _MISSING else self.mapping(found, path)
        if value is None:
            return {}
        result: dict[str, str] = {}
        for key, item in value.items():
            if isinstance(item, str) or (
                allow_numbers and isinstance(item, int | float) and not isinstance(item, bool)
            ):
                result[str(key)] = str(item)
            else:
                self.problem(f"{path}.{key}", f"must be a string; got {item!r}")
        return result

    def object_list(self, raw: Mapping[str, Any], path: str) -> tuple[Mapping[str, Any], ...]:
        value = self._get(raw, _key(path))
        if value is _MISSING:
            return ()
        if not isinstance(value, list):
            self.problem(path, "must be a list")
            return ()
        items = []
        for i, item in enumerate(value):
            if isinstance(item, Mapping):
                items.append(item)
            else:
                self.problem(f"{path}[{i}]", "must be an object")
        return tuple(items)

    def string_list(self, raw: Mapping[str, Any], items: Field) -> list[str]:
        """A list of strings, each allowed by `items` (a `path[]` field)."""
        path = items.path.removesuffix("[]")
        value = self._get(raw, items.key)
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            self.problem(path, "must be a list of strings")
            return []
        result = []
        for i, item in enumerate(value):
            what = "must be a string" if not isinstance(item, str) else items.violation(item)
            if what is None:
                result.append(item)
            else:
                self.problem(f"{path}[{i}]", what)
        return result
