"""The Redis store's correlations (``CorrelationStore``) and MO parts held for
reassembly (``InboundPartStore``): a base class of ``RedisStore``, which writes both
with its group commit (``redis_lua.COMMIT``: operations ``c``, ``p+``, ``p-``).

A correlation is a key per (smsc, SMSC id), so a receipt read by any gateway finds the
part any other sent; it expires after ``correlation_ttl`` (days) even if no gateway
sweeps it, and ``expire_correlations`` drops the oldest first (``P:corr:age``). MO
parts of one message are a hash per group, so parts read by different gateways meet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
from redis import Redis

from smppgw.store.base import InboundPart
from smppgw.store.redis_lua import EXPIRE, GATHER

__all__ = ["CORRELATION_TTL", "RedisReceipts"]

#: How long a correlation is kept at most (the gateway expires them sooner, ``horizon``):
#: a backstop so an abandoned prefix empties itself.
CORRELATION_TTL = 7 * 86400
_PART_FIELDS = ("smsc", "source", "destination", "reference", "total", "seqnum", "data_coding")


class RedisReceipts:
    clock_offset: float
    correlation_ttl: int
    _ops: list[list[Any]]
    if TYPE_CHECKING:  # RedisStore's

        def _eval(self, script: str, *args: Any) -> Any: ...
        def _run(self, work: Any) -> Any: ...
        def _k(self, name: str) -> str: ...
        def flush(self) -> int: ...

    # -- inbound parts ------------------------------------------------------------------------

    def add_inbound_part(self, part: InboundPart) -> None:
        body = {name: getattr(part, name) for name in _PART_FIELDS}
        body["payload"] = part.payload.hex()
        body["received_at"] = part.received_at + self.clock_offset
        self._ops.append(["p+", part.smsc, _group(part), str(part.seqnum), orjson.dumps(body).decode()])

    def drop_inbound_parts(
        self, smsc: str, source: str, destination: str, reference: int, total: int
    ) -> None:
        self._ops.append(["p-", smsc, f"{source}\t{destination}\t{reference}\t{total}"])

    def gather_inbound_part(self, part: InboundPart) -> list[InboundPart] | None:
        """Several gateways (the work queue, issue 19): hold ``part`` in Redis at once and,
        if the parts held for its group (by any gateway) make the whole message, take
        them all (dropped from Redis) in the same atomic step: every part, by seqnum.
        ``take_inbound_parts`` (``part`` None) takes a group as it is (its timeout)."""
        found = self._eval(
            GATHER, part.smsc, _group(part), str(part.seqnum), self._part_json(part), part.total
        )
        return None if not found else sorted(map(self._part, found), key=lambda p: p.seqnum)

    def take_inbound_parts(
        self, smsc: str, source: str, destination: str, reference: int, total: int
    ) -> list[InboundPart]:
        """The parts held for a group, taken out of Redis (one gateway gets them)."""
        found = self._eval(GATHER, smsc, f"{source}\t{destination}\t{reference}\t{total}", "", "", 0)
        return sorted(map(self._part, found or ()), key=lambda p: p.seqnum)

    def _part_json(self, part: InboundPart) -> str:
        body = {name: getattr(part, name) for name in _PART_FIELDS}
        body["payload"] = part.payload.hex()
        body["received_at"] = part.received_at + self.clock_offset
        return orjson.dumps(body).decode()

    def _part(self, row: bytes | str) -> InboundPart:
        body = orjson.loads(row)
        return InboundPart(
            **{name: body[name] for name in _PART_FIELDS}, payload=bytes.fromhex(body["payload"]),
            received_at=body["received_at"] - self.clock_offset,
        )  # fmt: skip

    def inbound_parts(self, smsc: str) -> list[InboundPart]:
        self.flush()
        groups, prefix = self._k(f"partgroups:{smsc}"), self._k(f"part:{smsc}\t")

        def run(client: Redis) -> Any:
            out: list[Any] = []
            for group in client.smembers(groups):  # type: ignore[union-attr]
                out += client.hgetall(prefix + group.decode()).values()  # type: ignore[union-attr]
            return out

        parts = []
        for row in self._run(run):
            body = orjson.loads(row)
            parts.append(InboundPart(
                **{name: body[name] for name in _PART_FIELDS}, payload=bytes.fromhex(body["payload"]),
                received_at=body["received_at"] - self.clock_offset,
            ))  # fmt: skip
        return sorted(parts, key=lambda p: (p.received_at, p.seqnum))

    # -- correlations -------------------------------------------------------------------------

    def put_correlation(self, smsc: str, key: str, message_id: str, part: int, submitted_at: float) -> None:
        """Written by the next commit, kept ``correlation_ttl`` at most."""
        wall = _t(submitted_at + self.clock_offset)
        self._ops.append(["c", smsc, key, f"{message_id}\t{part}", wall, self.correlation_ttl])

    def get_correlations(self, smsc: str, keys: Sequence[str]) -> list[tuple[str, int] | None]:
        """``get_correlation`` of each key, in one round trip (MGET: with a Cluster's
        hash-tagged prefix they share its slot)."""
        pending = {op[2]: op[3] for op in self._ops if op[0] == "c" and op[1] == smsc}  # newest last
        asked = [k for k in keys if k not in pending]
        names = [self._k(f"corr:{smsc}\t{k}") for k in asked]

        def run(client: Redis) -> Any:
            return client.mget(names)

        got = dict(zip(asked, self._run(run), strict=True)) if names else {}
        out: list[tuple[str, int] | None] = []
        for k in keys:
            value = pending.get(k) or got.get(k)
            if value is None:
                out.append(None)
                continue
            message_id, part = (value if isinstance(value, str) else value.decode()).split("\t")
            out.append((message_id, int(part)))
        return out

    def get_correlation(self, smsc: str, key: str) -> tuple[str, int] | None:
        for op in reversed(self._ops):  # not committed yet: the newest wins
            if op[0] == "c" and op[1] == smsc and op[2] == key:
                message_id, part = op[3].split("\t")
                return message_id, int(part)
        name = self._k(f"corr:{smsc}\t{key}")

        def run(client: Redis) -> Any:
            return client.get(name)

        found = self._run(run)
        if found is None:
            return None
        message_id, part = found.decode().split("\t")
        return message_id, int(part)

    def expire_correlations(self, before: float, limit: int = 10_000) -> int:
        self.flush()
        cut = _t(before + self.clock_offset)

        return int(self._eval(EXPIRE, cut, limit))


def _group(part: InboundPart) -> str:
    return f"{part.source}\t{part.destination}\t{part.reference}\t{part.total}"


def _t(x: float) -> str:
    return repr(float(x))
