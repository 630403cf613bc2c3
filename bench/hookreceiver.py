"""The webhook receiver of ``bench_api.py``: a platform's endpoint, in its own process.

    .venv/bin/python bench/hookreceiver.py [--secret-env NAME]

Binds a free loopback port, prints ``port N`` as its first line, then serves (uvicorn
with httptools, a raw ASGI app: the receiver should not be the bottleneck):

- ``POST /hook``: a message status webhook (or a JSON array of them: a batched body), in either shape:
  ``{"type": "message.status", "id": ..., "status": ..., "final": ...}`` (the in-memory
  webhooks) or a Standard Webhooks event
  ``{"id": "evt_...", "type": "message.status", "data": {"id": ..., "status": ..., "final": ...}}``.
  When ``webhook-signature`` is present it is verified: ``v1,<base64 HMAC-SHA256 of
  "webhook-id.webhook-timestamp.body">`` keyed with the base64 after ``whsec_`` of the
  secret in the environment variable ``--secret-env`` (several space-separated
  signatures: any one matching is enough). A bad signature is counted and answered 401.
- ``GET /kannel?type=%d``: Kannel's dlr-url (type 1 delivered and 2 failed are final).
- ``GET /stats``: the counts as JSON, with ``first_final``/``last_final`` on the
  system-wide monotonic clock (``time.monotonic()``, comparable across processes).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import socket
import time
from typing import Any

_FINAL_STATUSES = {
    "delivered",
    "undeliverable",
    "expired",
    "rejected",
    "failed",
    "blocked",
    "canceled",
    "unknown",
}


class Counts:
    def __init__(self, secret: str | None) -> None:
        key = None
        if secret:
            key = base64.b64decode(secret.removeprefix("whsec_"))
        self.key = key
        self.finals: set[str] = set()  # message ids with a final status
        self.posts = 0  # signed or unsigned requests to /hook that verified
        self.events = 0  # every status call, final or not, repeats included
        self.repeats = 0  # a final status for a message that already had one
        self.statuses: dict[str, int] = {}
        self.signed = 0
        self.bad_signatures = 0
        self.unparsed = 0
        self.first_final: float | None = None
        self.last_final: float | None = None
        self.kannel: dict[str, int] = {}
        self.kannel_final = 0
        self.kannel_last: float | None = None

    def verify(self, headers: dict[bytes, bytes], body: bytes) -> bool | None:
        """None when unsigned; True/False whether a signature matches."""
        signature = headers.get(b"webhook-signature")
        if signature is None:
            return None
        if self.key is None:
            return False
        signed = headers.get(b"webhook-id", b"") + b"." + headers.get(b"webhook-timestamp", b"") + b"." + body
        expected = base64.b64encode(hmac.new(self.key, signed, hashlib.sha256).digest())
        for item in signature.split():
            version, _, value = item.partition(b",")
            if version == b"v1" and hmac.compare_digest(value, expected):
                return True
        return False

    def status_call(self, headers: dict[bytes, bytes], body: bytes) -> int:
        verdict = self.verify(headers, body)
        if verdict is False:
            self.bad_signatures += 1
            return 401
        if verdict:
            self.signed += 1
        self.posts += 1
        try:
            parsed = json.loads(body)
            # A batched body ([[webhooks.endpoint]] batch = N) is a JSON array of events.
            for event in parsed if isinstance(parsed, list) else [parsed]:
                data = event.get("data", event) if isinstance(event.get("data"), dict) else event
                self.count(data["id"], data["status"], data.get("final"))
        except (ValueError, KeyError, TypeError, AttributeError):
            self.unparsed += 1
            return 400
        return 200

    def count(self, message_id: str, status: str, final: bool | None) -> None:
        self.events += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if final if final is not None else status in _FINAL_STATUSES:
            if message_id in self.finals:
                self.repeats += 1
            else:
                self.finals.add(message_id)
                now = time.monotonic()
                self.first_final = self.first_final or now
                self.last_final = now

    def kannel_call(self, query: bytes) -> int:
        kind = "?"
        for pair in query.split(b"&"):
            if pair.startswith(b"type="):
                kind = pair[5:].decode()
        self.kannel[kind] = self.kannel.get(kind, 0) + 1
        if kind in ("1", "2", "16"):
            self.kannel_final += 1
            self.kannel_last = time.monotonic()
        return 200

    def stats(self) -> dict[str, Any]:
        return {
            "finals": len(self.finals),
            "posts": self.posts,
            "events": self.events,
            "repeats": self.repeats,
            "statuses": self.statuses,
            "signed": self.signed,
            "bad_signatures": self.bad_signatures,
            "unparsed": self.unparsed,
            "first_final": self.first_final,
            "last_final": self.last_final,
            "kannel": self.kannel,
            "kannel_final": self.kannel_final,
            "kannel_last": self.kannel_last,
            "now": time.monotonic(),
        }


def make_app(counts: Counts) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path, answer = scope["path"], b""
        if path == "/hook" and scope["method"] == "POST":
            status = counts.status_call(dict(scope["headers"]), body)
        elif path == "/kannel":
            status = counts.kannel_call(scope["query_string"])
        elif path == "/stats":
            status, answer = 200, json.dumps(counts.stats()).encode()
        else:
            status = 404
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(answer)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="webhook receiver for bench_api.py")
    parser.add_argument("--secret-env", help="environment variable holding the whsec_ secret")
    args = parser.parse_args()
    secret = os.environ.get(args.secret_env) if args.secret_env else None
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"port {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(make_app(Counts(secret)), http="httptools", loop="auto", log_level="warning",
                            access_log=False, lifespan="off", backlog=2048)  # fmt: skip
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
