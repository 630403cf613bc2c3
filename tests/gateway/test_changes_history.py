"""The history of status changes is kept by both stores (SQLite: its own table, written
in the record's transaction) and shown by the API's message view with ``final`` and the
parts rollup (issue 13 item 2)."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import trio

from smppgw.api.app import message_view
from smppgw.api.views import iso
from smppgw.gateway.changes import Changes
from smppgw.gateway.metrics import GatewayMetrics
from smppgw.store.base import PartRecord, Status, advance
from smppgw.store.sqlite import SqliteStore
from tests.api.helpers import app_config, serving
from tests.gateway.helpers import simulator, smsc
from tests.store.helpers import Backend, record

OFFSET = 1_700_000_000.0


def at(t: float) -> str | None:
    """How the view shows trio-clock time ``t`` (ISO 8601 UTC)."""
    return iso(OFFSET + t)


def test_history_is_kept_and_shown_by_the_view(backend: Backend) -> None:
    store = backend.open(clock_offset=OFFSET)
    changes = Changes(store, GatewayMetrics())
    r = record(1, parts=[PartRecord(1, 2), PartRecord(2, 2)])
    advance(r, Status.QUEUED, "gateway", 101.0, "accepted")
    store.add([r])
    advance(r, Status.SUBMITTING, "gateway", 102.0)
    changes.publish(r)
    store.flush()
    for part in r.parts:
        part.status, part.receipt_final = Status.DELIVERED, True
    advance(r, Status.SUBMITTED, "smpp", 103.0, "ESME_ROK")
    advance(r, Status.DELIVERED, "receipt", 104.0, "part 2/2: DELIVRD err:000")
    advance(r, Status.SUBMITTED, "smpp", 105.0, "ESME_ROK")  # late: refused
    changes.publish(r)
    store.flush()
    back = backend.reopen().get(r.id)
    assert back is not None and back.status is Status.DELIVERED
    assert back.history == r.history
    view = message_view(back, store.wall)
    assert (view["status"], view["final"], view["parts_delivered"], view["parts_total"]) == (
        "delivered",
        True,
        2,
        2,
    )
    assert view["history"] == [
        {"status": "queued", "at": at(101), "source": "gateway", "detail": "accepted", "applied": True},
        {"status": "submitting", "at": at(102), "source": "gateway", "detail": None, "applied": True},
        {"status": "submitted", "at": at(103), "source": "smpp", "detail": "ESME_ROK", "applied": True},
        {
            "status": "delivered",
            "at": at(104),
            "source": "receipt",
            "detail": "part 2/2: DELIVRD err:000",
            "applied": True,
        },
        {"status": "submitted", "at": at(105), "source": "smpp", "detail": "ESME_ROK", "applied": False},
    ]
    assert [p["final"] for p in view["parts"]] == [True, True]


def test_a_view_of_a_message_under_way_is_not_final(backend: Backend) -> None:
    store = backend.open()
    r = record(
        2, parts=[PartRecord(1, 2, status=Status.DELIVERED), PartRecord(2, 2, status=Status.SUBMITTED)]
    )
    advance(r, Status.SUBMITTED, "smpp", 1.0, "ESME_ROK")
    store.add([r])
    got = store.get(r.id)
    assert got is not None
    view = message_view(got, store.wall)
    assert (view["final"], view["parts_delivered"], view["parts_total"]) == (False, 1, 2)
    assert [h["status"] for h in view["history"]] == ["submitted"]


def test_sqlite_writes_the_history_in_the_row_and_a_restart_continues_it(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    store = SqliteStore(db)
    r = record(3, parts=[PartRecord(1, 1)])
    advance(r, Status.QUEUED, "gateway", 1.0, "accepted")
    store.add([r])
    advance(r, Status.SUBMITTING, "gateway", 2.0)
    store.save(r)

    def history() -> object:
        (state,) = sqlite3.connect(db).execute("SELECT state FROM messages").fetchone()
        return json.loads(state)["history"]

    assert history() == [["queued", 1.0, "gateway", "accepted", True]]
    store.flush()
    store.save(r)  # saved again with nothing new: the same history
    store.flush()
    assert history() == [
        ["queued", 1.0, "gateway", "accepted", True],
        ["submitting", 2.0, "gateway", None, True],
    ]
    assert sqlite3.connect(db).execute("SELECT count(*) FROM history").fetchone() == (0,)  # (older files')
    # A restart resumes the message with its history; new entries follow on.
    again = SqliteStore(db)
    [resumed] = again.unfinished()
    assert [h[0] for h in resumed.history] == [Status.QUEUED, Status.SUBMITTING]
    advance(resumed, Status.SUBMITTED, "smpp", 3.0, "ESME_ROK")
    again.save(resumed)
    again.flush()
    back = SqliteStore(db).get(r.id)
    assert back is not None
    assert [(h[0], h[1]) for h in back.history] == [
        (Status.QUEUED, 1.0),
        (Status.SUBMITTING, 2.0),
        (Status.SUBMITTED, 3.0),
    ]


def test_the_body_column_does_not_carry_the_history(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    store = SqliteStore(db)
    r = record(4)
    advance(r, Status.QUEUED, "gateway", 1.0, "accepted")
    store.add([r])
    (body,) = sqlite3.connect(db).execute("SELECT body FROM messages").fetchone()
    assert "history" not in body and "accepted" not in body


async def test_get_message_shows_final_rollup_and_history_over_http(tmp_path: Path, backend: Backend) -> None:
    # SQLite: the app's own file (None); the others opened here on the app's clock.
    store = None if backend.name == "sqlite" else backend.open(clock_offset=time.time() - trio.current_time())
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db"), store) as api:
        r = await api.post("/v1/messages", {"to": "+447700900001", "from": "12345", "text": "Hi"})
        assert r.status_code == 202, r.text
        view = await api.wait_status(r.json()["id"], {"delivered"})
    assert (view["final"], view["parts_delivered"], view["parts_total"]) == (True, 1, 1)
    assert [(h["status"], h["source"]) for h in view["history"]] == [
        ("queued", "gateway"),
        ("submitting", "gateway"),
        ("submitted", "smpp"),
        ("delivered", "receipt"),
    ]
    assert view["history"][-1]["detail"].startswith("DELIVRD")
    assert view["history"][0]["at"] == view["created_at"]
    assert view["history"][-1]["at"] == view["updated_at"]
