"""The reference of ``smppsim --config``'s TOML: every key with its type, default and
meaning (``python -m simulator.configref > docs/simulator-config.md``; kept complete by
``tests/docs/test_configref.py``, as the gateway's)."""

from __future__ import annotations

from smppgw.configref import Key as K
from smppgw.configref import render

__all__ = ["KEYS", "render_simulator"]

_INTRO = """\
# `smppsim` configuration reference

Generated from `simulator/configref.py` by `python -m simulator.configref >
docs/simulator-config.md`; `tests/docs/test_configref.py` fails when a key the simulator
accepts is missing here, or when a key here is refused. `smppsim --config FILE` reads one
UTF-8 TOML file; flags given on the command line win over it. An unknown key or a bad
value stops the start with one line naming the key, exit 2.

Behaviour is layered, later wins: the built-in defaults (a fast, happy carrier), the
profile (the account's `profile`, else the top-level one), `[behaviour]`, then the
account's own `[account.behaviour]`; both take the keys of `[behaviour]` below. The
control API can change behaviour at run time (`PATCH /behaviour`) with the same keys.

A delay is seconds (`1.5`) or a distribution table, clamped by optional `min`/`max`
(except `const`): `{ kind = "const", value = 1.0 }`, `{ kind = "uniform", low = 0.5,
high = 2 }`, `{ kind = "lognormal", p50 = 1.5, p99 = 10.0, min = 0.2, max = 20.0 }`,
`{ kind = "exponential", mean = 2 }`.
"""

_DELAY = "seconds or a distribution"
_P = "probability 0..1"

# [behaviour.personas]: the kinds of question an MT asks, and what a person may do.
_ASKS = {
    "yes_no": 'What a "Reply YES or NO" gets.',
    "score": 'What a scale ("0-10", "1 to 5" with a rating word) gets.',
    "choice": 'What a list gets: numbered ("1) Mon 10:00", "Reply 1 for X, 2 for Y") or keywords ("Reply CONFIRM or RESCHEDULE").',
    "question": 'What a question wanting words gets ("Why?", "Tell us what went wrong").',
    "offer": 'What an offer ("% off", "voucher", "offer") gets.',
    "other": "What any other MT (a notice) gets.",
}
_WEIGHTS = {
    "yes_no": {"yes": 60, "no": 25, "text": 3, "typo": 4, "help": 2, "stop": 2, "silence": 4},
    "score": {"score": 82, "out_of_range": 2, "text": 4, "typo": 2, "help": 1, "stop": 3, "silence": 8},
    "choice": {"pick": 80, "out_of_range": 6, "text": 3, "help": 1, "stop": 3, "silence": 7},
    "question": {"answer": 75, "help": 1, "stop": 2, "silence": 22},
    "offer": {"stop": 20, "help": 3, "text": 4, "silence": 73},
    "other": {"stop": 1, "help": 1, "text": 0, "silence": 98},
}
_ACTIONS = {
    "yes": "Answers yes, in the number's own way.",
    "no": "Answers no.",
    "score": "Answers a score (from `scores`, put on the prompt's scale).",
    "pick": 'Picks one of the options, in the number\'s own way ("2", "2 please", "CONFIRM!").',
    "out_of_range": "Answers what the prompt does not offer (9 of 3 options, MAYBE, 11 of 0-10).",
    "answer": 'Answers in a few words ("The wait was far too long").',
    "text": "Answers free text.",
    "typo": 'Answers with a typo ("yse").',
    "help": "Asks for HELP.",
    "stop": 'Opts out in its own words ("stop please").',
    "silence": "Does not answer.",
}

