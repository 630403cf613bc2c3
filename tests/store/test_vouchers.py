"""Voucher pools in the store (``VoucherStore``), on every backend: import with duplicates,
the next unused code, one code per (pool, number), redemption and its refusals, the
events written with the changes, counts, a reopen; and on SQLite, many connections
issuing at once from threads: no code twice, no number with two codes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from smppgw.store.base import Target
from smppgw.store.redis import RedisStore
from smppgw.store.sqlite import SqliteStore
from smppgw.store.vouchers import PoolCounts, RedeemError, voucher_event
from tests.store.helpers import Backend


def _outbox(store: object) -> None:
    store.route_events(lambda kind, callback: [Target(endpoint="hooks", url="http://127.0.0.1:9/h")])  # type: ignore[attr-defined]


def test_an_import_adds_new_codes_in_order_and_reports_the_duplicates(backend: Backend) -> None:
    store = backend.open()
    first = store.import_vouchers("spring", [("S1", "spring"), ("S2", None), ("S1", None)], at=10.0)
    assert (first.imported, first.duplicates) == (2, ("S1",))  # twice in one import: the second refused
    again = store.import_vouchers("autumn", [("A1", None), ("S2", None)], at=11.0)  # S2 is spring's
    assert (again.imported, again.duplicates) == (1, ("S2",))
    found = store.get_voucher("S2")
    assert found is not None and (found.pool, found.campaign, found.state, found.imported_at) == (
        "spring",
        None,
        "available",
        10.0,
    )
    assert store.get_voucher("nope") is None


def test_a_number_gets_the_next_unused_code_once_and_the_same_one_again(backend: Backend) -> None:
    store = backend.open()
    _outbox(store)
    store.import_vouchers("p", [("C1", None), ("C2", "own"), ("C3", None)], at=1.0)
    one = store.issue_voucher("p", "447700900001", campaign="winter", at=5.0)
    assert one is not None
    record, new = one
    assert (record.code, new, record.issued_to, record.issued_at, record.campaign) == (
        "C1",
        True,
        "447700900001",
        5.0,
        "winter",  # a code imported without a campaign takes the one it is issued for
    )
    again = store.issue_voucher("p", "447700900001", campaign="other", at=9.0)
    assert again is not None and (again[0].code, again[1], again[0].issued_at) == ("C1", False, 5.0)
    two = store.issue_voucher("p", "447700900002", campaign="winter", at=6.0)
    assert two is not None and (two[0].code, two[0].campaign) == ("C2", "own")  # its own campaign stays
    assert store.issue_voucher("other-pool", "447700900001", campaign=None, at=6.0) is None
    three = store.issue_voucher("p", "447700900003", campaign=None, at=7.0)
    assert three is not None and three[0].code == "C3"
    assert store.issue_voucher("p", "447700900004", campaign=None, at=8.0) is None  # empty
    # Each code given once is one voucher.issued event, written with the change.
    events = store.events(types=["voucher.issued"])
    assert [(e.subject, e.sequence, e.data["issued_to"]) for e in events] == [
        ("voucher:C1", 1, "447700900001"),
        ("voucher:C2", 1, "447700900002"),
        ("voucher:C3", 1, "447700900003"),
    ]
    assert events[0].data["campaign"] == "winter" and events[0].data["state"] == "issued"


def test_redeeming_marks_an_issued_code_once(backend: Backend) -> None:
    store = backend.open()
    _outbox(store)
    store.import_vouchers("p", [("R1", "c"), ("R2", "c")], at=1.0)
    store.issue_voucher("p", "447700900001", campaign=None, at=2.0)
    done = store.redeem_voucher("R1", at=3.0)
    assert (done.state, done.redeemed_at, done.issued_to) == ("redeemed", 3.0, "447700900001")
    with pytest.raises(RedeemError) as twice:
        store.redeem_voucher("R1", at=4.0)
    assert twice.value.reason == "redeemed" and twice.value.record is not None
    assert twice.value.record.redeemed_at == 3.0  # the first redemption stands
    with pytest.raises(RedeemError) as unissued:
        store.redeem_voucher("R2", at=4.0)
    assert unissued.value.reason == "not_issued"
    with pytest.raises(RedeemError) as unknown:
        store.redeem_voucher("R9", at=4.0)
    assert (unknown.value.reason, unknown.value.record) == ("unknown", None)
    [event] = store.events(types=["voucher.redeemed"])
    assert (event.subject, event.sequence, event.data["redeemed_at"]) == (
        "voucher:R1",
        2,
        done.to_dict()["redeemed_at"],
    )


def test_counts_per_pool_and_per_campaign(backend: Backend) -> None:
    store = backend.open()
    store.import_vouchers("b", [("B1", "x"), ("B2", "y"), ("B3", None)], at=1.0)
    store.import_vouchers("a", [("A1", None)], at=1.0)
    store.issue_voucher("b", "1", campaign=None, at=2.0)
    store.issue_voucher("b", "2", campaign=None, at=2.0)
    store.redeem_voucher("B2", at=3.0)
    assert store.voucher_pools() == [
        PoolCounts(pool="a", total=1),
        PoolCounts(pool="b", total=3, issued=2, redeemed=1),
    ]
    assert store.voucher_report() == [
        PoolCounts(pool="a", campaign=None, total=1),
        PoolCounts(pool="b", campaign=None, total=1),
        PoolCounts(pool="b", campaign="x", total=1, issued=1),
        PoolCounts(pool="b", campaign="y", total=1, issued=1, redeemed=1),
    ]
    assert store.voucher_pools()[1].available == 1


def test_codes_and_who_has_them_survive_a_reopen(backend: Backend) -> None:
    store = backend.open()
    store.import_vouchers("p", [("K1", None), ("K2", None)], at=1.0)
    store.issue_voucher("p", "447700900001", campaign=None, at=2.0)
    store.close()
    again = backend.reopen()
    same = again.issue_voucher("p", "447700900001", campaign=None, at=3.0)
    assert same is not None and (same[0].code, same[1]) == ("K1", False)
    other = again.issue_voucher("p", "447700900002", campaign=None, at=3.0)
    assert other is not None and other[0].code == "K2"


def test_without_an_outbox_nothing_is_written_but_the_codes(backend: Backend) -> None:
    store = backend.open()
    store.import_vouchers("p", [("N1", None)], at=1.0)
    assert store.issue_voucher("p", "1", campaign=None, at=2.0) is not None
    store.redeem_voucher("N1", at=3.0)
    assert store.events() == []


def test_many_connections_issuing_at_once_never_share_a_code(tmp_path: Path) -> None:
    """Eight threads, each its own connection to one file (as several processes would
    be), ask for codes for 300 numbers, every number from several threads: 200 codes,
    so 100 numbers find the pool empty."""
    path = tmp_path / "v.sqlite3"
    setup = SqliteStore(path)
    setup.import_vouchers("p", [(f"V{i:04d}", None) for i in range(200)], at=1.0)
    setup.close()
    numbers = [f"4477009{i:05d}" for i in range(300)]
    got: list[tuple[str, str, bool]] = []
    empty: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker(k: int) -> None:
        store = SqliteStore(path)
        store._db.execute("PRAGMA busy_timeout = 10000")  # eight writers queue for the lock
        start.wait()
        try:
            for j in range(150):  # each number is asked by four of the eight threads
                number = numbers[(k * 37 + j * 2) % 300]
                found = store.issue_voucher("p", number, campaign=None, at=2.0)
                with lock:
                    if found is None:
                        empty.append(number)
                    else:
                        got.append((number, found[0].code, found[1]))
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert len(got) + len(empty) == 8 * 150
    new = [(n, c) for n, c, fresh in got if fresh]
    assert len(new) == 200  # every code given, each once
    assert len({c for _, c in new}) == 200 and len({n for n, _ in new}) == 200
    code_of = dict(new)
    assert all(code_of[n] == c for n, c, _ in got)  # a number asking again got its own code back
    assert not set(empty) & set(code_of)  # a number that has a code never found the pool empty
    check = SqliteStore(path)
    assert check.voucher_pools() == [PoolCounts(pool="p", total=200, issued=200)]
    rows = check._db.execute("SELECT issued_to, code FROM vouchers WHERE issued_to IS NOT NULL").fetchall()
    assert len(rows) == 200 and dict(rows) == code_of  # on disk: what each caller was told
    check.close()


def test_many_redis_clients_issuing_at_once_never_share_a_code(redis_url: str, redis_prefix: str) -> None:
    """The same on Redis: eight threads, each its own client (as several gateways would
    be), 300 numbers asked from several threads each, 200 codes; the events written are
    one per code, with the body Python would have written."""
    setup = RedisStore(redis_url, prefix=redis_prefix)
    setup.import_vouchers("p", [(f"V{i:04d}", "c" if i % 2 else None) for i in range(200)], at=1.0)
    setup.close()
    numbers = [f"4477009{i:05d}" for i in range(300)]
    got: list[tuple[str, str, bool]] = []
    empty: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker(k: int) -> None:
        store = RedisStore(redis_url, prefix=redis_prefix)
        _outbox(store)
        start.wait()
        try:
            for j in range(150):
                number = numbers[(k * 37 + j * 2) % 300]
                found = store.issue_voucher("p", number, campaign="spring", at=2.5 + j / 1000)
                with lock:
                    if found is None:
                        empty.append(number)
                    else:
                        got.append((number, found[0].code, found[1]))
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert len(got) + len(empty) == 8 * 150
    new = [(n, c) for n, c, fresh in got if fresh]
    assert len(new) == 200
    assert len({c for _, c in new}) == 200 and len({n for n, _ in new}) == 200
    code_of = dict(new)
    assert all(code_of[n] == c for n, c, _ in got)
    assert not set(empty) & set(code_of)
    check = RedisStore(redis_url, prefix=redis_prefix)
    try:
        assert check.voucher_pools() == [PoolCounts(pool="p", total=200, issued=200)]
        assert check.voucher_report() == [
            PoolCounts(pool="p", campaign="c", total=100, issued=100),
            PoolCounts(pool="p", campaign="spring", total=100, issued=100),  # took the issue's campaign
        ]
        for code in ("V0000", "V0001", "V0199"):
            found = check.get_voucher(code)
            assert found is not None and found.issued_to is not None and code_of[found.issued_to] == code
        events = check.events(types=["voucher.issued"], limit=1000)
        assert sorted((e.data["code"], e.data["issued_to"]) for e in events) == sorted((c, n) for n, c in new)
        [first] = [e for e in events if e.data["code"] == "V0000"]
        record = check.get_voucher("V0000")
        assert record is not None
        body = check._hget(f"event:{first.seq}", "body")
        assert body == voucher_event(record, "voucher.issued").body()  # byte for byte as Python's
        _outbox(check)
        check.import_vouchers("café", [("CODE-É1/x", "été")], at=3.0)
        accented = check.issue_voucher("café", "447700900001", campaign=None, at=4.0)
        assert accented is not None and accented[0].campaign == "été"
        [event] = check.events(types=["voucher.issued"], after=max(e.seq for e in events))
        assert (
            check._hget(f"event:{event.seq}", "body") == voucher_event(accented[0], "voucher.issued").body()
        )
    finally:
        check.close()
