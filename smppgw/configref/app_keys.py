"""The keys ``smppgw serve`` adds to the gateway's (``smppgw.app``,
``smppgw.gateway.webhook_config``): the store, the HTTP API, webhooks."""

from __future__ import annotations

from smppgw.configref import Key as K

APP_KEYS = (
    K(path="store", type="table", default="see below", meaning="The durable store (SQLite, or Redis shared by several gateways)."),
    K(path="api", type="table", default="see below", meaning="The HTTP queue API."),
    K(path="webhooks", type="table", default="see below", meaning="Where events are delivered, how they are signed and retried."),
    K(path="twoway", type="table", default="see below", meaning="2-way messaging: keywords and rules, consent, sender pools, quiet hours, flows."),
    # [store]
    K(path="store.backend", type='"sqlite" | "redis" | "memory"', default='"sqlite"', meaning="Which store: the embedded SQLite file, Redis (several gateways share the queue, receipts and events; README \"Scale out on Redis\"), or memory (nothing kept: tests).", example="sqlite"),
    K(path="store.path", type="string (a file)", default='"var/smppgw.sqlite3"', meaning="The SQLite file (its directory is made); an older schema is migrated at start, a newer one refused.", example="var/smppgw.sqlite3"),
    K(path="store.url", type="string (redis://, rediss:// or unix://)", default='"redis://127.0.0.1:6379/0"', meaning="backend = \"redis\": the server; one that can't be reached at start is an error naming it (exit 1); away at run time, the API answers 503 and changes are kept until it is back.", example="redis://127.0.0.1:6379/0"),
    K(path="store.prefix", type="string, no braces or whitespace", default='"smppgw"', meaning="backend = \"redis\": every key starts with it (gateways that share work share a prefix).", example="smppgw"),
    K(path="store.flush_interval", type="number > 0", default="0.05", meaning="Seconds between write-behind flushes of changes nothing waits for (a 202, a receipt's answer and a submit wait for their commit).", example=0.05),
    # [api]
    K(path="api.listen", type='"HOST:PORT"', default='"127.0.0.1:8080"', meaning="Where the API listens (port 0: any free port).", example="127.0.0.1:8080"),
    K(path="api.keys", type="list of strings, 8 characters at least", default="[]", meaning="API keys with every scope and no tenant (keep such a file out of the repository).", example=["dev-key-123"]),
    K(path="api.keys_env", type="string", default="none", meaning="An environment variable holding comma-separated keys, as `keys`; it must be set. Without keys here the store must hold one (`smppgw keys create`).", example="SMPPGW_API_KEYS"),
    K(path="api.max_queued", type="integer 1..100000000", default="100000", meaning="Parts waiting to be sent; above it a POST is 429 `queue-full`.", example=100000),
    K(path="api.default_region", type="ISO 3166-1 alpha-2 region", default="none (numbers must be international)", meaning="National numbers (07700 900001) are read as this region's.", example="GB"),
    K(path="api.tenants", type="table", default="{}", meaning="Which tenant owns the inbound messages to which numbers."),
    K(path="api.tenants.<tenant>", type="list of numbers", default="none", meaning="Inbound to these numbers belongs to this tenant (a tenant key lists only its own).", example=["12345", "447700900001"], example_name="acme"),
    K(path="api.key_rate", type="number > 0", default="100", meaning="Requests per second of a store key without its own `--rate` (token bucket); config keys are not limited.", example=100),
    K(path="api.key_burst", type="number > 0", default="2 x key_rate", meaning="The bucket's size.", example=200),
    K(path="api.key_max_queued", type="integer 1..100000000", default="none", meaning="Queued parts of a store key without its own `--max-queued`; at or above it a request is 429 `quota-exceeded`.", example=5000),
    K(path="api.auth_failures", type="integer 1..100000000", default="20", meaning="Wrong or missing keys from one address within `auth_window` ...", example=20),
    K(path="api.auth_window", type="number > 0", default="60", meaning="... seconds ...", example=60),
    K(path="api.auth_block", type="number > 0", default="60", meaning="... then every `/v1` request from that address is 429 for this many seconds.", example=60),
    K(path="api.max_body", type="integer 1024..1073741824", default="1048576 (1 MiB)", meaning="Bytes of a request body (any route but the batch); more is 413 before it is read.", example=1048576),
    K(path="api.max_batch_body", type="integer 1024..1073741824", default="16777216 (16 MiB)", meaning="Bytes of the body of `POST /v1/messages/batch`.", example=16777216),
    K(path="api.max_head", type="integer 1024..1048576", default="65536 (64 KiB)", meaning="Bytes of a request line and headers; more is 431.", example=65536),
    K(path="api.max_connections", type="integer 1..1000000", default="1024", meaning="Open connections; a new one over it gets 503 and is closed.", example=1024),
    K(path="api.request_timeout", type="number in (0, 3600]", default="30", meaning="Seconds from a request's first byte to its last (408), for a client to read an answer, and for a TLS handshake.", example=30),
    K(path="api.keepalive_timeout", type="number in (0, 3600]", default="75", meaning="Seconds an idle connection is kept between requests.", example=75),
    K(path="api.tls_cert", type="string (a PEM file)", default="none (plain HTTP)", meaning="Serve HTTPS only (TLS 1.2+, HTTP/1.1): the certificate with its chain; with `tls_key`; relative to the config file's directory.", example="tls/api-cert.pem"),
    K(path="api.tls_key", type="string (a PEM file)", default="none", meaning="The certificate's unencrypted private key; with `tls_cert`.", example="tls/api-key.pem"),
    # [webhooks]
    K(path="webhooks.secret_env", type="string", default="none (callback calls unsigned)", meaning="An environment variable with the secret (`whsec_<base64>`; two, space-separated, while rotating) signing the calls to each message's `callback_url`.", example="SMPPGW_WEBHOOK_SECRET"),
    K(path="webhooks.allow_private_targets", type="boolean", default="false", meaning="Let a `callback_url` point at loopback, private or link-local addresses (a lab).", example=False),
    K(path="webhooks.timeout", type="number > 0", default="5", meaning="Seconds per attempt.", example=5),
    K(path="webhooks.max_concurrency", type="integer 1..1024", default="8", meaning="Attempts in flight per endpoint.", example=8),
    K(path="webhooks.retry_for", type="number > 0", default="86400 (24 h)", meaning="Seconds of retries from the first attempt; then the event is a dead letter.", example=86400),
    K(path="webhooks.backoff", type="number > 0", default="1", meaning="The first retry comes within this many seconds; it doubles (full jitter) ...", example=1),
    K(path="webhooks.backoff_cap", type="number > 0", default="3600", meaning="... up to this.", example=3600),
    K(path="webhooks.retention", type="number > 0", default="604800 (7 days)", meaning="Seconds delivered events are kept for `GET /v1/events`.", example=604800),
    K(path="webhooks.inbound_url", type="http(s) URL", default="none", meaning="The older form of an endpoint for `message.inbound` events.", example="https://example.net/sms/inbound"),
    K(path="webhooks.endpoint", type="list of tables", default="[]", meaning="Endpoints that get every event of the types they list, signed."),
    K(path="webhooks.endpoint[].url", type="http(s) URL", default="required", meaning="Where the events are posted (any address: endpoints are the operator's).", example="https://example.net/sms/events"),
    K(path="webhooks.endpoint[].events", type="list of event types, one at least", default="every type", meaning='E.g. `["message.status", "message.inbound"]`.', example=["message.status", "message.inbound"]),
    K(path="webhooks.endpoint[].secret_env", type="string", default="none (unsigned, a WARNING at start)", meaning="An environment variable with the endpoint's secret, as `[webhooks] secret_env`.", example="PLATFORM_WEBHOOK_SECRET"),
    K(path="webhooks.endpoint[].name", type="string", default="the URL's host", meaning="In metrics and logs; unique.", example="platform"),
    K(path="webhooks.endpoint[].batch", type="integer 1..1000", default="1 (one event per call)", meaning="Events per call: above 1, the body is a JSON array of up to this many events (each with its own `id`), signed as one; `webhook-id` is the batch's id. A batch is retried and dead-lettered as one.", example=1),
    K(path="webhooks.endpoint[].batch_wait", type="number 0..10", default="0.05", meaning="Seconds a batch waits to fill before it is sent with what it has (`batch` > 1).", example=0.05),
)  # fmt: skip
