"""Shared limits on a real Redis (cluster/limits.py): separate clients, as separate
gateways would be, in real time (short, bounded runs)."""

from __future__ import annotations

import trio

from smppgw.cluster.limits import RedisAccount, RedisLimits, gcra_params
from tests.cluster.helpers import RedisRelay, SharedRedis, clients, max_in_window


async def _hammer(
    account: RedisAccount, keys: tuple[tuple[str, float], ...], until: float, times: list[float]
) -> None:
    """Ask as fast as answers come (a burst at a time); record each granted send's time."""
    while (now := trio.current_time()) < until:
        granted, wait, _ = await account.acquire(keys, 5)
        if granted:
            times.extend([trio.current_time()] * granted)
        else:
            await trio.sleep(min(wait, until - now))


async def test_three_limiters_never_pass_more_than_the_limit_in_any_second(shared: SharedRedis) -> None:
    times: list[float] = []
    async with clients(shared.url, 3, cluster=shared.cluster) as redis:
        accounts = [RedisLimits(c, shared.prefix).account("carrier", 300) for c in redis]
        until = trio.current_time() + 2.5
        async with trio.open_nursery() as nursery:
            for account in accounts:
                nursery.start_soon(_hammer, account, (), until, times)
    assert max_in_window(times) <= 300
    # ... over several windows: more than one second's worth was granted (up to ~292/s:
    # bursts of 3 cost 2 of each second; fewer when Redis answers slowly).
    assert len(times) > 300, len(times)


async def test_a_sender_limit_and_an_account_limit_are_charged_together(
    redis_url: str, redis_prefix: str
) -> None:
    """Two gateways, one sender limited to 20/s within an account of 50/s: the sender's
    sends never pass 20 in a second, everything together never 50, and a send refused by
    one key charges no other (the other sender still gets the account's rest)."""
    limited: list[float] = []
    everything: list[float] = []
    async with clients(redis_url, 2) as redis:
        accounts = [RedisLimits(c, redis_prefix).account("carrier", 50) for c in redis]
        until = trio.current_time() + 2.0

        async with trio.open_nursery() as nursery:
            for account in accounts:
                nursery.start_soon(_hammer, account, (("sender:12345", 20.0),), until, limited)
                nursery.start_soon(_hammer, account, (), until, everything)
    assert max_in_window(limited) <= 20
    assert max_in_window([*limited, *everything]) <= 50
    # Refused sends charge nothing: the unlimited sender took the account's rest.
    assert len(everything) >= 2 * (50 - 20) - 10, (len(limited), len(everything))


async def test_the_blocking_key_is_named(shared: SharedRedis) -> None:
    async with clients(shared.url, 1, cluster=shared.cluster) as (redis,):
        account = RedisLimits(redis, shared.prefix).account("carrier", 1000)
        granted, wait, whole = await account.acquire((("sender:1", 1.0),), 1)
        assert (granted, wait, whole) == (1, 0.0, False)
        granted, wait, whole = await account.acquire((("sender:1", 1.0),), 1)
        assert granted == 0 and 0.9 < wait <= 1.03 and not whole  # the sender, not the account
        no_account = RedisLimits(redis, shared.prefix).account("other", None)
        assert await no_account.acquire((), 7) == (7, 0.0, False)  # nothing limits it: no call


async def test_one_nodes_throttle_lowers_every_nodes_rate(shared: SharedRedis) -> None:
    async with clients(shared.url, 3, cluster=shared.cluster) as redis:
        limits = [RedisLimits(c, shared.prefix) for c in redis]
        accounts = [lim.account("carrier", 100) for lim in limits]
        for account in accounts:
            await account.acquire((), 1)
            assert account.rate == 100
        assert await accounts[0].signal("cut")  # node 0 heard ESME_RTHROTTLED
        assert not await accounts[1].signal("cut")  # within the hold: one burst is one signal
        await accounts[2].acquire((), 1)  # node 2 sends at the shared, lower rate
        assert accounts[2].rate is not None and 50 <= accounts[2].rate < 51
        # The interval the other nodes get follows the cut rate: 50/s, not 100/s.
        async with trio.open_nursery() as nursery:
            times: list[float] = []
            until = trio.current_time() + 1.0
            for account in accounts[1:]:
                nursery.start_soon(_hammer, account, (), until, times)
        assert max_in_window(times) <= 53  # grows back by 100/40 per second meanwhile
        assert accounts[1].rate is not None and 50 <= accounts[1].rate < 55  # (no growth within the hold)


async def test_signals_queued_by_the_dispatchers_are_sent_by_run(shared: SharedRedis) -> None:
    async with clients(shared.url, 2, cluster=shared.cluster) as (a, b):
        lim = RedisLimits(a, shared.prefix)
        account = lim.account("carrier", 80)
        other = RedisLimits(b, shared.prefix).account("carrier", 80)
        async with trio.open_nursery() as nursery:
            await nursery.start(lim.run)
            for _ in range(10):  # a burst of rejects: queued once
                account.throttled()
            assert account.pending == {"cut"}
            with trio.fail_after(2):
                while account.pending or account.rate == 80:
                    await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
        await other.acquire((), 1)
        assert other.rate == 40


async def test_redis_away_pauses_sending_and_it_resumes(redis_url: str, redis_prefix: str) -> None:
    async with trio.open_nursery() as nursery:
        relay = RedisRelay(redis_url)
        await nursery.start(relay.run)
        async with clients(relay.url, 1) as (redis,):
            lim = RedisLimits(redis, redis_prefix, timeout=0.5)
            account = lim.account("carrier", 100)
            assert (await account.acquire((), 1))[0] == 1
            relay.cut()
            granted, wait, whole = await account.acquire((), 1)
            assert (granted, whole) == (0, True) and wait >= 0.5  # fail closed: pause
            assert lim.away
            relay.restore()
            with trio.fail_after(5):
                while (await account.acquire((), 1))[0] != 1:
                    await trio.sleep(0.1)
            assert not lim.away
        nursery.cancel_scope.cancel()


def test_gcra_params() -> None:
    assert gcra_params(300) == (1.02 / 298, 3)  # a burst of 3 costs 2 of each second
    assert gcra_params(50) == (1.02 / 49, 2)  # at least 2: a late request loses nothing
    assert gcra_params(1) == (1.02, 1)
    interval, burst = gcra_params(0.5)  # one every 2 s (with the slack)
    assert burst == 1 and abs(interval - 2.04) < 1e-9
