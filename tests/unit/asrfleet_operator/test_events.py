"""The Kubernetes Events the operator posts (events.py): their bodies, and posts retried a
bounded number of times against a real HTTP server."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from asrfleet_operator.events import EventPoster, event_manifest
from asrfleet_operator.kube import KubeClient
from support.served_api import client_for


def test_event_manifest_names_the_speech_recognizer() -> None:
    owner = {"metadata": {"name": "en", "namespace": "speech", "uid": "u1"}}
    now = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    event = event_manifest(owner, "Warning", "InvalidSpec", "x" * 5000, now)
    assert event["involvedObject"] == {
        "apiVersion": "asrfleet.io/v1alpha1",
        "kind": "SpeechRecognizer",
        "name": "en",
        "namespace": "speech",
        "uid": "u1",
    }
    assert event["metadata"] == {"generateName": "en.", "namespace": "speech"}
    assert (event["type"], event["reason"], len(event["message"])) == (
        "Warning",
        "InvalidSpec",
        1000,
    )
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-01-02T03:04:05Z"


@pytest.fixture
async def api() -> AsyncIterator[tuple[list[int], KubeClient]]:
    """An API server answering Event POSTs with the statuses in the list (then 201)."""
    answers: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        status = answers.pop(0) if answers else 201
        return web.json_response({"kind": "Status", "code": status}, status=status)

    app = web.Application()
    app.router.add_post("/api/v1/namespaces/{ns}/events", handle)
    async with client_for(app) as client:
        yield answers, client


OWNER = {"metadata": {"name": "en", "namespace": "speech", "uid": "u1"}}


async def post_one(client: KubeClient, answers: list[int], script: list[int]) -> EventPoster:
    answers.extend(script)
    poster = EventPoster(client, attempts=3, backoff=0.01)
    poster.post(OWNER, "Normal", "Created", "Deployment created")
    await poster.drain(within=30)
    return poster


async def test_an_event_that_failed_to_post_is_retried(api: tuple[list[int], KubeClient]) -> None:
    answers, client = api
    poster = await post_one(client, answers, [503, 429])
    assert poster.dropped == 0 and answers == []


async def test_retries_are_bounded(api: tuple[list[int], KubeClient]) -> None:
    answers, client = api
    poster = await post_one(client, answers, [503, 503, 503, 503])
    assert poster.dropped == 1 and answers == [503]  # three attempts, then dropped


async def test_a_refused_event_is_not_retried(api: tuple[list[int], KubeClient]) -> None:
    answers, client = api
    poster = await post_one(client, answers, [422, 503])
    assert poster.dropped == 1 and answers == [503]


async def test_no_event_is_posted_while_not_leading(api: tuple[list[int], KubeClient]) -> None:
    answers, client = api
    client.may_write = lambda: False
    poster = await post_one(client, answers, [500])
    assert poster.dropped == 1 and answers == [500]  # nothing was sent
