"""The console's HTTP routes: thin handlers over cluster.py, fleet.py, actions.py, proxy.py.

In kubernetes auth mode each handler first asks whether the request's user may do what it
does (`authorize`, access.py); with the console's token there is no user to ask about."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from aiohttp import web

from asrfleet_operator import __version__
from asrfleet_operator.console import actions, proxy, views
from asrfleet_operator.console.access import Permission
from asrfleet_operator.console.auth import (
    SESSION_COOKIE,
    USER,
    bearer,
    clear_session,
    set_session,
)
from asrfleet_operator.console.cluster import DEPLOYMENTS, HPAS, pod_selector
from asrfleet_operator.console.errors import BadRequest, Forbidden, Unauthorized, UpstreamTimeout
from asrfleet_operator.console.fleet import base_url
from asrfleet_operator.console.keys import CLUSTER, CREDENTIALS, FLEET, HTTP, REVIEWER, SETTINGS
from asrfleet_operator.render.labels import PLURAL

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""The built front end (`make console-ui`); git-ignored, packaged with the console."""


def setup(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/session", session)
    app.router.add_get("/api/fleet", fleet)
    app.router.add_get("/api/recognizers/{namespace}/{name}", recognizer)
    app.router.add_post("/api/recognizers/{namespace}/{name}/scale", scale)
    app.router.add_post("/api/recognizers/{namespace}/{name}/suspend", suspend)
    app.router.add_post("/api/recognizers/{namespace}/{name}/transcribe", transcribe)
    app.router.add_get("/api/recognizers/{namespace}/{name}/stream", stream)
    if STATIC_DIR.is_dir():
        app.router.add_static("/static/", STATIC_DIR, append_version=False)


def _json(value: Any, status: int = 200) -> web.Response:
    return web.json_response(
        dataclasses.asdict(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type)
        else value,
        status=status,
    )


async def index(request: web.Request) -> web.StreamResponse:
    page = STATIC_DIR / "index.html"
    if not page.is_file():
        return web.Response(
            status=503, text="the console's front end is not built: run `make console-ui`\n"
        )
    return web.FileResponse(page, headers={"Cache-Control": "no-cache"})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("the body must be a JSON object", code="invalid_json") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", code="invalid_json")
    return body


async def login(request: web.Request) -> web.Response:
    body = await _json_body(request)
    token = body.get("token")
    credentials = request.app[CREDENTIALS]
    reviewer = request.app.get(REVIEWER)
    if not isinstance(token, str) or not token.strip():
        raise Unauthorized("log in with a token", code="bad_token")
    user = None
    if reviewer is not None:
        user = await reviewer.authenticate(token.strip())
    elif not credentials.token_matches(token.strip()):
        raise Unauthorized("that is not the console's token", code="bad_token")
    response = web.json_response({"status": "ok", "user": user.name if user else None})
    set_session(response, credentials, request.app[SETTINGS].secure_cookie, user)
    return response


async def logout(request: web.Request) -> web.Response:
    response = web.json_response({"status": "ok"})
    clear_session(response)
    return response


async def session(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    credentials = request.app[CREDENTIALS]
    user = request.get(USER)
    cookie = request.cookies.get(SESSION_COOKIE)
    csrf = credentials.csrf
    if user is not None:  # a user's own session: its own CSRF token (none for a bearer)
        csrf = credentials.csrf_of(cookie) if cookie and bearer(request) is None else ""
    return web.json_response(
        {
            "version": __version__,
            "read_only": settings.read_only,
            "namespaces": list(settings.namespaces),
            "csrf_token": csrf,
            "scrape_seconds": settings.scrape_seconds,
            "auth": settings.auth,
            "user": user.name if user is not None else None,
        }
    )


async def authorize(request: web.Request, permission: Permission) -> None:
    """Forbidden unless the request's user may do `permission` (kubernetes auth only)."""
    user = request.get(USER)
    if user is not None:
        await request.app[REVIEWER].require(user, permission)


def _on(request: web.Request, verb: str, resource: str = PLURAL, **attributes: str) -> Permission:
    """`verb` on the SpeechRecognizer the path names (or on its namesake `resource`)."""
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    return Permission(verb, resource, namespace, name, **attributes)


async def fleet(request: web.Request) -> web.Response:
    try:
        snapshot = await request.app[FLEET].latest()
    except TimeoutError:
        raise UpstreamTimeout("the first listing of the fleet has not finished yet") from None
    user = request.get(USER)
    if user is not None:  # only the namespaces whose SpeechRecognizers the user may list
        reviewer = request.app[REVIEWER]
        every = not request.app[SETTINGS].namespaces and await reviewer.allowed(
            user, Permission("list", PLURAL)
        )
        shown = {
            namespace: every or await reviewer.allowed(user, Permission("list", PLURAL, namespace))
            for namespace in {row.summary.namespace for row in snapshot.rows}
        }
        rows = tuple(row for row in snapshot.rows if shown[row.summary.namespace])
        snapshot = dataclasses.replace(snapshot, rows=rows)
    return _json(snapshot)


async def recognizer(request: web.Request) -> web.Response:
    await authorize(request, _on(request, "get"))
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    cluster = request.app[CLUSTER]
    found = await cluster.recognizer(namespace, name)
    deployment = await cluster.get(DEPLOYMENTS, namespace, name)
    hpa = await cluster.get(HPAS, namespace, name)
    pods = views.pods_of(
        await cluster.pods(namespace, pod_selector(deployment, name)),
        pod_selector(deployment, name),
    )
    involved = {("SpeechRecognizer", name), ("Deployment", name), ("HorizontalPodAutoscaler", name)}
    involved |= {("Pod", pod.name) for pod in pods}
    history = request.app[FLEET].histories.get((namespace, name))
    return _json(
        {
            "may": await _may(request),
            "summary": dataclasses.asdict(views.summarize(found, hpa)),
            "conditions": [dataclasses.asdict(c) for c in views.conditions(found)],
            "events": [
                dataclasses.asdict(e)
                for e in views.events_about(await cluster.events(namespace), involved)
            ],
            "pods": [dataclasses.asdict(p) for p in pods],
            "annotations": views.shown_annotations(found),
            "spec_yaml": views.spec_yaml(found),
            "history": [dataclasses.asdict(p) for p in history.points] if history else [],
        }
    )


async def _may(request: web.Request) -> dict[str, bool]:
    """What the page may offer on this recognizer: the actions (scale, suspend) and Try it,
    as the routes would decide them (read-only; the user's RBAC in kubernetes auth)."""
    may = {"act": not request.app[SETTINGS].read_only, "try": True}
    user = request.get(USER)
    if user is not None:
        reviewer = request.app[REVIEWER]
        may["act"] = may["act"] and await reviewer.allowed(user, _on(request, "patch"))
        may["try"] = await reviewer.allowed(user, _service_proxy(request))
    return may


def _writable(request: web.Request) -> None:
    if request.app[SETTINGS].read_only:
        raise Forbidden("the console runs read-only: no scale or suspend", code="read_only")


async def scale(request: web.Request) -> web.Response:
    _writable(request)
    await authorize(request, _on(request, "patch"))
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    cluster = request.app[CLUSTER]
    patch = actions.scale_patch(
        await cluster.recognizer(namespace, name), await _json_body(request)
    )
    return _json(views.summarize(await cluster.patch_recognizer(namespace, name, patch)))


async def suspend(request: web.Request) -> web.Response:
    _writable(request)
    await authorize(request, _on(request, "patch"))
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    patch = actions.suspend_patch(await _json_body(request))
    return _json(
        views.summarize(await request.app[CLUSTER].patch_recognizer(namespace, name, patch))
    )


def _service_proxy(request: web.Request) -> Permission:
    """Try it reaches the recognizer's Service: what `kubectl proxy` to it would need."""
    return _on(request, "get", "services", group="", subresource="proxy")


async def transcribe(request: web.Request) -> web.Response:
    await authorize(request, _service_proxy(request))
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    settings = request.app[SETTINGS]
    chosen = proxy.options(request.query)
    target = base_url(await request.app[CLUSTER].recognizer(namespace, name), settings)
    audio = await proxy.read_audio(request, int(settings.max_upload_mb * 1_000_000))
    return _json(await proxy.transcribe(request.app[HTTP], target, audio, chosen))


async def stream(request: web.Request) -> web.StreamResponse:
    await authorize(request, _service_proxy(request))
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    target = base_url(await request.app[CLUSTER].recognizer(namespace, name), request.app[SETTINGS])
    return await proxy.relay_stream(request, request.app[HTTP], target)
