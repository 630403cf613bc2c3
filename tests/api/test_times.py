"""Every time the API shows is ISO 8601 UTC with milliseconds (2026-12-06T14:03:22.123Z)."""

from __future__ import annotations

from datetime import UTC, datetime

from smppgw.api.views import inbound_view, iso, message_view, opt_out_view
from smppgw.store.base import InboundRecord, OptOutRecord, PartRecord, Status, advance
from tests.store.helpers import record

OFFSET = 1_700_000_000.0  # trio clock + OFFSET = wall clock


def wall(t: float | None) -> float | None:
    return None if t is None else t + OFFSET


def test_iso_is_utc_with_milliseconds_and_z() -> None:
    at = datetime(2026, 12, 6, 14, 3, 22, 123456, tzinfo=UTC).timestamp()
    assert iso(at) == "2026-12-06T14:03:22.123Z"
    assert iso(0.0) == "1970-01-01T00:00:00.000Z"
    assert iso(0.9999) == "1970-01-01T00:00:00.999Z"  # truncated: never a time not reached yet
    assert iso(None) is None
    assert datetime.fromisoformat(iso(at) or "").timestamp() == 1796565802.123  # read back by Python


def test_every_time_of_a_message_view_is_iso() -> None:
    r = record(1, parts=[PartRecord(1, 2, submitted_at=103.5, receipt_at=104.25), PartRecord(2, 2)])
    r.send_at = 102.0
    advance(r, Status.QUEUED, "gateway", 101.0, "accepted")
    advance(r, Status.SUBMITTED, "smpp", 103.5, "ESME_ROK")
    view = message_view(r, wall)
    assert (view["created_at"], view["send_at"]) == ("2023-11-14T22:15:01.000Z", "2023-11-14T22:15:02.000Z")
    assert view["updated_at"] == "2023-11-14T22:15:03.500Z"
    assert [(p["submitted_at"], p["receipt_at"]) for p in view["parts"]] == [
        ("2023-11-14T22:15:03.500Z", "2023-11-14T22:15:04.250Z"),
        (None, None),
    ]
    assert [h["at"] for h in view["history"]] == ["2023-11-14T22:15:01.000Z", "2023-11-14T22:15:03.500Z"]


def test_inbound_and_opt_out_times_are_iso() -> None:
    inbound = InboundRecord(seq=1, smsc="a", source="447700900001", destination="12345", text="YES",
                            data_coding=0, parts=1, complete=True, received_at=OFFSET + 5)  # fmt: skip
    assert inbound_view(inbound)["received_at"] == "2023-11-14T22:13:25.000Z"
    assert inbound_view(inbound)["text"] == "YES"
    opt_out = OptOutRecord(number="447700900001", created_at=OFFSET, reason="STOP")
    assert opt_out_view(opt_out) == {"number": "447700900001", "created_at": "2023-11-14T22:13:20.000Z",
                                     "reason": "STOP"}  # fmt: skip
