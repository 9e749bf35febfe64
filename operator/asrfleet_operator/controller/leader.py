"""Leader election on a coordination.k8s.io/v1 Lease: with several operator replicas, exactly
one runs the control loop (the SpeechRecognizer watch, the Deployment watch, the sweep) and
writes; the others only read the Lease until it expires.

The algorithm is client-go's (k8s.io/client-go/tools/leaderelection), which every
controller-runtime operator uses:

- every `retry_seconds` a candidate GETs the Lease. Absent: it creates it, holding it. Held
  by another: it notes when it *first saw* the current record (holder, renewTime, version)
  on its own clock, and takes the Lease over only when that record has not changed for
  `lease_seconds` (a merge-patch carrying the record's resourceVersion, a precondition: of two
  candidates, one gets 409). Clocks of different machines are never compared.
- the holder renews with one request: an update carrying the resourceVersion its last write
  got back (a 409, e.g. when that write's answer was lost, sends it back to reading first).
  Its leadership is valid until `renew_deadline` after the start of its last successful
  renewal; `renew_deadline` < `lease_seconds`, so it knows it lost before any other replica
  can take over (that one waits `lease_seconds` from when it first saw that renewal, which
  was after it was sent). `is_leader()` is that check; the operator's client asks it before
  every write.
- on shutdown the holder releases the Lease (holder emptied), so a standby takes over at its
  next poll instead of after `lease_seconds`.
- a term is one acquireTime: the holder's renewals keep it (also after a lapse of its own,
  as long as nobody else took the Lease), a takeover sets a new one. `grace` = `lease_seconds` -
  `renew_deadline` is how long after a lapse no other replica can have taken over yet.

A failed GET or update (5xx, 429, timeout, reset, an injected 409) is one failed round: a
holder tries again after 0.1-0.2 s, doubling up to `retry_seconds`, so that many rounds fit
in `renew_deadline`; a standby polls every `retry_seconds`. Only a lapse longer than
`renew_deadline` ends leadership.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from asrfleet_operator.kube import ApiError, KubeClient, Resource

LEASES = Resource("coordination.k8s.io/v1", "leases")
logger = logging.getLogger(__name__)
Clock = Callable[[], float]


def micro_time(now: datetime.datetime) -> str:
    """A MicroTime as the API server writes it."""
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseElector:
    """Acquire, renew and release one Lease; `is_leader()` says whether this process leads."""

    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        name: str,
        identity: str,
        *,
        lease_seconds: float = 15.0,
        retry_seconds: float = 2.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if not 0 < retry_seconds < lease_seconds:
            raise ValueError("the retry period must be shorter than the lease")
        self.client = client
        self.namespace, self.name, self.identity = namespace, name, identity
        self.lease_seconds = lease_seconds
        self.retry_seconds = retry_seconds
        # Renewing must succeed within this, well before another replica may take over.
        self.renew_deadline = max(retry_seconds, lease_seconds * 2 / 3)
        # After a lapse, no other replica can lead for this long yet: reads may go on.
        self.grace = lease_seconds - self.renew_deadline
        self.term: str | None = None  # acquireTime of the Lease while held: one per term
        self.clock = clock
        self.transitions = 0  # times this process became the leader
        self._valid_until = float("-inf")
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = float("-inf")
        self._changed = asyncio.Event()  # set after every round: waiters check again
        self._term_asked: str | None = None
        self._written: dict[str, Any] | None = None  # the Lease as our last write returned it

    def is_leader(self) -> bool:
        return self.clock() < self._valid_until

    async def wait_leading(self) -> None:
        while not self.is_leader():
            self._changed.clear()
            await self._changed.wait()

    async def wait_lost(self) -> None:
        """Return once leadership ended (a lapse of renewals), checked at least every round."""
        while self.is_leader():
            self._changed.clear()
            wait = max(0.0, self._valid_until - self.clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=wait)

    async def run(self) -> None:
        """Campaign and renew until cancelled."""
        failures = 0
        while True:
            was_leader = self.is_leader()
            started = self.clock()
            held = False
            try:
                held = await self.try_acquire_or_renew()
            except Exception as exc:  # one failed round; only a lapse ends leadership
                logger.warning(f"leader election ({self.namespace}/{self.name}): {exc!r}")
            if was_leader and not self.is_leader():
                self._log(False)  # lapsed while this round was under way
                was_leader = False
            if held:
                self._valid_until = started + self.renew_deadline
            if self.is_leader() != was_leader:
                self._log(self.is_leader())
            self._changed.set()  # waiters check again
            # A holder whose renewal failed tries again soon, many times within the deadline;
            # otherwise (renewed, or waiting as a standby) once a period.
            failures = failures + 1 if was_leader and not held else 0
            await asyncio.sleep(self._pause(failures))

    def _pause(self, failures: int) -> float:
        if not failures:
            return self.retry_seconds
        return float(random.uniform(0.5, 1.0) * min(self.retry_seconds, 0.2 * 2 ** (failures - 1)))

    def _log(self, leading: bool) -> None:
        if leading:
            self.transitions += 1
        state = "leads" if leading else "no longer leads"
        logger.info(f"{self.identity} {state} (Lease {self.namespace}/{self.name})")

    async def try_acquire_or_renew(self) -> bool:
        """One round: True if this process holds the Lease now."""
        now = self.clock()
        if self._written is not None:  # renewing: the Lease as our last write left it
            return await self._update(self._written, self.identity)
        lease = await self.client.get(LEASES, self.namespace, self.name)
        if lease is None:
            return await self._create()
        spec: Mapping[str, Any] = lease.get("spec") or {}
        meta: Mapping[str, Any] = lease.get("metadata") or {}
        holder = spec.get("holderIdentity") or ""
        record = (
            holder,
            spec.get("renewTime"),
            spec.get("leaseTransitions"),
            meta.get("resourceVersion"),
        )
        if record != self._observed:
            self._observed, self._observed_at = record, now
        duration = float(spec.get("leaseDurationSeconds") or self.lease_seconds)
        if holder and holder != self.identity and now < self._observed_at + duration:
            logger.debug(f"the Lease {self.namespace}/{self.name} is held by {holder}")
            return False  # held by another replica that renewed within the lease
        return await self._update(lease, holder)

    def _spec(self, acquire_time: str | None, transitions: int) -> dict[str, Any]:
        stamp = micro_time(datetime.datetime.now(datetime.UTC))
        self._term_asked = acquire_time or stamp
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": round(self.lease_seconds),
            "acquireTime": acquire_time or stamp,
            "renewTime": stamp,
            "leaseTransitions": transitions,
        }

    async def _create(self) -> bool:
        body = {
            "apiVersion": LEASES.api_version,
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": self._spec(None, 0),
        }
        try:
            self._written = await self.client.create(LEASES, self.namespace, body)
        except ApiError as exc:
            if exc.status == 409:
                return False  # another replica created it first
            raise
        self.term = self._term_asked
        return True

    async def _update(self, lease: Mapping[str, Any], holder: str) -> bool:
        spec: Mapping[str, Any] = lease.get("spec") or {}
        transitions = int(spec.get("leaseTransitions") or 0)
        ours = holder == self.identity
        body = {
            "apiVersion": LEASES.api_version,
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "resourceVersion": (lease.get("metadata") or {}).get("resourceVersion"),
            },
            "spec": self._spec(
                spec.get("acquireTime") if ours else None, transitions if ours else transitions + 1
            ),
        }
        self._written = None  # read it again next round, unless this write is answered
        try:
            written = await self.client.patch_if_unchanged(LEASES, self.namespace, self.name, body)
        except ApiError as exc:
            if exc.status == 409:  # the Lease changed since it was read: another replica won
                logger.info(f"the Lease {self.namespace}/{self.name} changed meanwhile: {exc}")
                return False
            raise
        self._written = written if (written or {}).get("metadata") else None
        self.term = self._term_asked
        return True

    async def release(self) -> None:
        """Give the Lease up (shutdown), so a standby need not wait for it to expire."""
        if not self.is_leader():
            return
        self._valid_until = float("-inf")
        self._written = None
        self._changed.set()
        try:
            lease = await self.client.get(LEASES, self.namespace, self.name)
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            spec = dict(lease.get("spec") or {})
            spec.update(holderIdentity="", leaseDurationSeconds=1)
            body = {**lease, "spec": spec}
            await self.client.patch_if_unchanged(LEASES, self.namespace, self.name, body)
            logger.info(f"{self.identity} released the Lease {self.namespace}/{self.name}")
        except Exception as exc:  # it expires on its own
            logger.warning(f"releasing the Lease {self.namespace}/{self.name}: {exc!r}")
