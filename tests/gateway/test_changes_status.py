"""Status changes from responses and receipts (issue 13 item 2): interim receipts move
to ``en_route``, nothing goes back (a late ``submitted`` goes into the history only),
every change is in the history with its source, listeners hear each move once."""

from __future__ import annotations

import trio
from trio.testing import MockClock

from smppgw.core.constants import MessageState
from smppgw.core.receipt import Receipt
from smppgw.gateway.changes import Changes
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.gateway.receipts import ReceiptBook
from smppgw.store.base import MessageRecord, PartRecord, Status, advance
from smppgw.store.memory import MemoryStore
from tests.gateway.helpers import gateway, memory_simulator, smsc, wait_all


def setup(*, per_message: bool = False) -> tuple[ReceiptBook, MemoryStore, list[Status]]:
    store = MemoryStore()
    changes = Changes(store, GatewayMetrics())
    told: list[Status] = []
    changes.listeners.append(lambda r: told.append(r.status))
    book = ReceiptBook(
        metrics=GatewayMetrics(),
        hold=60.0,
        bases={},
        on_change=changes.publish,
        per_message=frozenset({"a"}) if per_message else frozenset(),
    )
    return book, store, told


def message(parts: int = 1) -> MessageRecord:
    record = MessageRecord(id="m", source="12345", destination="447700900001", text="x")
    record.parts = [PartRecord(index=i + 1, total=parts) for i in range(parts)]
    record.status = Status.SUBMITTING
    return record


def receipt(smsc_id: str, state: MessageState) -> Receipt:
    return Receipt(message_id=smsc_id, state=state, stat=state.stat, error="000")


def test_an_interim_receipt_moves_the_part_and_then_the_message_to_en_route() -> None:
    book, store, told = setup()
    m = message(2)
    book.submitted("a", m, m.parts[0], "1", 1.0)
    book.submitted("a", m, m.parts[1], "2", 1.0)
    book.receipt("a", receipt("1", MessageState.ENROUTE), 2.0)
    assert [p.status for p in m.parts] == [Status.EN_ROUTE, Status.SUBMITTED]
    assert m.status is Status.SUBMITTED  # not every part is there yet
    book.receipt("a", receipt("2", MessageState.ACCEPTED), 3.0)
    assert [p.status for p in m.parts] == [Status.EN_ROUTE, Status.EN_ROUTE]
    assert m.status is Status.EN_ROUTE and not m.is_final
    assert store.get("m") is m and told[-1] is Status.EN_ROUTE
    assert m.history[-1] == (Status.EN_ROUTE, 3.0, "receipt", "part 2/2: ACCEPTD err:000", True)
    book.receipt("a", receipt("1", MessageState.DELIVERED), 4.0)
    book.receipt("a", receipt("2", MessageState.DELIVERED), 5.0)
    assert m.status is Status.DELIVERED and m.to_dict()["final"] is True


def test_an_interim_receipt_on_one_part_message_is_en_route_and_keeps_its_source() -> None:
    book, _, _ = setup()
    m = message()
    book.submitted("a", m, m.parts[0], "1", 1.0)
    book.receipt("a", receipt("1", MessageState.ENROUTE), 2.0)
    assert (m.status, m.parts[0].status) == (Status.EN_ROUTE, Status.EN_ROUTE)
    assert [(h[0], h[2], h[3]) for h in m.history] == [
        (Status.SUBMITTED, "smpp", "ESME_ROK"),
        (Status.EN_ROUTE, "receipt", "ENROUTE err:000"),
    ]
    view = m.to_dict()
    assert (view["status"], view["final"], view["parts"][0]["final"]) == ("en_route", False, False)


