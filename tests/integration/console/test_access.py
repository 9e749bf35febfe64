"""Per-user access (ASRFLEET_CONSOLE_AUTH=kubernetes) against the emulator's TokenReview and
RBAC: people log in with their own Kubernetes tokens and see and change only what their
RoleBindings allow (the `per_user` console of conftest.py); the console's own token means
nothing there. The page's login in that mode is in test_pages.py (the browser comes last)."""

from __future__ import annotations

from typing import Any

import pytest
from support.console_stack import TOKEN, USERS, http

pytestmark = pytest.mark.model


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {USERS[user]}"}


def names(fleet: dict[str, Any]) -> set[str]:
    return {f"{r['summary']['namespace']}/{r['summary']['name']}" for r in fleet["rows"]}


def test_the_fleet_shows_only_the_namespaces_a_user_may_list(per_user: str) -> None:
    status, viewer = http("GET", f"{per_user}/api/fleet", headers=bearer("viewer"))
    assert status == 200, viewer
    assert "default/english" in names(viewer) and "speech/mandarin" not in names(viewer)
    _, editor = http("GET", f"{per_user}/api/fleet", headers=bearer("editor"))
    assert {"default/english", "speech/mandarin"} <= names(editor)
    _, session = http("GET", f"{per_user}/api/session", headers=bearer("viewer"))
    assert session["auth"] == "kubernetes" and session["user"] == "viewer"


def test_a_user_does_only_what_their_rbac_allows(per_user: str) -> None:
    page = f"{per_user}/api/recognizers"
    status, body = http("GET", f"{page}/default/english", headers=bearer("viewer"))
    assert status == 200 and body["may"] == {"act": False, "try": False}, body
    _, body = http("GET", f"{page}/default/english", headers=bearer("editor"))
    assert body["may"] == {"act": True, "try": True}
    status, body = http("GET", f"{page}/speech/mandarin", headers=bearer("viewer"))
    assert status == 403 and body["error"]["code"] == "not_allowed"
    assert (
        "viewer may not get speechrecognizers mandarin in namespace speech"
        in (body["error"]["message"])
    )
    status, body = http("POST", f"{page}/default/scalable/scale", {"replicas": 2},
                        headers=bearer("viewer"))  # fmt: skip
    assert status == 403 and "may not patch" in body["error"]["message"], body
    audio = "application/octet-stream"
    status, body = http("POST", f"{page}/default/english/transcribe", b"RIFF",
                        headers=bearer("viewer"), content_type=audio)  # fmt: skip
    assert status == 403 and "services/proxy" in body["error"]["message"], body
    status, body = http("POST", f"{page}/default/scalable/scale", {"replicas": 2},
                        headers=bearer("editor"))  # fmt: skip
    assert status == 200 and body["desired_replicas"] == 2, body


def test_only_a_token_the_api_server_knows_logs_in(per_user: str) -> None:
    for token in (TOKEN, "nobody-knows-this-token"):  # the console's own token included
        status, body = http("GET", f"{per_user}/api/fleet",
                            headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert status == 401 and body["error"]["code"] == "bad_token", body
        assert http("POST", f"{per_user}/api/login", {"token": token})[0] == 401
    status, body = http("POST", f"{per_user}/api/login", {"token": USERS["viewer"]})
    assert status == 200 and body["user"] == "viewer"
