"""Leader election on a Lease (leader.py) against the API emulator, each replica with its own
clock: one leader at a time, takeover only after the Lease went unrenewed for its duration as
the standby observed it, exactly one winner of a race, an immediate takeover after a release,
and a holder that knows it lost before anyone else may take over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from asrfleet_operator.controller.leader import LEASES, LeaseElector
from asrfleet_operator.kube import KubeClient
from support.kube_emulator import EmulatorHandle, running_emulator

LEASE = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


Elect = Callable[[str], tuple[LeaseElector, Clock]]


@pytest.fixture
async def elect() -> AsyncIterator[tuple[EmulatorHandle, Elect]]:
    async with running_emulator() as emu:
        clients: list[KubeClient] = []

        def make(identity: str) -> tuple[LeaseElector, Clock]:
            client = KubeClient(emu.connection_info())
            clients.append(client)
            clock = Clock()
            elector = LeaseElector(
                client, "default", "asrfleet", identity, lease_seconds=LEASE, clock=clock
            )
            return elector, clock

        try:
            yield emu, make
        finally:
            for client in clients:
                await client.close()


def holder(emu: EmulatorHandle) -> str | None:
    lease = emu.get("coordination.k8s.io/v1/leases", "default", "asrfleet")
    return None if lease is None else lease["spec"]["holderIdentity"]


async def test_the_first_candidate_leads_and_the_second_waits(
    elect: tuple[EmulatorHandle, Elect],
) -> None:
    emu, make = elect
    (a, clock_a), (b, clock_b) = make("a"), make("b")
    assert await a.try_acquire_or_renew() is True and holder(emu) == "a"
    assert await b.try_acquire_or_renew() is False
    for _ in range(5):  # a renews within the lease: b never takes over
        clock_a.now += 2
        clock_b.now += 2
        assert await a.try_acquire_or_renew() is True
        assert await b.try_acquire_or_renew() is False
    assert holder(emu) == "a"
    lease = emu.get("coordination.k8s.io/v1/leases", "default", "asrfleet")
    assert lease is not None and lease["spec"]["leaseDurationSeconds"] == LEASE
    assert LEASES.plural == "leases"


async def test_a_standby_takes_over_a_lease_left_unrenewed(
    elect: tuple[EmulatorHandle, Elect],
) -> None:
    emu, make = elect
    (a, _), (b, clock_b) = make("a"), make("b")
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()  # b first sees a's record now
    clock_b.now += LEASE - 1
    assert not await b.try_acquire_or_renew()  # not yet expired as b observed it
    clock_b.now += 2
    assert await b.try_acquire_or_renew() and holder(emu) == "b"
    lease = emu.get("coordination.k8s.io/v1/leases", "default", "asrfleet")
    assert lease is not None and lease["spec"]["leaseTransitions"] == 1
    assert not await a.try_acquire_or_renew()  # a comes back: b holds it now


async def test_the_holder_knows_it_lost_before_a_standby_may_take_over() -> None:
    elector = LeaseElector(KubeClient(), "default", "x", "a", lease_seconds=15, retry_seconds=2)
    assert elector.renew_deadline < elector.lease_seconds


async def test_of_two_racing_candidates_exactly_one_wins(
    elect: tuple[EmulatorHandle, Elect],
) -> None:
    emu, make = elect
    (old, _), (b, clock_b), (c, clock_c) = make("old"), make("b"), make("c")
    assert await old.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew() and not await c.try_acquire_or_renew()
    clock_b.now += LEASE + 1
    clock_c.now += LEASE + 1
    results = await asyncio.gather(b.try_acquire_or_renew(), c.try_acquire_or_renew())
    assert sorted(results) == [False, True]  # the loser's update got 409
    assert holder(emu) == ("b" if results[0] else "c")


async def test_a_released_lease_is_taken_over_at_once(
    elect: tuple[EmulatorHandle, Elect],
) -> None:
    emu, make = elect
    (a, _), (b, _) = make("a"), make("b")
    task = asyncio.create_task(a.run())
    try:
        await asyncio.wait_for(a.wait_leading(), timeout=30)
        assert not await b.try_acquire_or_renew()
    finally:
        task.cancel()
    await a.release()
    assert not a.is_leader() and holder(emu) == ""
    assert await b.try_acquire_or_renew() and holder(emu) == "b"  # no waiting for expiry


async def test_failed_rounds_never_make_a_leader_and_never_raise() -> None:
    import kopf

    unreachable = KubeClient(kopf.ConnectionInfo(server="http://127.0.0.1:9", insecure=True))
    elector = LeaseElector(unreachable, "default", "x", "a", lease_seconds=1.0, retry_seconds=0.05)
    task = asyncio.create_task(elector.run())
    try:
        await asyncio.sleep(0.3)
        assert not task.done() and not elector.is_leader()
    finally:
        task.cancel()
        await unreachable.close()
