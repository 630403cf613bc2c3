"""The gateway engine's keys (``smppgw.gateway.config``): carriers, routes, retries,
limits, receipts, inbound reassembly, shutdown, scheduling."""

from __future__ import annotations

from smppgw.configref import Key as K

_TLS = "needs `tls = true`"

GATEWAY_KEYS = (
    K(path="smsc", type="list of tables", default="required (one at least)", meaning="The carrier SMSCs to bind to, one `[[smsc]]` each."),
    K(path="route", type="list of tables", default="one route `default` to the first SMSC", meaning="Which SMSCs carry which messages, first match wins."),
    K(path="retry", type="table", default="see below", meaning="Retries of transient SMPP errors."),
    K(path="limits", type="table", default="see below", meaning="Throughput limits per sender and per route."),
    K(path="receipts", type="table", default="see below", meaning="Receipts that arrive before their submit_sm_resp."),
    K(path="inbound", type="table", default="see below", meaning="Reassembly of multi-part inbound (MO) messages."),
    K(path="gateway", type="table", default="see below", meaning="The engine's lifecycle."),
    K(path="schedule", type="table", default="see below", meaning="Messages with a `send_at`."),
    # [[smsc]]
    K(path="smsc[].name", type="string", default="required", meaning="Unique name: in routes, logs and metrics.", example="carrier-a"),
    K(path="smsc[].host", type="string", default="required", meaning="The SMSC's host name or address.", example="127.0.0.1"),
    K(path="smsc[].port", type="integer 1..65535", default="required", meaning="Its SMPP port.", example=2775),
    K(path="smsc[].system_id", type="string, at most 15 characters", default="required", meaning="The account (bind system_id).", example="ACME"),
    K(path="smsc[].password", type="string, at most 8 characters", default="one of password, password_env", meaning="The bind password (SMPP 3.4 §4.1.1: C(9)); never logged.", example="secret"),
    K(path="smsc[].password_env", type="string", default="one of password, password_env", meaning="The environment variable holding the password (set, or the start fails naming it).", example="CARRIER_A_PASSWORD"),
    K(path="smsc[].system_type", type="string, at most 12 characters", default='""', meaning="The bind's system_type, when the carrier asks for one.", example="VMA"),
    K(path="smsc[].bind", type='"trx", "tx+rx" or "tx"', default='"trx"', meaning="Transceivers; transmitter + receiver pairs; transmitters only (no receipts, no MO).", example="trx"),
    K(path="smsc[].binds", type="integer 1..64", default="1", meaning="Binds kept up (pairs for `tx+rx`).", example=2),
    K(path="smsc[].window", type="integer 1..10000", default="10", meaning="submit_sm in flight per bind; the gateway waits for room beyond it.", example=32),
    K(path="smsc[].receive_window", type="integer 1..100000", default="1000", meaning="deliver_sm/data_sm per bind not yet answered; one beyond is answered ESME_RX_T_APPN at once (the SMSC redelivers later).", example=1000),
    K(path="smsc[].tps", type="number > 0", default="none (no limit)", meaning="The account's limit, all binds together; AIMD settles under the carrier's real one.", example=100),
    K(path="smsc[].bind_tps", type="number > 0", default="none", meaning="A limit per bind.", example=50),
    K(path="smsc[].enquire_link_interval", type="number > 0", default="30", meaning="Seconds between enquire_link on an idle bind.", example=30),
    K(path="smsc[].response_timeout", type="number > 0", default="30", meaning="Seconds to wait for a response before the request counts as lost.", example=30),
    K(path="smsc[].connect_timeout", type="number > 0", default="10", meaning="Seconds for the TCP connection (and TLS handshake).", example=10),
    K(path="smsc[].tls", type="boolean", default="false", meaning="Bind over TLS 1.2+, the SMSC's certificate and name verified.", example=True),
    K(path="smsc[].tls_ca", type="string (a PEM file)", default="the system CAs", meaning=f"The CA bundle to verify the SMSC with; {_TLS}.", example="carrier-ca.pem"),
    K(path="smsc[].tls_cert", type="string (a PEM file)", default="none", meaning=f"A client certificate (mutual TLS), with `tls_key`; {_TLS}.", example="client-cert.pem"),
    K(path="smsc[].tls_key", type="string (a PEM file)", default="none", meaning=f"The client certificate's private key (unencrypted); {_TLS}.", example="client-key.pem"),
    K(path="smsc[].tls_verify", type="boolean", default="true", meaning=f"false turns verification off (logged as a WARNING at start); {_TLS}.", example=True),
    K(path="smsc[].tls_server_name", type="string, 1..253 characters", default="`host`", meaning=f"The name sent (SNI) and verified, when `host` is an address; {_TLS}.", example="smsc.carrier-a.example"),
    K(path="smsc[].concat", type='"udh8", "udh16", "sar" or "payload"', default='"udh8"', meaning="How a long message travels: a UDH with an 8- or 16-bit reference, SAR TLVs, or one PDU with message_payload.", example="udh8"),
    K(path="smsc[].receipt_id_base", type='"auto", "hex", "dec" or "as_is"', default='"auto"', meaning="How the carrier writes message ids in receipts (hex in the receipt, decimal in the response, ...).", example="auto"),
    K(path="smsc[].receipts", type='"part" or "message"', default='"part"', meaning="A receipt per part, or one per concatenated message.", example="part"),
    K(path="smsc[].registered_delivery", type="boolean", default="true", meaning="Ask for receipts (unless a message says `dlr: false`).", example=True),
    K(path="smsc[].ton_npi", type="table", default="TON/NPI by address kind (E.164 1/1, short code 3/0, alphanumeric 5/0)", meaning="Overrides of the TON/NPI sent per address kind."),
    K(path="smsc[].ton_npi.<kind>", type="[ton, npi], integers 0..255", default="see above", meaning='`kind` is "e164", "short_code" or "alphanumeric".', example=[1, 1], example_name="e164"),
    K(path="smsc[].interface_version", type="integer 0..255", default="0x34 (52)", meaning="The bind's interface_version.", example=0x34),
    K(path="smsc[].receipt_grace", type="number > 0", default="172800 (48 h)", meaning="Seconds after a part's validity (or its submission, without one) with no final receipt before it becomes `unknown`.", example=172800),
    K(path="smsc[].optout_statuses", type="list of command_status names or numbers", default="[]", meaning="submit_sm_resp statuses meaning the recipient opted out or blocked the sender: the number is opted out (source `carrier`).", example=["ESME_RX_R_APPN"]),
    K(path="smsc[].optout_network_errors", type="list of receipt `err:` values (text or number)", default="[]", meaning="Receipt errors meaning the same.", example=["0C1"]),
    # [[route]]
    K(path="route[].name", type="string", default="`route[i]`", meaning="In logs, metrics, quiet hours and `[limits.routes]`.", example="uk"),
    K(path="route[].prefixes", type="list of digit strings (a leading + is dropped)", default="[] (every number)", meaning="Destination prefixes this route takes.", example=["44"]),
    K(path="route[].sender_kinds", type='list of "e164", "short_code", "alphanumeric"', default="[] (every sender)", meaning="Sender kinds this route takes.", example=["e164", "alphanumeric"]),
    K(path="route[].tags", type="list of strings", default="[] (every message)", meaning="Message tags this route takes (one of them).", example=["otp"]),
    K(path="route[].smscs", type='list of tiers; a tier is "name" / "name:weight" or a list of them', default="required", meaning="Tier 1 shared by weight; the next tier only when none of the previous is up (failover).", example=["carrier-a:3", ["carrier-b"]]),
    K(path="route[].pool", type="a `[[twoway.pool]]` name", default="none", meaning='A message on this route sent `"from": "pool"` takes a sender of this pool.', example="care"),
    K(path="route[].tps", type="number > 0", default="none", meaning="A limit for the route, all SMSCs together.", example=50),
    # [retry]
    K(path="retry.max_attempts", type="integer 1..1000", default="5", meaning="Attempts per part at most (transient errors only; a permanent one is final at once).", example=5),
    K(path="retry.max_age", type="number > 0", default="3600", meaning="Seconds after acceptance a part may still be retried.", example=3600),
    K(path="retry.initial", type="number > 0", default="1", meaning="Seconds before the first retry.", example=1),
    K(path="retry.factor", type="number > 0", default="2", meaning="Each retry waits this many times longer.", example=2),
    K(path="retry.maximum", type="number > 0", default="60", meaning="The longest wait between retries.", example=60),
    K(path="retry.jitter", type="number in [0, 1)", default="0.2", meaning="Each wait varies by this fraction, up or down.", example=0.2),
    # [limits]
    K(path="limits.senders", type="table", default="{}", meaning="Segments per second per sender address."),
    K(path="limits.senders.<sender>", type="number > 0", default="none", meaning="The limit of this sender (read as messages carry it: `+44...` is `44...`).", example=1, example_name="447700900100"),
    K(path="limits.long_code_tps", type="number > 0", default="none", meaning="Segments per second of each E.164 sender without its own limit (a long code's carrier limit).", example=1),
    K(path="limits.routes", type="table", default="{}", meaning="Segments per second per route (as `[[route]] tps`)."),
    K(path="limits.routes.<route>", type="number > 0", default="none", meaning="The limit of the route of that name.", example=50, example_name="uk"),
    # [receipts]
    K(path="receipts.hold", type="number > 0", default="60", meaning="Seconds a receipt that matches no part waits for its own submit_sm_resp.", example=60),
    K(path="receipts.max_held", type="integer 1..10000000", default="100000", meaning="Early receipts held at most; the oldest is dropped as unmatched (counted).", example=100000),
    # [inbound]
    K(path="inbound.timeout", type="number > 0", default="60", meaning="Seconds the parts of an MO message wait for their siblings; then handed over incomplete.", example=60),
    K(path="inbound.max_groups", type="integer 1..10000000", default="10000", meaning="MO messages in reassembly per SMSC; the oldest is handed over incomplete (counted).", example=10000),
    # [gateway]
    K(path="gateway.shutdown_timeout", type="number > 0", default="5", meaning="Seconds to unbind cleanly at SIGTERM before the binds are closed.", example=5),
    # [schedule]
    K(path="schedule.horizon", type="number > 0", default="2592000 (30 days)", meaning="How far ahead a `send_at` may be; further is refused naming `send_at`.", example=2592000),
)  # fmt: skip
