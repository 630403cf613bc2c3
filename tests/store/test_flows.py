"""Flows in the store (``FlowStore``), on every backend: definitions put, replaced and
deleted; one active run per (number, sender), checked in the write; a change written
with its events; the due runs, earliest first; everything read back across a reopen; on
Redis, several clients starting the same pairs at once."""

from __future__ import annotations

import threading

import pytest

from smppgw.store.base import ActiveRunExists, FlowDefinition, FlowRunRecord, FlowStore, Target
from smppgw.store.flows import MAX_TRANSCRIPT, flow_event
from smppgw.store.redis import RedisStore
from tests.store.helpers import Backend


def flows(backend: Backend, *, reopen: bool = False) -> FlowStore:
    store = backend.reopen() if reopen else backend.open()
    assert isinstance(store, FlowStore)
    return store


def run(i: int, **kw: object) -> FlowRunRecord:
    fields: dict[str, object] = {
        "id": f"r{i}", "flow": "booking", "number": "447700900001", "sender": "12345", "status": "active",
        "state": {"flow": "booking", "step": "pick", "status": "active", "vars": {"name": "Ann"}},
        "created_at": 1_000.0 + i, "updated_at": 1_000.0 + i,
    }  # fmt: skip
    fields.update(kw)
    return FlowRunRecord(**fields)  # type: ignore[arg-type]


def test_definitions_are_put_replaced_listed_and_deleted(backend: Backend) -> None:
    store = flows(backend)
    store.put_flow(FlowDefinition(name="survey", definition={"start": "a"}, created_at=1.0, updated_at=1.0))
    store.put_flow(FlowDefinition(name="booking", definition={"start": "x"}, created_at=2.0, updated_at=2.0))
    store.put_flow(FlowDefinition(name="survey", definition={"start": "b"}, created_at=3.0, updated_at=3.0))
    backend_store = flows(backend, reopen=True)
    assert [d.name for d in backend_store.flow_definitions()] == ["booking", "survey"]
    found = backend_store.get_flow("survey")
    assert found is not None
    assert (found.definition, found.created_at, found.updated_at) == ({"start": "b"}, 1.0, 3.0)
    assert backend_store.delete_flow("survey") is True and backend_store.delete_flow("survey") is False
    assert backend_store.get_flow("survey") is None and backend_store.get_flow("nope") is None


def test_one_active_run_per_number_and_sender(backend: Backend) -> None:
    store = flows(backend)
    store.add_flow_run(run(1))
    with pytest.raises(ActiveRunExists) as caught:
        store.add_flow_run(run(2))
    assert caught.value.run_id == "r1"
    assert store.get_flow_run("r2") is None  # nothing written
    store.add_flow_run(run(3, sender="54321"))  # another sender: its own run
    store.add_flow_run(run(4, number="447700900002"))  # another number too
    store.add_flow_run(run(5, status="stopped"))  # an ended run is no conflict
    found = store.active_flow_run("447700900001", "12345")
    assert found is not None and found.id == "r1"
    assert store.active_flow_run("447700900001", "99999") is None
    ended = store.get_flow_run("r1")
    assert ended is not None
    ended.status = "completed"
    store.save_flow_run(ended)
    assert store.active_flow_run("447700900001", "12345") is None
    store.add_flow_run(run(6))  # the pair is free again
    again = flows(backend, reopen=True)
    found = again.active_flow_run("447700900001", "12345")
    assert found is not None and found.id == "r6"


