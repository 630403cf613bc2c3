"""The demo's stage: the embedded default of ``smppgw serve`` with a demo carrier.

``staged`` starts, in one nursery, what ``smppgw serve`` starts with no config (the
composition root's ``run_app`` over SQLite, in a temporary directory here) in front of
the bundled simulator, whose handsets are people (``simulator.personas``) and whose
receipts come after a realistic delay, chosen here explicitly (not the profile's), so
the demo takes the same time whatever the default profile does. The API listens on a
free loopback port; one webhook endpoint, signed with a fresh secret, points at the
demo's receiver.

This is the third module allowed to start the bundled simulator (with ``smppgw/app.py``
and ``smppgw/cli.py``): the demo is a tool, like the CLI, that runs the product with its
carrier; nothing of the gateway imports it.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import attrs
import trio

from simulator import run_simulator
from simulator.config import config_from_dict as sim_config
from smppgw.app import embedded_config, run_app
from smppgw.core.reassembly import concat_info
from smppgw.core.text import decode_text
from smppgw.gateway.webhook_config import webhooks_from_dict
from smppgw.support.config import ConfigError
from smppgw.twoway.config import twoway_from_dict

__all__ = [
    "BOOKERS",
    "BRAND",
    "HANDSETS",
    "HELPER",
    "POOL",
    "QUIET_TAG",
    "QUIET_ZONE",
    "Carrier",
    "Stage",
    "carrier_behaviour",
    "staged",
]

SEED: Final = 2026
BRAND: Final = "Acme Dental"
POOL: Final = ("447700900101", "447700900102", "447700900103")  # long numbers for appointments
HANDSETS: Final = tuple(f"4477009000{i:02}" for i in range(1, 25))  # the subscribers
FAILS_UNDELIVERABLE: Final = HANDSETS[17]  # its handset is off: UNDELIV
FAILS_AT_SUBMIT: Final = HANDSETS[19]  # the carrier refuses the number: ESME_RINVDSTADR
ALWAYS_STOP: Final = HANDSETS[23]  # answers the offer "STOP" whatever the seed
ALWAYS_HELP: Final = HANDSETS[12]  # answers the offer "HELP"
# The flow step's people (``flowstep``): new numbers, so the campaign's counts stay its own.
BOOKERS: Final = ("447700900031", "447700900032", "447700900033")  # book, then confirm
HELPER: Final = "447700900035"  # texts HELP: triaged, then a human answers
_SECRET_ENV: Final = "SMPPGW_DEMO_WEBHOOK_SECRET"

# [twoway] for the 2-way features. Each section is offered to this build's parser alone:
# one it does not know yet is left out, and the demo steps that need it say they are
# waiting (``Stage.twoway_missing``).
TWOWAY_SECTIONS: Final[dict[str, Any]] = {
    "pool": [{"name": "appointments", "numbers": [f"+{n}" for n in POOL]}],
    "consent": {
        "brand": BRAND,
        "contact": "help@acme.example or 0800 000 0000",
        "frequency": "Up to 4 msgs/month",
    },
}


QUIET_TAG: Final = "evening-offer"
QUIET_ZONE: Final = "Europe/London"  # where the handsets' numbers are (from the number)


def quiet_hours(now: datetime) -> list[dict[str, Any]]:
    """A ``[[twoway.quiet_hours]]`` rule whose window, in the recipients' local time,
    opens two hours from ``now``: a message it holds is ``scheduled`` for then."""
    local = now.astimezone(ZoneInfo(QUIET_ZONE))
    start, end = local + timedelta(hours=2), local + timedelta(hours=3)
    return [{"window": f"{start:%H:%M}-{end:%H:%M}", "tags": [QUIET_TAG]}]


def carrier_behaviour() -> dict[str, Any]:
    """The simulator's behaviour: fast answers, receipts within a few seconds, two numbers
    that fail, and people behind the numbers (reproducible by ``SEED``)."""
    return {
        "resp_latency": {"kind": "lognormal", "p50": 0.005, "p99": 0.05},
        "dlr_delay": {"kind": "lognormal", "p50": 0.4, "p99": 2.5},
        "outcomes": {"DELIVRD": 1.0},
        "intermediate": [],
        "tps": None,
        "force": [
            {"destination": FAILS_UNDELIVERABLE, "outcome": "UNDELIV"},
            {"destination": FAILS_AT_SUBMIT, "submit_status": "ESME_RINVDSTADR"},
        ],
        "personas": {
            "seed": SEED,
            "delay": {"kind": "lognormal", "p50": 0.6, "p99": 3.0},
            "yes_no": {"yes": 60, "no": 22, "typo": 6, "text": 4, "help": 4, "stop": 2, "silence": 2},
            "score": {"score": 80, "text": 5, "typo": 5, "help": 2, "stop": 3, "silence": 5},
            "offer": {"stop": 35, "help": 5, "text": 5, "silence": 55},
            # What people do with a confirmation, a HELP text or a notice: nothing, so the
            # demo's counts stay exact (the simulator's default answers a few).
            "other": {"silence": 1},
            "number": [
                {"numbers": [ALWAYS_STOP], "offer": {"stop": 1}},
                {"numbers": [ALWAYS_HELP], "offer": {"help": 1}},
                # The flow step: every prompt answered with an option (a slot; CONFIRM at
                # the reminder; the first product and billing for the HELP handset).
                {"numbers": list(BOOKERS), "choice": {"pick": 1}, "prefer": ["CONFIRM"]},
                {"numbers": [HELPER], "choice": {"pick": 1}, "prefer": ["1"]},
            ],
        },
    }


@attrs.frozen(kw_only=True)
class HandsetReply:
    number: str  # the handset
    sender: str  # who texted it, and so who gets the reply
    action: str  # simulator.personas: yes, no, score, pick, typo, text, help, stop; "typed": by the demo
    text: str


@attrs.define(eq=False)
class Carrier:
    """What the carrier (the simulator) knows that the product should show: the ground
    truth of the demo's checks."""

    _sim: Any
    _typed: list[HandsetReply] = attrs.field(factory=list)

    def replies(self) -> list[HandsetReply]:
        """Every reply the handsets have decided to send (sent or due), and what the demo
        typed on one (``text``)."""
        return [
            HandsetReply(number=n, sender=s, action=a.action, text=a.text)
            for n, s, a in self._sim.handsets.personas.answers
            if a.text is not None
        ] + self._typed

    def text(self, number: str, sender: str, text: str) -> None:
        """The handset ``number`` texts ``text`` to ``sender`` (an MO at the simulator)."""
        self._sim.inject_mo(system_id=None, source_addr=number, destination_addr=sender, text=text)
        self._typed.append(HandsetReply(number=number, sender=sender, action="typed", text=text))

    def received(self, number: str, sender: str) -> list[str]:
        """The texts the handset ``number`` received from ``sender``, oldest first (the
        parts of a concatenated MT joined)."""
        texts: list[str] = []
        partial = ""
        for m in reversed(self._sim.store.select(source_addr=sender, destination_addr=number, limit=10_000)):
            info, data = concat_info(m.payload, m.esm_class, ())
            partial += decode_text(data, m.data_coding)
            if info is None or info.seqnum == info.total:
                texts.append(partial)
                partial = ""
        return texts


