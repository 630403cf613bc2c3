"""The ``[streams]`` keys (``smppgw.cluster.stream_config``): the queue interface for
platforms on Redis Streams."""

from __future__ import annotations

from smppgw.configref import Key as K

STREAM_KEYS = (
    K(path="streams", type="table", default="see below", meaning="The queue interface on Redis Streams: requests read from `{prefix}:in`, answered on `{prefix}:accepted` (the message id) or `{prefix}:errors` (the problem), every event written to `{prefix}:events` (README: Queue interface on Redis Streams). Works with any store."),
    K(path="streams.enabled", type="boolean", default="false", meaning="Turn the streams on (the other keys are checked either way). Redis must answer at start, else the start stops naming `streams.url`.", example=True),
    K(path="streams.url", type="redis://, rediss:// or unix:// URL", default='"redis://127.0.0.1:6379/0"', meaning="The Redis server of the streams.", example="redis://127.0.0.1:6379/0"),
    K(path="streams.prefix", type="string, 1..128 printable characters, no spaces", default='"smppgw"', meaning="The streams are `{prefix}:in`, `{prefix}:accepted`, `{prefix}:errors` and `{prefix}:events`.", example="smppgw"),
    K(path="streams.input", type="boolean", default="true", meaning="Read message requests from `{prefix}:in` (as `POST /v1/messages`).", example=True),
    K(path="streams.events", type="boolean", default="true", meaning="Write every event of the outbox to `{prefix}:events` (at least once, in order per subject; kept in the store while Redis is away).", example=True),
    K(path="streams.group", type="string, 1..128 printable characters, no spaces", default='"smppgw"', meaning="The gateways' consumer group on `{prefix}:in` (made at start, from the stream's first entry).", example="smppgw"),
    K(path="streams.consumer", type="string, 1..128 printable characters, no spaces", default="host name-process id", meaning="This gateway's consumer name in the group.", example="gw-1"),
    K(path="streams.tenant", type="string, 1..128 printable characters, no spaces", default="none", meaning="The tenant every request of the stream belongs to (its idempotency keys are that tenant's).", example="acme"),
    K(path="streams.batch", type="integer 1..10000", default="100", meaning="Entries read at a time (XREADGROUP COUNT), at most the queue's room (`api.max_queued`): a full queue stops the reading.", example=100),
    K(path="streams.block", type="number in (0, 60]", default="1", meaning="Seconds a read waits for new entries (BLOCK).", example=1.0),
    K(path="streams.claim_idle", type="number in (0, 86400]", default="60", meaning="Seconds an entry read by a gateway stays pending, not settled, before another gateway claims it (XAUTOCLAIM): a dead gateway's requests are taken by the others.", example=60),
    K(path="streams.cluster", type="boolean", default="false", meaning="`url` is one node of a Redis Cluster (each stream is one key: no hash tag needed; the four streams may be on different masters).", example=False),
    K(path="streams.consumer_idle", type="number in (0, 2592000]", default="3600", meaning="Seconds a consumer of the input group may go without reading while it holds no pending entry before a gateway removes it from the group (XGROUP DELCONSUMER): a gateway that stopped, its entries claimed by the others. One with pending entries is never removed.", example=3600),
    K(path="streams.maxlen", type="integer 1000..1000000000", default="1000000", meaning="`{prefix}:accepted`, `{prefix}:errors` and `{prefix}:events` are trimmed to about this many entries each (XADD MAXLEN ~).", example=1000000),
)  # fmt: skip