def test_a_late_submitted_after_delivered_goes_into_the_history_only() -> None:
    # One receipt per message (receipts = "message"): part 2's receipt settles part 1
    # before part 1's submit_sm_resp arrives.
    book, store, told = setup(per_message=True)
    m = message(2)
    book.submitted("a", m, m.parts[1], "2", 1.0)
    book.receipt("a", receipt("2", MessageState.DELIVERED), 2.0)
    assert m.status is Status.DELIVERED
    told_before = list(told)
    book.submitted("a", m, m.parts[0], "1", 3.0)  # the late resp
    assert m.status is Status.DELIVERED
    assert [p.status for p in m.parts] == [Status.DELIVERED, Status.DELIVERED]
    assert m.parts[0].smsc_message_id == "1"  # still correlated, for duplicates
    assert m.history[-1] == (Status.SUBMITTED, 3.0, "smpp", "ESME_ROK", False)
    assert told == told_before  # saved, not told again (no second webhook)
    assert store.get("m") is m
    view = m.to_dict()
    assert (view["parts_delivered"], view["parts_total"]) == (2, 2)


def test_a_restart_does_not_take_an_en_route_part_back_to_submitted() -> None:
    book, _, _ = setup()
    m = message()
    book.submitted("a", m, m.parts[0], "1", 1.0)
    book.receipt("a", receipt("1", MessageState.ENROUTE), 2.0)
    history = list(m.history)
    # The restore path: the part had its id; correlation is rebuilt with it.
    book.submitted("a", m, m.parts[0], "1", 3.0, sent_at=1.0)
    assert (m.status, m.parts[0].status) == (Status.EN_ROUTE, Status.EN_ROUTE)
    assert m.history == history  # nothing happened to the message


def test_a_late_receipt_moves_unknown_to_the_real_outcome() -> None:
    book, _, told = setup()
    m = message()
    book.submitted("a", m, m.parts[0], "1", 1.0)
    m.parts[0].status = Status.UNKNOWN  # the receipt deadline passed
    advance(m, Status.UNKNOWN, "gateway", 5.0, "no receipt")
    book.receipt("a", receipt("1", MessageState.UNDELIVERABLE), 9.0)
    assert (m.status, m.parts[0].status, m.error) == (Status.UNDELIVERABLE, Status.UNDELIVERABLE, "UNDELIV")
    assert told[-1] is Status.UNDELIVERABLE  # the event is emitted
    assert m.history[-1] == (Status.UNDELIVERABLE, 9.0, "receipt", "UNDELIV err:000", True)
    book.receipt("a", receipt("1", MessageState.DELIVERED), 10.0)  # and nothing after that
    assert m.status is Status.UNDELIVERABLE


async def test_fail_on_a_final_message_is_history_only() -> None:
    store = MemoryStore()
    changes = Changes(store, GatewayMetrics())
    told: list[Status] = []
    changes.listeners.append(lambda r: told.append(r.status))
    m = message()
    changes.fail(m, Status.REJECTED, "ESME_RINVDSTADR", "smpp")
    changes.fail(m, Status.REJECTED, "ESME_RINVDSTADR", "smpp")  # its next part: nothing new
    changes.fail(m, Status.BLOCKED, "destination opted out", "api")
    assert (m.status, m.error, told) == (Status.REJECTED, "ESME_RINVDSTADR", [Status.REJECTED])
    assert [(h[0], h[2], h[3], h[4]) for h in m.history] == [
        (Status.REJECTED, "smpp", "ESME_RINVDSTADR", True),
        (Status.BLOCKED, "api", "destination opted out", False),
    ]


async def test_the_history_of_a_message_through_the_gateway(autojump_clock: MockClock) -> None:
    with trio.fail_after(20):
        async with memory_simulator(behaviour={"dlr_delay": 0.05}) as sim, gateway(smsc(sim)) as gw:
            record = gw.submit(source="12345", destination="447700900001", text="hello")
            await wait_all(gw, [record], 10)
    assert record.status is Status.DELIVERED
    assert [(h[0], h[2], h[3], h[4]) for h in record.history] == [
        (Status.QUEUED, "gateway", "accepted", True),
        (Status.SUBMITTING, "gateway", None, True),
        (Status.SUBMITTED, "smpp", "ESME_ROK", True),
        (Status.DELIVERED, "receipt", "DELIVRD err:000", True),
    ]
    times = [h[1] for h in record.history]
    assert times == sorted(times) and times[-1] == record.updated_at