@attrs.frozen(kw_only=True)
class Stage:
    url: str  # the API
    api_key: str = attrs.field(repr=False)
    secret: str = attrs.field(repr=False)  # the webhook endpoint's, whsec_...
    carrier: Carrier
    sim_port: int
    twoway_missing: dict[str, str]  # [twoway] section -> why this build refused it
    started: datetime  # when the quiet-hours window was set (it opens two hours on)


def _twoway(missing: dict[str, str], now: datetime) -> dict[str, Any]:
    accepted: dict[str, Any] = {}
    for name, section in {**TWOWAY_SECTIONS, "quiet_hours": quiet_hours(now)}.items():
        try:
            twoway_from_dict({name: section})
        except ConfigError as exc:
            missing[name] = str(exc)
        else:
            accepted[name] = section
    return accepted


@contextlib.asynccontextmanager
async def staged(hooks_url: str) -> AsyncIterator[Stage]:
    """The simulator and the app, until the block ends; webhooks go to ``hooks_url``."""
    api_key = secrets.token_urlsafe(18)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    webhooks = webhooks_from_dict(
        {
            "endpoint": [{"url": hooks_url, "secret_env": _SECRET_ENV, "name": "demo"}],
            "backoff": 0.2,
            "backoff_cap": 1.0,
            "retry_for": 60.0,
        },
        {_SECRET_ENV: secret},
    )
    missing: dict[str, str] = {}
    started = datetime.now(UTC)
    twoway = twoway_from_dict(_twoway(missing, started))
    with tempfile.TemporaryDirectory(prefix="smppgw-demo-") as tmp:
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(
                run_simulator,
                sim_config({"port": 0, "seed": SEED, "profile": "default", "behaviour": carrier_behaviour()}),
            )
            config = attrs.evolve(
                embedded_config(sim.port, api_key=api_key, listen_port=0),
                store_path=Path(tmp) / "smppgw.sqlite3",
                webhooks=webhooks,
                twoway=twoway,
            )
            try:
                # The app in its own nursery, stopped first: it unbinds cleanly while the
                # simulator is still there (a bind the simulator dropped would be "lost").
                async with trio.open_nursery() as app:
                    _, _, port = await app.start(run_app, config)
                    try:
                        yield Stage(
                            url=f"http://127.0.0.1:{port}", api_key=api_key, secret=secret,
                            carrier=Carrier(sim), sim_port=sim.port, twoway_missing=missing, started=started,
                        )  # fmt: skip
                    finally:
                        app.cancel_scope.cancel()
            finally:
                nursery.cancel_scope.cancel()
