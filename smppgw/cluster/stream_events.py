"""The events stream (issue 19): every event of the outbox XADDed to ``{prefix}:events``.

The stream is one more endpoint of the event outbox (``store.events``): every event is
written with a delivery row for ``ENDPOINT``, in the transaction of the change it tells
of, like a webhook endpoint's. The webhook worker (``gateway.notify``) hands that
endpoint's due deliveries, in the order written, to this sink instead of POSTing them;
one runner sends them in batches, each batch one pipeline of XADDs in order, and only
then are they recorded delivered. A batch that fails (Redis away) is sent again, whole
and in order, after a pause (1 s doubling to 30 s): never a dead letter, however long
Redis is away. A restart forgets what was handed out and sends every pending delivery
again. So each event is on the stream at least once, in order per subject (the order
of the log); a consumer de-duplicates on ``id``.

An entry's fields: ``id`` (the event id, the webhook's ``webhook-id``), ``type``,
``subject``, ``sequence``, ``occurred_at`` (ISO 8601 UTC) and ``data`` (JSON), as in the
event's JSON body (``GET /v1/events``, the webhooks). The stream is trimmed to about
``maxlen`` entries (MAXLEN ~): read it faster than that.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

import trio
from coredis.tokens import PureToken

from smppgw.cluster.client import Client
from smppgw.cluster.stream_config import StreamSettings
from smppgw.cluster.streams import REDIS_TIMEOUT
from smppgw.store.base import Delivery, Target

__all__ = ["ENDPOINT", "StreamEvents"]

ENDPOINT: Final = "stream:events"  # the outbox endpoint's name (never an http URL)


def _fields(body: str) -> dict[str, str]:
    event = json.loads(body)
    return {
        "id": event["id"],
        "type": event["type"],
        "subject": event["subject"],
        "sequence": str(event["sequence"]),
        "occurred_at": event["occurred_at"],
        "data": json.dumps(event["data"], separators=(",", ":")),
    }


class StreamEvents:
    """A sink of the webhook worker (``gateway.notify.Sink``)."""

    batch = 256  # events per pipeline

    def __init__(self, client: Client, settings: StreamSettings) -> None:
        self.client = client
        self.settings = settings
        self.target = Target(endpoint=ENDPOINT, url=f"redis-stream:{settings.events_stream}")
        self.sent = 0

    async def send(self, deliveries: Sequence[Delivery]) -> None:
        """XADD each, in order, in one pipeline; raises (RedisError, OSError,
        TooSlowError) when they may not all be there."""
        s = self.settings
        with trio.fail_after(REDIS_TIMEOUT):  # a Redis that hangs is a Redis away
            async with self.client.pipeline(transaction=False) as pipe:
                for d in deliveries:
                    pipe.xadd(
                        s.events_stream, _fields(d.body), trim_strategy=PureToken.MAXLEN,
                        threshold=s.maxlen, trim_operator=PureToken.APPROXIMATELY,
                    )  # fmt: skip
        self.sent += len(deliveries)