KEYS = (
    K(path="host", type="string", default='"127.0.0.1"', meaning="Address SMPP listens on (`--listen`).", example="127.0.0.1"),
    K(path="port", type="integer 0..65535", default="2775", meaning="SMPP port; 0 picks a free one.", example=2775),
    K(path="http_host", type="string", default='"127.0.0.1"', meaning="Address of the control API; beyond loopback it needs `http_token`.", example="127.0.0.1"),
    K(path="http_port", type="integer 0..65535", default="none (no control API)", meaning="Port of the control API, the console and `/metrics`.", example=8081),
    K(path="http_token", type="16..256 visible ASCII characters", default="made up at start and printed", meaning="What the control API asks for (Bearer or X-Token) to change anything, and to read beyond loopback.", example="docs-token-0123456789"),
    K(path="system_id", type="string, 1..15 characters", default='"smppsim"', meaning="The SMSC's system_id in bind responses.", example="smppsim"),
    K(path="seed", type="integer >= 0", default="none (random)", meaning="Seed for every random choice (reproducible runs).", example=42),
    K(path="profile", type="a shipped profile (`smppsim --list-profiles`)", default='"default"', meaning="The behaviour every account starts from.", example="default"),
    K(path="max_binds_per_address", type="integer 1..100000", default="32", meaning="Binds from one source address at once (every account); beyond: ESME_RBINDFAIL.", example=32),
    K(path="tls_cert", type="string (a PEM file)", default="none (plain TCP)", meaning="Serve SMPP over TLS 1.2+ only, with `tls_key`.", example="sim-cert.pem"),
    K(path="tls_key", type="string (a PEM file)", default="none", meaning="The certificate's private key.", example="sim-key.pem"),
    K(path="tls_client_ca", type="string (a PEM file)", default="none", meaning="Require client certificates signed by this CA (mutual TLS); needs `tls_cert`.", example="client-ca.pem"),
    K(path="account", type="list of tables", default="one: smppclient1 / password", meaning="The accounts ESMEs bind with."),
    K(path="behaviour", type="table", default="the profile's", meaning="How the carrier behaves, for every account."),
    K(path="session", type="table", default="see below", meaning="Session timers and limits."),
    # [[account]]
    K(path="account[].system_id", type="string, 1..15 characters", default="required", meaning="The bind's system_id; unique.", example="smppclient1"),
    K(path="account[].password", type="string, at most 8 characters", default="required", meaning="The bind's password.", example="password"),
    K(path="account[].max_binds", type="integer 1..1000", default="4", meaning="Simultaneous binds of the account.", example=4),
    K(path="account[].bind_types", type='list of "tx", "rx", "trx"', default="all three", meaning="The bind types the account may use.", example=["tx", "rx", "trx"]),
    K(path="account[].profile", type="a shipped profile", default="the top-level `profile`", meaning="The account's own profile.", example="shortcode-100tps"),
    K(path="account[].behaviour", type="table", default="{}", meaning="The account's behaviour, over `[behaviour]`: the same keys."),
    # [session]
    K(path="session.bind_timeout", type="number > 0", default="30", meaning="Seconds a connection may stay unbound (session_init timer).", example=30),
    K(path="session.inactivity_timeout", type="number > 0", default="300", meaning="Seconds without traffic before the SMSC unbinds.", example=300),
    K(path="session.enquire_link_interval", type="number > 0", default="60", meaning="Seconds between the SMSC's enquire_link on an idle bind.", example=60),
    K(path="session.response_timeout", type="number > 0", default="30", meaning="Seconds to wait for a deliver_sm_resp; then the delivery is retried.", example=30),
    K(path="session.window", type="integer 1..16777216", default="64", meaning="deliver_sm in flight per bind.", example=64),
    K(path="session.max_command_length", type="integer 16..16777216", default="65536", meaning="The largest PDU taken; longer is refused and the connection closed.", example=65536),
    K(path="session.receive_window", type="integer 1..16777216", default="1024", meaning="Requests per bind not yet answered; one beyond is answered ESME_RTHROTTLED at once.", example=1024),
    # [behaviour]
    K(path="behaviour.tps", type="number > 0", default="none", meaning="Submits per second per account; above it ESME_RTHROTTLED.", example=100),
    K(path="behaviour.bind_tps", type="number > 0", default="none", meaning="The same per bind.", example=50),
    K(path="behaviour.queue_size", type="integer >= 1", default="none", meaning="Submits waiting for their response; beyond it ESME_RMSGQFUL.", example=200),
    K(path="behaviour.resp_latency", type=_DELAY, default="0", meaning="submit -> submit_sm_resp.", example={"kind": "lognormal", "p50": 0.02, "p99": 0.15}),
    K(path="behaviour.message_id", type='"decimal", "hex", "uuid" or "padded"', default='"decimal"', meaning="How message ids are written.", example="decimal"),
    K(path="behaviour.message_id_width", type="integer 1..64", default="10", meaning='Digits of a "padded" id.', example=10),
    K(path="behaviour.receipt_id_base", type='"same", "decimal" or "hex"', default='"same"', meaning="How the id is written in receipts (a carrier's hex-vs-decimal trap).", example="same"),
    K(path="behaviour.receipt_text", type="boolean", default="true", meaning="Receipts carry the Appendix B text.", example=True),
    K(path="behaviour.receipt_tlvs", type="boolean", default="true", meaning="Receipts carry receipted_message_id and message_state.", example=True),
    K(path="behaviour.receipt_date_digits", type="10 or 12", default="10", meaning="Receipt dates as YYMMDDhhmm, or with seconds.", example=10),
    K(path="behaviour.receipt_upper_case", type="boolean", default="false", meaning="Receipt text in upper case (`ID:`, `STAT:`).", example=False),
    K(path="behaviour.outcomes", type="table STAT = weight, or \"STAT=w,...\"", default="{ DELIVRD = 1.0 }", meaning="Final receipt states drawn by weight (DELIVRD, UNDELIV, EXPIRED, REJECTD, DELETED, UNKNOWN).", example={"DELIVRD": 0.9, "UNDELIV": 0.1}),
    K(path="behaviour.dlr_delay", type=_DELAY, default="0 (the default profile: lognormal, median 1.5 s, 0.2..20 s)", meaning="submit -> final receipt.", example={"kind": "lognormal", "p50": 1.5, "p99": 10.0, "min": 0.2, "max": 20.0}),
    K(path="behaviour.intermediate", type='list of "ENROUTE", "ACCEPTD"', default="[]", meaning="Interim receipts before the final one.", example=["ENROUTE"]),
    K(path="behaviour.intermediate_delay", type=_DELAY, default="0", meaning="submit -> each interim receipt.", example=0.5),
    K(path="behaviour.dlr_before_resp", type=_P, default="0", meaning="A receipt overtakes its submit_sm_resp.", example=0.0),
    K(path="behaviour.duplicate_receipts", type=_P, default="0", meaning="A receipt is sent twice.", example=0.0),
    K(path="behaviour.per_part_receipts", type="boolean", default="true", meaning="false: one receipt per concatenated message (its last part).", example=True),
    K(path="behaviour.honour_validity", type="boolean", default="true", meaning="A receipt due after the validity_period is EXPIRED.", example=True),
    K(path="behaviour.force", type="list of tables", default="[]", meaning="Exact outcomes for some destinations (tests)."),
    K(path="behaviour.deliver_retry", type="list of numbers > 0", default="[1, 5, 30, 60, 300]", meaning="Seconds between redeliveries of a deliver_sm not acknowledged.", example=[1, 5, 30]),
    K(path="behaviour.mo_concat", type='"udh8", "udh16" or "sar"', default='"udh8"', meaning="How long MO messages are split.", example="udh8"),
    K(path="behaviour.handsets", type="list of tables", default="[]", meaning="Virtual subscribers that reply to MT messages (2-way)."),
    K(path="behaviour.handset", type="list of tables", default="[]", meaning="The same as `handsets` (`[[behaviour.handset]]` reads better one at a time)."),
    K(path="behaviour.strict", type="boolean", default="false", meaning="Refuse what SMPP 3.4 does not allow, where a lenient SMSC lets it pass.", example=False),
    K(path="behaviour.drop_after_pdus", type="integer >= 1", default="none", meaning="Close the connection after this many PDUs received (a fault).", example=1000),
    K(path="behaviour.drop_probability", type=_P, default="0", meaning="Close the connection, per PDU received.", example=0.0),
    K(path="behaviour.black_hole", type="boolean", default="false", meaning="Read everything, answer nothing.", example=False),
    K(path="behaviour.response_delay", type=_DELAY, default="0", meaning="Extra delay on every response.", example=0),
    K(path="behaviour.nack_probability", type=_P, default="0", meaning="Answer with generic_nack instead.", example=0.0),
    K(path="behaviour.error_probability", type=_P, default="0", meaning="Answer a submit_sm with `error_status` instead.", example=0.0),
    K(path="behaviour.error_status", type="command_status name or number", default="ESME_RSYSERR", meaning="That error.", example="ESME_RSYSERR"),
    K(path="behaviour.unbind_after", type="number > 0", default="none", meaning="The SMSC unbinds this many seconds after each bind.", example=3600),
    K(path="behaviour.refuse_binds", type="boolean", default="false", meaning="Binds get ESME_RBINDFAIL (maintenance).", example=False),
    K(path="behaviour.refuse_binds_for", type="number > 0", default="none", meaning="... for this many seconds from the start (or the PATCH).", example=10),
    K(path="behaviour.read_delay", type="number >= 0", default="0", meaning="Seconds before each read: backpressure on the ESME.", example=0),
    K(path="behaviour.malformed_probability", type=_P, default="0", meaning="Answer with a malformed PDU instead.", example=0.0),
    K(path="behaviour.personas", type="table", default="none (`--personas SEED` or the `two-way` profile: the defaults below)", meaning="Handsets that behave like people: every number answers what an MT asks, by the weights below."),
    # [[behaviour.force]]
    K(path="behaviour.force[].destination", type="string", default="required, or destination_prefix or destination_suffix", meaning="This destination exactly.", example="447700900013"),
    K(path="behaviour.force[].destination_prefix", type="string", default="see destination", meaning="Destinations starting so.", example="4477009"),
    K(path="behaviour.force[].destination_suffix", type="string", default="see destination", meaning="Destinations ending so.", example="13"),
    K(path="behaviour.force[].outcome", type="a final stat word", default="one of outcome, submit_status", meaning="The receipt's state.", example="UNDELIV"),
    K(path="behaviour.force[].submit_status", type="command_status name or number", default="one of outcome, submit_status", meaning="Refuse the submit with this status instead.", example="ESME_RINVDSTADR"),
    # [behaviour.personas]
    K(path="behaviour.personas.seed", type="integer >= 0", default="the simulator's `seed`", meaning="Answers are reproducible by it: a number's n-th MT always gets the same answer.", example=7),
    K(path="behaviour.personas.delay", type=_DELAY, default="lognormal, median 3 s, p99 30 s", meaning="Delivery -> reply (each number has its own pace around it).", example={"kind": "lognormal", "p50": 3.0, "p99": 30.0}),
    K(path="behaviour.personas.scores", type="11 weights >= 0 (of 0 .. 10), not all zero", default="[2, 1, 1, 2, 3, 6, 8, 14, 20, 18, 25]", meaning="How a survey is scored.", example=[2, 1, 1, 2, 3, 6, 8, 14, 20, 18, 25]),
    *(
        K(path=f"behaviour.personas.{ask}", type="table of action = weight", default="see below", meaning=meaning)
        for ask, meaning in _ASKS.items()
    ),
    *(
        K(path=f"behaviour.personas.{ask}.{action}", type="weight >= 0", default=f"{weight:g}", meaning=_ACTIONS[action], example=weight)
        for ask, weights in _WEIGHTS.items()
        for action, weight in weights.items()
    ),
    K(path="behaviour.personas.prefer", type="list of option keys", default="[] (any option)", meaning='Options a pick takes when a list offers them, the first offered wins ("CONFIRM": always keeps the appointment); none offered: any option.', example=["CONFIRM"]),
    K(path="behaviour.personas.number", type="list of tables", default="[]", meaning="Chosen numbers with answers of their own: `numbers` or `prefix`, and any of the kinds above (the rest as above)."),
    K(path="behaviour.personas.number[].numbers", type="list of numbers", default="required, or prefix", meaning="These numbers.", example=["447700900013"]),
    K(path="behaviour.personas.number[].prefer", type="list of option keys", default="`behaviour.personas.prefer`", meaning="These numbers' own preferred options.", example=["CONFIRM"]),
    K(path="behaviour.personas.number[].prefix", type="string", default="see numbers", meaning="Numbers starting so.", example="4477009001"),
    *(
        K(path=f"behaviour.personas.number[].{ask}", type="table of action = weight", default=f"`behaviour.personas.{ask}`", meaning="These numbers' own weights for this kind.", example={next(iter(_WEIGHTS[ask])): 1})
        for ask in _ASKS
    ),
    # [[behaviour.handsets]]
    K(path="behaviour.handsets[].match", type="string", default='"" (every message)', meaning="A case-insensitive part of the MT text this handset answers.", example="Reply YES"),
    K(path="behaviour.handsets[].reply", type="string", default="one of reply, replies", meaning="The reply.", example="YES"),
    K(path="behaviour.handsets[].replies", type="list of strings", default="one of reply, replies", meaning='Replies drawn by `weights` ("score": a random 0-10).', example=["YES", "NO"]),
    K(path="behaviour.handsets[].weights", type="list of numbers >= 0", default="equal", meaning="One per reply.", example=[3, 1]),
    K(path="behaviour.handsets[].probability", type=_P, default="1", meaning="How often the handset answers.", example=1.0),
    K(path="behaviour.handsets[].delay", type=_DELAY, default="1", meaning="MT -> reply.", example=1.0),
)  # fmt: skip


def render_simulator() -> str:
    return render(KEYS, intro=_INTRO)


if __name__ == "__main__":
    print(render_simulator(), end="")
