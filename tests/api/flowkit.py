"""What the flow tests share: the app with the shipped example flows in front of the real
simulator, a handset that texts (an MO injected at the simulator) and reads what it
received, and the runs as the API shows them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import attrs
import trio

from simulator.message_log import text_of
from simulator.smsc import Simulator
from smppgw.app import AppConfig
from smppgw.twoway.config import twoway_from_dict
from tests.api.helpers import Api, app_config
from tests.gateway.helpers import ACCOUNT, smsc

__all__ = ["EXAMPLES", "Handset", "config", "run_view", "runs_of", "slots"]

EXAMPLES: Final = Path(__file__).resolve().parents[2] / "examples" / "flows"


def config(sim: Simulator, db: Path, **twoway: Any) -> AppConfig:
    """The app with every shipped flow (``[twoway] flows_dir = "examples/flows"``)."""
    tables = twoway_from_dict({"flows_dir": str(EXAMPLES), **twoway})
    return attrs.evolve(app_config([smsc(sim)], db), twoway=tables)


def slots(*seconds_ahead: float) -> list[str]:
    """ISO 8601 slots that many seconds from now (wall clock)."""
    now = datetime.now(UTC).timestamp()
    return [datetime.fromtimestamp(now + s, UTC).isoformat(timespec="seconds") for s in seconds_ahead]


@attrs.define
class Handset:
    """A subscriber's phone at the simulator, texting one of our numbers."""

    sim: Simulator
    api: Api
    number: str
    to: str  # our number it texts

    def heard(self) -> str:
        """Every text it received from ``to``, oldest first, the parts of each joined."""
        got = self.sim.store.select(destination_addr=self.number, source_addr=self.to)
        return "".join(text_of(m.payload, m.data_coding, m.esm_class) or "" for m in reversed(got))

    async def hears(self, phrase: str, timeout: float = 10.0, *, times: int = 1) -> str:
        """Wait until ``phrase`` has reached it (``times`` times); everything it heard."""
        with trio.fail_after(timeout):
            while (heard := self.heard()).count(phrase) < times:
                await trio.sleep(0.02)
        return heard

    async def texts(self, text: str) -> dict[str, Any]:
        """Send ``text`` (an MO at the simulator); the inbound item it became at the
        gateway (which has handled it by then: the flow desk runs in the same call)."""
        before = (await self.api.get("/v1/inbound", params={"limit": 1000})).json()["next"]
        self.sim.inject_mo(system_id=ACCOUNT, source_addr=self.number, destination_addr=self.to, text=text)
        with trio.fail_after(10):
            while not (
                items := (await self.api.get("/v1/inbound", params={"after": before})).json()["messages"]
            ):
                await trio.sleep(0.02)
        [item] = items
        return dict(item)


async def runs_of(api: Api, number: str) -> list[str]:
    """The ids of the runs of ``number``, oldest first (from their flow.step events)."""
    events = (await api.get("/v1/events", params={"type": "flow.step", "limit": 1000})).json()["events"]
    found: list[str] = []
    for e in events:
        if e["data"]["to"] == number and e["data"]["run_id"] not in found:
            found.append(e["data"]["run_id"])
    return found


async def run_view(api: Api, flow: str, run_id: str) -> dict[str, Any]:
    r = await api.get(f"/v1/flows/{flow}/runs/{run_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body
