"""The platform's input stream on Redis (issue 19): message requests XADDed to
``{prefix}:in``, read by the consumer group of the gateways.

Theory of operation. Each gateway is one consumer of the group (``[streams] group``,
``consumer``). It reads at most ``batch`` entries at a time (XREADGROUP COUNT, BLOCK
``block`` seconds), and never more than the gateway's queue has room for: when the queue
is full it stops reading, and the entries wait in Redis (backpressure, nothing refused).
The entries of a read go to the intake together (``Intake.take``, the same code as
``POST /v1/messages``, stored in one group commit); then, in one pipeline, each one's
answer is XADDed, ``{prefix}:accepted`` (the message id, as the 202 or 200) or
``{prefix}:errors`` (the problem, as the 4xx), and every settled one is XACKed and
deleted (XDEL: the input stream holds only what waits, and a platform never trims it,
which could drop requests not read yet). So an entry is XACKed only after its message is
durable (the store's commit returned) or its rejection is written; a gateway that dies
before that leaves it pending in the group, and any gateway (this one included) claims
it once it has been idle ``claim_idle`` seconds (XAUTOCLAIM) and takes it again. An
entry the intake could not take now (the queue full, the store or the gateway not ready:
429, 503) stays pending and is read again (XREADGROUP from 0, this consumer's own
pending entries) after a pause.

Taken again, an entry is not a second message: the intake gives a request without an
``idempotency_key`` the key ``stream:<entry id>``, so a repeat answers as the first (and
is XACKed) when the same store sees it, that is with the Redis store or on the gateway
that stored it. An answer written twice (the XACK lost) is a repeated line with the
same ``entry``.

Redis away: the loop logs, waits (1 s, doubling to 30 s) and tries again; the entries
stay in Redis.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

import attrs
import trio
from coredis.exceptions import RedisError, StreamDuplicateConsumerGroupError
from coredis.tokens import PureToken

from smppgw.cluster.client import Client, redis_client
from smppgw.cluster.stream_config import StreamSettings
from smppgw.cluster.workqueue import prune_consumers
from smppgw.support.config import ConfigError

__all__ = ["Entry", "Intake", "Outcome", "StreamInput", "opened", "redis_client"]

log = logging.getLogger(__name__)

_PAUSE = 0.2  # seconds between looks at a full queue
_RETRY = 1.0  # seconds before an entry the intake could not take now is read again
_BACKOFF_CAP = 30.0
REDIS_TIMEOUT = 30.0  # seconds a round trip may take before Redis counts as away


@contextlib.asynccontextmanager
async def opened(client: Client | None, settings: StreamSettings | None) -> AsyncIterator[None]:
    """``client`` (if any) open for the app's run, once it answered a PING: else a
    ConfigError naming ``[streams] url`` (a clear error at start)."""
    if client is None or settings is None:
        yield
        return
    async with client:
        try:
            await client.ping()
        except Exception as exc:  # refused, auth, TLS: each is said
            raise ConfigError(f"streams.url: Redis at {settings.url} can't be reached: {exc}") from None
        yield


@attrs.frozen
class Entry:
    """One entry of the input stream: its id and its fields, names decoded."""

    id: str
    fields: dict[str, bytes]


@attrs.frozen
class Outcome:
    """What became of an entry: ``ack`` it, stored or a repeat (``answer``: the fields of
    its line on the accepted stream) or rejected (``error``: its line on the errors
    stream); else read it again later."""

    ack: bool
    answer: dict[str, str] | None = None
    error: dict[str, str] | None = None


RETRY = Outcome(ack=False)


class Intake(Protocol):
    """What the stream needs of the gateway's intake (``api.stream_intake``)."""

    def room(self) -> int:
        """How many requests may be taken now (0: the queue is full or the gateway is
        not running)."""

    async def take(self, entries: Sequence[Entry]) -> list[Outcome]:
        """The outcome of each entry, in order; a stored one is durable on return."""


def _entry(raw: Any) -> Entry:
    fields = raw.field_values or {}  # None: the entry was deleted from the stream
    return Entry(
        raw.identifier.decode(),
        {(k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)): v for k, v in fields.items()},
    )


