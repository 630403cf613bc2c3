"""MessageLog: newest last, the oldest forgotten past ``limit``, in O(1) per add."""

from __future__ import annotations

from simulator.message_log import Message, MessageLog
from smppgw.core.pdu import SubmitSm


def _message(message_id: str) -> Message:
    pdu = SubmitSm(destination_addr="447700900001", short_message=b"hi")
    return Message(message_id, message_id, 0, "acct", 1, pdu, pdu, b"hi", 0.0, 0.0)


def test_the_oldest_are_forgotten_past_the_limit_in_insertion_order() -> None:
    store = MessageLog(limit=3)
    for i in range(10):
        store.add(_message(f"m{i}"))
        assert len(store) == min(i + 1, 3)
    assert [m.message_id for m in store.newest_first()] == ["m9", "m8", "m7"]
    assert store.get("m6") is None and store.get("m7") is not None


def test_a_re_added_id_keeps_its_place_and_eviction_stays_consistent() -> None:
    store = MessageLog(limit=3)
    for name in ("a", "b", "c"):
        store.add(_message(name))
    replacement = _message("a")
    store.add(replacement)  # same id: replaced in place, not a fourth message
    assert len(store) == 3 and store.get("a") is replacement
    store.add(_message("d"))  # evicts the oldest: "a"
    assert [m.message_id for m in store.newest_first()] == ["d", "c", "b"]
    for name in ("e", "f", "g"):
        store.add(_message(name))
    assert [m.message_id for m in store.newest_first()] == ["g", "f", "e"]
    store.clear()
    assert len(store) == 0
    store.add(_message("h"))
    assert [m.message_id for m in store.newest_first()] == ["h"]


def test_adds_past_the_limit_do_not_slow_down() -> None:
    """The old eviction (``del d[next(iter(d))]``) scanned the holes at the front of the
    dict: 100k adds past a 200k limit took seconds. Counted, not timed: the store's
    eviction order must touch one id per add (its deque holds exactly the stored ids)."""
    store = MessageLog(limit=1000)
    for i in range(5000):
        store.add(_message(f"m{i}"))
    assert len(store) == 1000
    assert list(store._order) == [f"m{i}" for i in range(4000, 5000)]
