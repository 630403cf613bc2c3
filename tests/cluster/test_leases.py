"""Bind-slot leases on a real Redis (cluster/leases.py): three keepers on separate
clients, four slots."""

from __future__ import annotations

import math
from collections.abc import Callable

import trio

from smppgw.cluster.leases import Lease, RedisLeases
from tests.cluster.helpers import RedisRelay, SharedRedis, clients

SLOTS = 4


async def _grab(keeper: RedisLeases, want: int, until: float, held: list[Lease]) -> None:
    """Try to hold ``want`` slots until ``until``, as a bind pool's slot tasks would: a
    lease lost is released (its bind closed first)."""
    async with trio.open_nursery() as nursery:
        while trio.current_time() < until:
            if len([lease for lease in keeper.held if not lease.lost]) < want:
                lease = await keeper.acquire("carrier", SLOTS, range(SLOTS))
                if lease is not None:
                    lease.on_lost = lambda why, lease=lease: nursery.start_soon(keeper.release, lease)
                    held.append(lease)
                    continue
            await trio.sleep(0.02)


async def test_three_keepers_never_hold_more_than_the_slots_and_share_them(shared: SharedRedis) -> None:
    async with clients(shared.url, 3, cluster=shared.cluster) as redis:
        keepers = [RedisLeases(c, shared.prefix, ttl=1.5) for c in redis]
        taken: list[Lease] = []
        most = 0

        async def watch(until: float) -> None:
            nonlocal most
            while trio.current_time() < until:
                live = [lease for k in keepers for lease in k.held if not lease.lost]
                most = max(most, len(live))
                assert len({lease.slot for lease in live}) == len(live)  # no slot twice
                await trio.sleep(0.005)

        def live(keeper: RedisLeases) -> int:
            return len([lease for lease in keeper.held if not lease.lost])

        async def reached(what: str, done: Callable[[], bool], limit: float) -> None:
            # Waited for, not slept on: a loaded CI machine takes longer to get there.
            with trio.move_on_after(limit):
                while not done():
                    await trio.sleep(0.02)
            assert done(), f"{what}: not within {limit} s (held: {[live(k) for k in keepers]})"

        until = math.inf  # the tasks run until the nursery is cancelled
        async with trio.open_nursery() as nursery:
            for keeper in keepers:
                await nursery.start(keeper.run)
            nursery.start_soon(watch, until)
            nursery.start_soon(_grab, keepers[0], SLOTS, until, taken)
            await reached("the first gateway alone takes every slot", lambda: live(keepers[0]) == SLOTS, 10)
            for keeper in keepers[1:]:
                nursery.start_soon(_grab, keeper, SLOTS, until, taken)
            await reached("the fair share", lambda: sorted(live(k) for k in keepers) == [1, 1, 2], 15)
            await trio.sleep(0.5)  # and it holds
            nursery.cancel_scope.cancel()
        assert most == SLOTS  # every slot used, none twice, never more than 4
        counts = sorted(len([lease for lease in k.held if not lease.lost]) for k in keepers)
        assert counts == [1, 1, 2]  # the fair share, whoever started first
        assert sum(lease.lost for lease in taken) >= 2  # the first gave binds back (surplus)


async def test_a_keeper_that_stops_renewing_loses_its_leases_to_the_others(shared: SharedRedis) -> None:
    async with clients(shared.url, 2, cluster=shared.cluster) as (a, b):
        dead = RedisLeases(a, shared.prefix, ttl=1.0)
        alive = RedisLeases(b, shared.prefix, ttl=1.0)
        for _ in range(SLOTS):
            assert await dead.acquire("carrier", SLOTS, range(SLOTS)) is not None
        assert await alive.acquire("carrier", SLOTS, range(SLOTS)) is None  # all held
        # ``dead`` never runs its renewals (a killed process): after the TTL its slots
        # are free, and the other keeper takes them all.
        await trio.sleep(1.1)
        got = [await alive.acquire("carrier", SLOTS, range(SLOTS)) for _ in range(SLOTS)]
        assert sorted(lease.slot for lease in got if lease is not None) == [0, 1, 2, 3]


async def test_renewed_leases_outlive_the_ttl_and_release_frees_a_slot(shared: SharedRedis) -> None:
    async with clients(shared.url, 2, cluster=shared.cluster) as (a, b):
        owner = RedisLeases(a, shared.prefix, ttl=0.6)
        other = RedisLeases(b, shared.prefix, ttl=0.6)
        async with trio.open_nursery() as nursery:
            await nursery.start(owner.run)
            leases = [await owner.acquire("carrier", 2, range(2)) for _ in range(2)]
            await trio.sleep(1.5)  # > 2 TTLs: kept by the renewals
            assert await other.acquire("carrier", 2, range(2)) is None
            assert all(lease is not None and not lease.lost for lease in leases)
            assert leases[1] is not None
            await owner.release(leases[1])
            taken = await other.acquire("carrier", 2, [1, 0])
            assert taken is not None and taken.slot == leases[1].slot
            nursery.cancel_scope.cancel()


async def test_a_keeper_cut_off_from_redis_gives_up_its_binds_before_others_may_take_them(
    redis_url: str, redis_prefix: str
) -> None:
    closed: list[tuple[float, str]] = []
    async with trio.open_nursery() as nursery:
        relay = RedisRelay(redis_url)
        await nursery.start(relay.run)
        async with clients(relay.url, 1) as (redis,), clients(redis_url, 1) as (direct,):
            keeper = RedisLeases(redis, redis_prefix, ttl=1.0, timeout=0.2)
            other = RedisLeases(direct, redis_prefix, ttl=1.0)
            await nursery.start(keeper.run)
            lease = await keeper.acquire("carrier", 1, [0])
            assert lease is not None
            lease.on_lost = lambda why: closed.append((trio.current_time(), why))
            cut_at = trio.current_time()
            relay.cut()
            with trio.fail_after(3):
                while await other.acquire("carrier", 1, [0]) is None:
                    await trio.sleep(0.01)
            taken_at = trio.current_time()
            # The bind was given up before the slot could go to another gateway.
            assert closed and closed[0][0] < taken_at and "Redis" in closed[0][1]
            assert closed[0][0] - cut_at < 1.0
            relay.restore()
        nursery.cancel_scope.cancel()
