"""The input stream's requests (``cluster.streams``) taken by the intake of ``POST
/v1/messages``: the same code, so the two ways in cannot differ.

An entry of ``{prefix}:in`` has the fields ``body`` (the JSON of a ``POST /v1/messages``
body) and, optionally, ``idempotency_key`` (as the body's: one of the two, or both the
same). Each entry goes through ``Acceptor.single_grouped`` (decoding, checks, the
idempotency key, the gateway's reasons, one group commit with the HTTP requests of the
moment), as the caller the stream stands for: scope ``messages:send``, the tenant of
``[streams] tenant`` (idempotency keys are that tenant's), no rate limit and no quota
(the stream is read only as fast as the queue has room: ``room``). Whoever may XADD to
the stream may send: guard the Redis server as you guard API keys.

An entry without a key gets ``stream:<entry id>``: taken again after a gateway died
before its XACK, it answers as a repeat. What the HTTP route answers 202 or 200 (a
repeat) is a line on the accepted stream: ``code`` ("202" or "200") and the fields of
that answer's body, ``id``, ``status`` (the message's) and ``segments``; 429 and 503 (the queue full, the gateway not running, the
store failing) leave it pending, read again later; any other problem (400, 409, 422,
500) is its line on the errors stream: ``status``, ``type``, ``title``, ``detail``,
``field`` (the first field named, or empty) and ``errors`` (JSON: each field and its
message), the words of the problem+json the HTTP route would answer. Each line has the
entry's id as ``entry``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from smppgw.api.accept import Acceptor
from smppgw.api.keys import Principal
from smppgw.api.problems import Problem, field_error, invalid_fields
from smppgw.cluster.streams import RETRY, Entry, Outcome

__all__ = ["StreamIntake"]

_FIELDS = frozenset({"body", "idempotency_key"})
_LATER = frozenset({429, 503})  # not now: read again


def _error(problem: Problem) -> dict[str, str]:
    item = problem.item()
    errors = item.get("errors", [])
    return {
        "status": str(item["status"]),
        "type": item["type"],
        "title": item["title"],
        "detail": item["detail"],
        "field": errors[0]["field"] if errors else "",
        "errors": json.dumps(errors, separators=(",", ":")),
    }


def _request(entry: Entry) -> tuple[bytes, str | None]:
    """The entry's body and idempotency key; raises a 422 Problem naming the field."""
    fields = entry.fields
    errors = (
        [] if "body" in fields else [field_error("body", "required: the JSON of a POST /v1/messages body")]
    )
    errors += [
        field_error(name, "unknown field (body, idempotency_key)") for name in sorted(set(fields) - _FIELDS)
    ]
    if errors:
        raise invalid_fields(errors)
    key = fields.get("idempotency_key")
    if key is None:
        return fields["body"], None
    try:
        return fields["body"], key.decode("ascii")
    except UnicodeDecodeError:
        raise invalid_fields([field_error("idempotency_key", "printable ASCII only")]) from None


class StreamIntake:
    """``cluster.streams.Intake`` on the acceptor of the HTTP API."""

    def __init__(self, acceptor: Acceptor, tenant: str | None = None) -> None:
        self.acceptor = acceptor
        self.who = Principal(
            id="stream", name="input stream", scopes=frozenset({"messages:send"}), tenant=tenant
        )

    def room(self) -> int:
        gateway = self.acceptor.gateway
        if not gateway.accepting:
            return 0
        return self.acceptor.max_queued - gateway.queued()

    async def take(self, entries: Sequence[Entry]) -> list[Outcome]:
        """Each entry as a ``POST /v1/messages`` of its own, put in the intake's next
        group in the stream's order (the first of a repeated key is the one stored), so
        one group commit stores them."""
        outcomes: list[Outcome] = [RETRY] * len(entries)
        queued = []
        for i, entry in enumerate(entries):
            try:
                raw, key = _request(entry)
                queued.append((i, self.acceptor.enqueue(raw, self.who, (key, f"stream:{entry.id}"))))
            except Problem as exc:
                outcomes[i] = _refused(exc)
        for i, pending in queued:
            try:
                status, body = await self.acceptor.answer(pending)
            except Problem as exc:
                outcomes[i] = _refused(exc)
            else:  # stored (202) or a repeat of a stored one (200)
                message = json.loads(body)
                answer = {"code": str(status), **{k: str(v) for k, v in message.items()}}
                outcomes[i] = Outcome(ack=True, answer=answer)
        return outcomes


def _refused(exc: Problem) -> Outcome:
    return RETRY if exc.status in _LATER else Outcome(ack=True, error=_error(exc))
