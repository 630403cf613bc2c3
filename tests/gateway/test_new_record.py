"""new_record builds the same MessageRecord as the keyword constructor, defaults or not."""

from __future__ import annotations

import os
import time
from typing import Any

import attrs
import pytest

from smppgw.gateway.messages import SubmitError, new_record
from smppgw.store.base import MessageRecord


@pytest.mark.parametrize(
    "options",
    [
        {},
        {
            "encoding": "ucs2",
            "dlr": False,
            "validity": 3600.0,
            "priority": 2,
            "tags": ["otp", "eu"],
            "message_id": "m-1",
            "idempotency_key": "k-1",
            "callback_url": "http://127.0.0.1:9/cb",
        },
        {"tags": iter(()), "priority": 0, "validity": None},
    ],
)
def test_new_record_matches_the_keyword_constructor(options: dict[str, Any]) -> None:
    record, src, dst = new_record(
        12.5, 7, {"source": "12345", "destination": "+447700900001", "text": "hi", **options}
    )
    expected = MessageRecord(
        id=record.id if "message_id" not in options else options["message_id"],
        source="12345",
        destination="447700900001",
        text="hi",
        encoding=options.get("encoding", "auto"),
        dlr=options.get("dlr", True),
        validity=options.get("validity"),
        priority=options.get("priority", 0),
        tags=("otp", "eu") if options.get("tags") == ["otp", "eu"] else (),
        created_at=12.5,
        updated_at=12.5,
        idempotency_key=options.get("idempotency_key"),
        callback_url=options.get("callback_url"),
        reference=7,
    )
    assert attrs.asdict(record) == attrs.asdict(expected)
    assert (src.addr, dst.addr) == ("12345", "447700900001")
    assert len(record.id) == 32 or record.id == "m-1"


def test_fields_are_checked_as_a_call_checks_its_keywords() -> None:
    with pytest.raises(TypeError, match="unknown submit fields: colour"):
        new_record(0.0, 1, {"source": "12345", "destination": "447700900001", "text": "x", "colour": 1})
    with pytest.raises(TypeError, match="missing submit field: text"):
        new_record(0.0, 1, {"source": "12345", "destination": "447700900001"})
    with pytest.raises(SubmitError, match="encoding"):
        new_record(
            0.0, 1, {"source": "12345", "destination": "447700900001", "text": "x", "encoding": "ebcdic"}
        )


def test_none_means_the_default_as_the_api_sends_it() -> None:
    record, _, _ = new_record(0.0, 1, {
        "source": "12345", "destination": "447700900001", "text": "x", "encoding": None, "dlr": None,
        "validity": None, "priority": None, "tags": None, "message_id": None,
        "idempotency_key": None, "callback_url": None,
    })  # fmt: skip
    assert (record.encoding, record.dlr, record.validity, record.priority, record.tags) == (
        "auto",
        True,
        None,
        0,
        (),
    )
    assert len(record.id) == 32


def test_generated_ids_are_unique_across_batches_and_start_with_the_time() -> None:
    ids = [
        new_record(0.0, 1, {"source": "12345", "destination": "447700900001", "text": "x"})[0].id
        for _ in range(600)
    ]
    assert len(set(ids)) == 600  # 600 > 2 batches of 256: refills give new ids too
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    # The first 48 bits are the wall clock in ms (the store's indexes grow at their end).
    now_ms = time.time_ns() // 1_000_000
    assert all(now_ms - 60_000 <= int(i[:12], 16) <= now_ms for i in ids)
    assert [i[:12] for i in ids] == sorted(i[:12] for i in ids)
    assert len({i[12:] for i in ids}) == 600  # the random 80 bits differ within a millisecond


def test_a_later_id_sorts_after_an_earlier_one() -> None:
    def next_id() -> str:
        return new_record(0.0, 1, {"source": "12345", "destination": "447700900001", "text": "x"})[0].id

    first = next_id()
    time.sleep(0.002)
    assert next_id() > first


def test_a_forked_child_does_not_repeat_the_parents_ids() -> None:
    def next_id() -> str:
        return new_record(0.0, 1, {"source": "12345", "destination": "447700900001", "text": "x"})[0].id

    next_id()  # a batch is buffered: a child that kept it would return the parent's next id
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report one id and leave without running pytest's cleanup
        os.write(write, next_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 32
    assert child != next_id()
