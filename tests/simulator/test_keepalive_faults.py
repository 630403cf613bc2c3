"""enquire_link under the faults: the simulator, not its sessions, answers keep-alives.

Its sessions are built with ``answer_enquire_link`` off (a value, never switched on a live
session), so the black hole can swallow a keep-alive and a run-time change takes effect
at the next one. The other faults leave keep-alives alone, as when the session answered
them: they are neither nacked, dropped nor counted toward ``drop_after_pdus``.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from smppgw.core.constants import CommandId, CommandStatus
from smppgw.core.events import RequestAborted
from smppgw.core.pdu import EnquireLink
from tests.simulator.helpers import ACCOUNT, PASSWORD, RawClient, bound, running, sms, status_of

S = CommandStatus


def _account(**behaviour: Any) -> dict[str, Any]:
    return {"account": [{"system_id": ACCOUNT, "password": PASSWORD, "behaviour": behaviour}]}


async def test_keepalives_do_not_count_toward_drop_after_pdus() -> None:
    with trio.fail_after(5):
        async with running(**_account(drop_after_pdus=3)) as sim, bound(sim) as esme:
            for _ in range(3):
                assert status_of(await esme.call(EnquireLink())) == S.ESME_ROK
            assert await esme.status(sms()) == S.ESME_ROK  # PDU 2 (the bind was 1)
            assert isinstance(await esme.call(sms()), RequestAborted)  # PDU 3


@pytest.mark.parametrize("fault", ["nack_probability", "drop_probability", "malformed_probability"])
async def test_keepalives_escape_the_random_faults(fault: str) -> None:
    with trio.fail_after(5):
        async with running(**_account(**{fault: 1.0})) as sim, bound(sim) as esme:
            for _ in range(3):
                assert status_of(await esme.call(EnquireLink())) == S.ESME_ROK
            assert len(sim.binds_info()) == 1


async def test_keepalives_are_counted_both_ways() -> None:
    def count(direction: str, command: str) -> float:
        labels = {"direction": direction, "command": command, "status": "ESME_ROK"}
        return sim.metrics.registry.get_sample_value("smppsim_pdus_total", labels) or 0.0

    with trio.fail_after(5):
        async with running() as sim, bound(sim) as esme:
            for _ in range(2):
                assert status_of(await esme.call(EnquireLink())) == S.ESME_ROK
            assert count("in", "enquire_link") == 2
            assert count("out", "enquire_link_resp") == 2


async def test_a_connection_not_bound_yet_follows_a_global_black_hole() -> None:
    with trio.fail_after(5):
        async with running() as sim, RawClient.connect(sim) as raw:
            sim.set_behaviour(None, {"black_hole": True})
            await raw.send(EnquireLink())
            with pytest.raises(trio.TooSlowError):
                await raw.receive(timeout=0.3)
            sim.set_behaviour(None, {"black_hole": False})
            header, _ = await raw.exchange(EnquireLink())
            assert (header.command_id, header.command_status) == (CommandId.ENQUIRE_LINK_RESP, S.ESME_ROK)