class StreamInput:
    def __init__(self, client: Client, settings: StreamSettings, intake: Intake) -> None:
        self.client = client
        self.settings = settings
        self.intake = intake
        self.taken = 0  # entries settled (XACKed): tests and metrics
        self.rejected = 0
        self._own_pending = True  # at start: what this consumer left pending is read first
        self._claim_cursor = "0-0"
        self._claim_due = 0.0

    async def ensure_group(self) -> None:
        """The group, from the stream's start (a platform may XADD before the first
        gateway runs); the stream is made if missing."""
        s = self.settings
        with contextlib.suppress(StreamDuplicateConsumerGroupError):
            await self.client.xgroup_create(s.input_stream, s.group, identifier="0", mkstream=True)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Read and settle entries until cancelled (a task of the app's nursery)."""
        delay = 0.0
        grouped = started = False
        while True:
            try:
                if not grouped:  # at start, and after an error (the stream may have been deleted)
                    await self.ensure_group()
                    grouped = True
                if not started:
                    started = True
                    task_status.started()
                await self.step()
                delay = 0.0
            except (RedisError, OSError, trio.TooSlowError) as exc:
                grouped = False
                delay = min(max(2 * delay, 1.0), _BACKOFF_CAP)
                log.warning("streams: %s: %s; trying again in %.0f s", self.settings.input_stream, exc, delay)
                await trio.sleep(delay)
            except Exception:  # a bug must not stop the gateway: what is not XACKed is read again
                delay = min(max(2 * delay, 1.0), _BACKOFF_CAP)
                log.exception(
                    "streams: reading %s failed; trying again in %.0f s", self.settings.input_stream, delay
                )
                await trio.sleep(delay)

    async def step(self) -> int:
        """One read and its settlement; returns how many entries were read."""
        room = self.intake.room()
        if room <= 0:
            await trio.sleep(_PAUSE)  # backpressure: the entries wait in Redis
            return 0
        with trio.fail_after(self.settings.block + REDIS_TIMEOUT):
            entries = await self._read(min(room, self.settings.batch))
        if entries:
            await self._settle(entries)
        return len(entries)

    async def _read(self, count: int) -> list[Entry]:
        s, client = self.settings, self.client
        if self._own_pending:  # entries this consumer left for later, oldest first
            got = await client.xreadgroup(s.group, s.consumer, {s.input_stream: "0"}, count=count)
            entries = [_entry(e) for e in (got or {}).get(s.input_stream.encode(), ())]
            if entries:
                return entries
            self._own_pending = False
        if trio.current_time() >= self._claim_due:  # a dead consumer's entries
            claimed = await client.xautoclaim(
                s.input_stream, s.group, s.consumer, int(s.claim_idle * 1000), self._claim_cursor, count=count
            )
            cursor, found = claimed[0], claimed[1]
            self._claim_cursor = cursor.decode() if isinstance(cursor, bytes) else str(cursor)
            if self._claim_cursor == "0-0":  # the whole pending list was walked
                self._claim_due = trio.current_time() + min(s.claim_idle / 2, 5.0)
                # then dead gateways' consumers, nothing pending left (never one with entries)
                if gone := await prune_consumers(
                    client, s.input_stream, s.group, s.consumer_idle, s.consumer
                ):
                    log.info("streams: idle consumers removed from %s: %s", s.input_stream, ",".join(gone))
            if found:
                log.info("streams: claimed %d idle entries of %s", len(found), s.input_stream)
                return [_entry(e) for e in found]
        got = await client.xreadgroup(
            s.group, s.consumer, {s.input_stream: ">"}, count=count, block=int(s.block * 1000)
        )
        return [_entry(e) for e in (got or {}).get(s.input_stream.encode(), ())]

    async def _settle(self, entries: list[Entry]) -> None:
        s = self.settings
        live = [e for e in entries if e.fields]
        outcomes = dict(zip((e.id for e in live), await self.intake.take(live), strict=True)) if live else {}
        lines: list[tuple[str, dict[str, str]]] = []  # (stream, fields) of the answers
        acks = []
        for entry in entries:
            outcome = outcomes.get(entry.id, Outcome(ack=True))  # deleted: nothing to take
            if outcome.answer is not None:
                lines.append((s.accepted_stream, {"entry": entry.id, **outcome.answer}))
            if outcome.error is not None:
                lines.append((s.errors_stream, {"entry": entry.id, **outcome.error}))
                self.rejected += 1
            if outcome.ack:
                acks.append(entry.id)
            else:
                self._own_pending = True
        with trio.fail_after(REDIS_TIMEOUT):  # a Redis that hangs is a Redis away (TooSlowError)
            async with self.client.pipeline(transaction=False) as pipe:
                for stream, fields in lines:
                    pipe.xadd(
                        stream, fields, trim_strategy=PureToken.MAXLEN, threshold=s.maxlen,
                        trim_operator=PureToken.APPROXIMATELY,
                    )  # fmt: skip
                if acks:
                    pipe.xack(s.input_stream, s.group, acks)
                    pipe.xdel(s.input_stream, acks)  # settled: the stream keeps only what waits
        self.taken += len(acks)
        if len(acks) < len(entries):
            await trio.sleep(_RETRY)  # the queue or the store is not ready: not at once