def test_a_change_is_saved_with_its_events_and_read_back(backend: Backend) -> None:
    store = backend.open()
    store.route_events(lambda kind, url: [Target(endpoint="hook", url="http://hook.test/")])
    assert isinstance(store, FlowStore)
    record = run(1, tenant="acme", source="api")
    record.note(
        {"at": 1_001.0, "direction": "out", "text": "Pick a slot", "step": "pick", "message_id": "m1"}
    )
    store.add_flow_run(record, [flow_event(record, "flow.step", {}, 1_001.0)])
    record.note({"at": 1_002.0, "direction": "in", "text": "2", "step": "pick", "inbound_seq": 4})
    record.state = {**record.state, "step": "done", "status": "completed", "vars": {"slot": "x"}}
    record.status, record.updated_at = "completed", 1_002.0
    store.save_flow_run(record, [flow_event(record, "flow.completed", {"vars": {"slot": "x"}}, 1_002.0)])
    store.close()
    again = backend.reopen()
    assert isinstance(again, FlowStore)
    found = again.get_flow_run("r1")
    assert found is not None
    assert (found.status, found.events, found.tenant, found.source) == ("completed", 2, "acme", "api")
    assert [e["text"] for e in found.transcript] == ["Pick a slot", "2"]
    assert found.state["vars"] == {"slot": "x"}
    events = again.events(types=["flow.step", "flow.completed"])
    assert [(e.type, e.sequence, e.subject) for e in events] == [
        ("flow.step", 1, "flow_run:r1"),
        ("flow.completed", 2, "flow_run:r1"),
    ]
    assert events[1].data["vars"] == {"slot": "x"} and events[1].data["status"] == "completed"
    assert [d.endpoint for d in again.deliveries(subject="flow_run:r1")] == ["hook", "hook"]
    view = found.to_dict()
    assert view["transcript"][1]["at"] == "1970-01-01T00:16:42.000Z" and view["to"] == "447700900001"


def test_due_runs_come_earliest_first_and_only_active_ones(backend: Backend) -> None:
    store = flows(backend)
    assert store.next_flow_due() is None and store.due_flow_runs(10_000.0) == []
    store.add_flow_run(run(1, next_due=2_000.0))
    store.add_flow_run(run(2, number="447700900002", next_due=1_500.0))
    store.add_flow_run(run(3, number="447700900003"))  # waits for an answer only
    store.add_flow_run(run(4, number="447700900004", next_due=1_200.0, status="expired"))
    assert store.next_flow_due() == 1_500.0
    assert [r.id for r in store.due_flow_runs(1_999.0)] == ["r2"]
    assert [r.id for r in store.due_flow_runs(5_000.0)] == ["r2", "r1"]
    assert [r.id for r in store.due_flow_runs(5_000.0, limit=1)] == ["r2"]
    again = flows(backend, reopen=True)
    assert again.next_flow_due() == 1_500.0


def test_the_transcript_keeps_the_newest_entries() -> None:
    record = run(1)
    for i in range(MAX_TRANSCRIPT + 3):
        record.note({"at": float(i), "direction": "in", "text": str(i)})
    assert len(record.transcript) == MAX_TRANSCRIPT and record.transcript[0]["text"] == "3"


def test_two_redis_clients_starting_the_same_pairs_at_once_win_once_each(
    redis_url: str, redis_prefix: str
) -> None:
    """Four threads, each its own client (as four gateways), start a run for each of 50
    (number, sender) pairs at once: each pair has exactly one active run, the others
    were refused naming it."""
    won: list[tuple[str, str]] = []
    refused: list[tuple[str, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def worker(k: int) -> None:
        store = RedisStore(redis_url, prefix=redis_prefix)
        start.wait()
        try:
            for j in range(50):
                number = f"4477009{j:05d}"
                try:
                    store.add_flow_run(run(k * 100 + j, number=number))
                    with lock:
                        won.append((number, f"r{k * 100 + j}"))
                except ActiveRunExists as exc:
                    with lock:
                        refused.append((number, exc.run_id))
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    winner = dict(won)
    assert len(won) == 50 and len(winner) == 50 and len(refused) == 150
    assert all(winner[n] == r for n, r in refused)  # each refusal named the run that won
    check = RedisStore(redis_url, prefix=redis_prefix)
    try:
        for number, run_id in winner.items():
            found = check.active_flow_run(number, "12345")
            assert found is not None and found.id == run_id
    finally:
        check.close()
