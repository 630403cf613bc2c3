"""The demo's webhook receiver: a small HTTP/1.1 server on loopback (h11 over trio) that
checks every call's Standard Webhooks signature on its own, with ``hmac``, as a
platform's receiver would (it does not call the gateway's signer), and keeps each event
once (delivery is at least once: a repeated ``webhook-id`` is the same event).

Signed content: ``"{webhook-id}.{webhook-timestamp}.{body}"``, HMAC-SHA256 with the
secret's base64-decoded bytes (after ``whsec_``); ``webhook-signature`` holds one or more
``v1,<base64>`` separated by spaces. A call whose signature does not verify, or whose
timestamp is more than five minutes off, is answered 401 and counted as bad.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections import Counter
from functools import partial
from typing import Any, Final

import attrs
import h11
import trio

__all__ = ["HookLog", "serve_hooks", "verify"]

MAX_BODY: Final = 1024 * 1024
IDLE: Final = 30.0  # seconds a connection may stay silent


def verify(secret: str, headers: dict[str, str], body: bytes, now: float) -> str | None:
    """None if the call is signed with ``secret``; otherwise what is wrong with it."""
    msg_id, ts, signatures = (
        headers.get(k) for k in ("webhook-id", "webhook-timestamp", "webhook-signature")
    )
    if not (msg_id and ts and signatures):
        return "no webhook-id, webhook-timestamp or webhook-signature"
    if not ts.isdigit() or abs(now - int(ts)) > 300:
        return f"webhook-timestamp {ts!r} is not within 5 minutes"
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(mac).decode()
    if not any(hmac.compare_digest(expected, s) for s in signatures.split()):
        return "signature does not verify"
    return None


@attrs.define(eq=False)
class HookLog:
    """What the receiver got: each event once, by id, in arrival order."""

    secret: str = attrs.field(repr=False)
    events: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    calls: int = 0
    verified: int = 0
    bad: list[str] = attrs.field(factory=list)  # why each refused call was refused
    changed: trio.Event = attrs.field(factory=trio.Event)

    def by_type(self) -> Counter[str]:
        return Counter(e.get("type", "?") for e in self.events.values())

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events.values() if e.get("type") == kind]

    def receive(self, headers: dict[str, str], body: bytes) -> int:
        """One call: its HTTP status."""
        self.calls += 1
        problem = verify(self.secret, headers, body, time.time())
        if problem is None:
            try:
                event = json.loads(body)
            except ValueError:
                problem = "the body is not JSON"
            else:
                if not isinstance(event, dict) or event.get("id") != headers["webhook-id"]:
                    problem = "the event's id is not its webhook-id"
        if problem is not None:
            self.bad.append(problem)
            return 401
        self.verified += 1
        self.events.setdefault(event["id"], event)
        self.changed.set()
        self.changed = trio.Event()
        return 204


async def serve_hooks(log: HookLog, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve on 127.0.0.1, a free port (given to ``task_status``), until cancelled."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(partial(_connection, log), listeners)


async def _connection(log: HookLog, stream: trio.abc.Stream) -> None:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
    async with stream:
        try:
            while await _one_request(log, conn, stream):
                conn.start_next_cycle()
        except (h11.ProtocolError, trio.BrokenResourceError, trio.TooSlowError):
            return


async def _one_request(log: HookLog, conn: h11.Connection, stream: trio.abc.Stream) -> bool:
    """Read one request and answer it; False when the connection is done."""
    headers: dict[str, str] = {}
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            with trio.fail_after(IDLE):
                data = await stream.receive_some(65536)
            conn.receive_data(bytes(data))
            if not data and conn.their_state is h11.IDLE:
                return False  # closed between requests
            continue
        if isinstance(event, h11.Request):
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in event.headers}
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_BODY:
                await _answer(conn, stream, 413)
                return False
        elif isinstance(event, h11.EndOfMessage):
            await _answer(conn, stream, log.receive(headers, bytes(body)))
            return conn.our_state is h11.DONE and conn.their_state is h11.DONE
        elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            return False


async def _answer(conn: h11.Connection, stream: trio.abc.Stream, status: int) -> None:
    out = conn.send(h11.Response(status_code=status, headers=[("content-length", "0")]))
    out += conn.send(h11.EndOfMessage()) or b""
    await stream.send_all(out or b"")
