"""The demo's webhook receiver: signatures checked on its own (against the reference
Standard Webhooks library's), over real HTTP on loopback, each event kept once."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx
import standardwebhooks
import trio

from smppgw.demo.hooks import HookLog, serve_hooks, verify

SECRET = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ="
OTHER = "whsec_b3RoZXItb3RoZXItb3RoZXI="


def signed(event_id: str, body: bytes, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    when = int(time.time() if at is None else at)
    signature = standardwebhooks.Webhook(secret).sign(
        event_id, datetime.fromtimestamp(when, UTC), body.decode()
    )
    return {"webhook-id": event_id, "webhook-timestamp": str(when), "webhook-signature": signature}


def event(event_id: str) -> bytes:
    return json.dumps(
        {"id": event_id, "type": "message.status", "subject": "m1", "data": {"final": True}}
    ).encode()


def test_verify_accepts_the_reference_signature_and_nothing_else() -> None:
    body, now = event("evt_1"), time.time()
    assert verify(SECRET, signed("evt_1", body), body, now) is None
    # a rotation: two signatures, one of them ours
    both = signed("evt_1", body, OTHER)
    both["webhook-signature"] += " " + signed("evt_1", body)["webhook-signature"]
    assert verify(SECRET, both, body, now) is None
    assert verify(SECRET, signed("evt_1", body, OTHER), body, now) == "signature does not verify"
    assert verify(SECRET, signed("evt_1", body), body + b" ", now) == "signature does not verify"
    assert verify(SECRET, signed("evt_2", body), body, now) is None  # the id is signed, checked by HookLog
    stale = verify(SECRET, signed("evt_1", body, at=now - 600), body, now)
    assert stale is not None and "within 5 minutes" in stale
    assert verify(SECRET, {"webhook-id": "evt_1"}, body, now) is not None


async def test_the_receiver_keeps_each_signed_event_once_and_refuses_the_rest() -> None:
    log = HookLog(secret=SECRET)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_hooks, log)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                for event_id in ("evt_1", "evt_2", "evt_1"):  # the last: at least once, again
                    body = event(event_id)
                    r = await http.post("/events", content=body, headers=signed(event_id, body))
                    assert r.status_code == 204
                body = event("evt_3")
                r = await http.post("/events", content=body, headers=signed("evt_3", body, OTHER))
                assert r.status_code == 401
                r = await http.post(
                    "/events", content=event("evt_4"), headers=signed("evt_9", event("evt_4"))
                )
                assert r.status_code == 401  # signed, but not the id the event has
                r = await http.post("/events", content=b"{}")
                assert r.status_code == 401
            nursery.cancel_scope.cancel()
    assert list(log.events) == ["evt_1", "evt_2"]
    assert (log.calls, log.verified) == (6, 3)
    assert log.bad == [
        "signature does not verify",
        "the event's id is not its webhook-id",
        "no webhook-id, webhook-timestamp or webhook-signature",
    ]
    assert log.by_type() == {"message.status": 2}
