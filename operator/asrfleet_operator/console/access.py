"""Per-user access (`ASRFLEET_CONSOLE_AUTH=kubernetes`): who a Kubernetes token belongs to
(TokenReview) and whether that user may do what a console request does (SubjectAccessReview),
asked of the API server with the console's own service account, as kubectl's `auth can-i`
asks it. The console then acts with its own rights, within what the user's RBAC allows.

What each request needs (each route asks through `routes.authorize`): the fleet page lists
SpeechRecognizers per namespace and shows only the namespaces the user may list; a
recognizer's page needs `get` on it; scale and suspend need `patch` on it; Try it needs `get`
on the `services/proxy` of its Service (what reaching a Service through the API server
needs). Answers are cached for `cache_seconds` (a revoked token or binding takes that long to
take effect), bounded in entries, so a page polling every second asks once per period.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import aiohttp

from asrfleet_operator.console.errors import Forbidden, Unauthorized, UpstreamError
from asrfleet_operator.kube import ApiError, KubeClient

TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
MAX_CACHED = 4096
"""Answers kept per cache: past it the oldest go first."""

T = TypeVar("T")


@dataclass(frozen=True)
class User:
    """Who a token belongs to, as the API server's TokenReview says."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def as_json(self) -> dict[str, Any]:
        """Kubernetes' UserInfo (a TokenReview's `status.user`); `from_user_info` reads it."""
        return {"username": self.name, "uid": self.uid, "groups": list(self.groups),
                "extra": {k: list(v) for k, v in self.extra}}  # fmt: skip

    @classmethod
    def from_user_info(cls, raw: dict[str, Any]) -> User:
        """The user a TokenReview names, or a session cookie (signed, so well formed)."""
        extra = raw.get("extra")
        extra = extra if isinstance(extra, dict) else {}
        return cls(
            name=str(raw["username"]),
            uid=str(raw.get("uid") or ""),
            groups=tuple(str(g) for g in raw.get("groups") or ()),
            extra=tuple((str(k), tuple(str(x) for x in v)) for k, v in sorted(extra.items())),
        )


@dataclass(frozen=True)
class Permission:
    """One SubjectAccessReview's resource attributes (namespace "" is every namespace)."""

    verb: str
    resource: str
    namespace: str = ""
    name: str = ""
    group: str = "asrfleet.io"
    subresource: str = ""

    def describe(self) -> str:
        what = self.resource + (f"/{self.subresource}" if self.subresource else "")
        where = f" in namespace {self.namespace}" if self.namespace else " in every namespace"
        return f"{self.verb} {what}{' ' + self.name if self.name else ''}{where}"


@dataclass
class _Cache(Generic[T]):
    seconds: float
    entries: OrderedDict[Any, tuple[float, T]] = field(default_factory=OrderedDict)

    def lookup(self, key: Any) -> tuple[T] | None:
        """`(value,)` while cached (the value may itself be None), else None."""
        found = self.entries.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return (found[1],)

    def put(self, key: Any, value: T) -> None:
        self.entries[key] = (time.monotonic() + self.seconds, value)
        self.entries.move_to_end(key)
        while len(self.entries) > MAX_CACHED:
            self.entries.popitem(last=False)


class AccessReviewer:
    def __init__(self, client: KubeClient, cache_seconds: float) -> None:
        self.client = client
        self._users: _Cache[User | None] = _Cache(cache_seconds)
        self._answers: _Cache[bool] = _Cache(cache_seconds)

    async def authenticate(self, token: str) -> User:
        """The user `token` belongs to; Unauthorized when the API server does not know it."""
        key = hashlib.sha256(token.encode()).digest()  # the cache never holds the token
        cached = self._users.lookup(key)
        if cached is None:
            cached = (_reviewed_user(await self._review(TOKEN_REVIEWS, {"token": token})),)
            self._users.put(key, cached[0])
        user = cached[0]
        if user is None:
            raise Unauthorized(
                "the API server does not accept that token (log in with a Kubernetes token:"
                " kubectl create token ...)",
                code="bad_token",
            )
        return user

    async def allowed(self, user: User, permission: Permission) -> bool:
        key = (user, permission)
        cached = self._answers.lookup(key)
        if cached is not None:
            return cached[0]
        attributes = {"verb": permission.verb, "group": permission.group,
                      "resource": permission.resource}  # fmt: skip
        for name in ("namespace", "name", "subresource"):
            if getattr(permission, name):
                attributes[name] = getattr(permission, name)
        spec: dict[str, Any] = {"user": user.name, "groups": list(user.groups),
                                "resourceAttributes": attributes}  # fmt: skip
        if user.uid:
            spec["uid"] = user.uid
        if user.extra:
            spec["extra"] = {k: list(v) for k, v in user.extra}
        status = await self._review(ACCESS_REVIEWS, spec)
        answer = bool(status.get("allowed")) and not status.get("denied")
        self._answers.put(key, answer)
        return answer

    async def require(self, user: User, permission: Permission) -> None:
        if not await self.allowed(user, permission):
            raise Forbidden(
                f"{user.name} may not {permission.describe()} (Kubernetes RBAC)",
                code="not_allowed",
            )

    async def _review(self, path: str, spec: dict[str, Any]) -> dict[str, Any]:
        kind = "TokenReview" if path == TOKEN_REVIEWS else "SubjectAccessReview"
        group = path.split("/")[2]
        body = {"apiVersion": f"{group}/v1", "kind": kind, "spec": spec}
        try:
            answer = await self.client.request("POST", path, body, repeat=True)
        except ApiError as exc:
            raise UpstreamError(
                f"the Kubernetes API answered {exc.status} to the console's {kind}: "
                f"{exc.message} (does its RBAC allow creating {kind}s?)"
            ) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UpstreamError(f"the Kubernetes API did not answer a {kind}: {exc!r}") from None
        status = answer.get("status")
        return status if isinstance(status, dict) else {}


def _reviewed_user(status: dict[str, Any]) -> User | None:
    raw = status.get("user")
    if not status.get("authenticated") or not isinstance(raw, dict) or not raw.get("username"):
        return None
    return User.from_user_info(raw)
