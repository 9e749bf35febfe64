"""The OpenAPI document cannot drift from the server: every route of the app's router has an
operation and every operation a route, the document is valid OpenAPI 3.1, every decoding
option of the one table appears where its transport takes it, and the error statuses are the
ones the error table answers; docs/server-api.md's reference is the document's rendering."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aiohttp import hdrs
from asr_server import errors, fields, openapi
from asr_server.app import create_app
from asr_server.config import ServerConfig
from openapi_spec_validator import validate

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi.document(("en",))


def test_every_route_has_an_operation_and_every_operation_a_route() -> None:
    app = create_app(ServerConfig(engine="fake"))
    routed = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method not in (hdrs.METH_HEAD, hdrs.METH_ANY)
    }
    assert routed == set(openapi.OPERATIONS)


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)  # type: ignore[arg-type]
    assert {op["operationId"] for path in document["paths"].values() for op in path.values()}


OPERATION_OF = {
    fields.OPENAI: ("/v1/audio/transcriptions",),
    fields.TRANSLATIONS: ("/v1/audio/translations",),
    fields.RECOGNIZE: ("/v1/recognize", "/v1/recognize/batch"),
    fields.ASRT: ("/all", "/speech"),
}


def _names(operation: dict[str, Any]) -> set[str]:
    """Every parameter and body member an operation documents."""
    names = {p["name"] for p in operation.get("parameters", [])}
    for media in operation.get("requestBody", {}).get("content", {}).values():
        names |= set(media["schema"].get("properties", {}))
    return names


@pytest.mark.parametrize("transport", sorted(OPERATION_OF))
def test_every_option_is_documented_where_its_transport_takes_it(
    document: dict[str, Any], transport: str
) -> None:
    wanted = {f.name for f in fields.fields_for(transport)}
    for path in OPERATION_OF[transport]:
        documented = _names(document["paths"][path]["post"])
        assert wanted <= documented, (path, wanted - documented)
        others = {f.name for f in fields.OPTION_FIELDS} - wanted
        assert not others & documented, (path, others & documented)


def test_the_language_enum_is_the_loaded_models(document: dict[str, Any]) -> None:
    operation = document["paths"]["/v1/recognize"]["post"]
    (language,) = [p for p in operation["parameters"] if p["name"] == "language"]
    assert language["schema"]["enum"] == ["en", ""]


def test_error_statuses_are_the_error_tables() -> None:
    answered = set(errors.HTTP_STATUS.values()) | {500}
    assert set(openapi.ERROR_STATUSES) <= answered
    assert answered - set(openapi.ERROR_STATUSES) <= {404, 405, 499}  # routing; nothing sent


def _gen_api_reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_api_reference", REPO / "scripts" / "gen_api_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_api_reference_is_generated_from_the_current_document() -> None:
    gen = _gen_api_reference()
    current = (REPO / "docs" / "server-api.md").read_text(encoding="utf-8")
    section = gen.render(openapi.document())
    assert section in current, "docs/server-api.md's reference is stale: run `make api-reference`"
    for method, path in openapi.OPERATIONS:
        assert f"### `{method.upper()} {path}`" in section
