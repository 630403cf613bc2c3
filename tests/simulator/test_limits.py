"""The simulator's own limits (issue 16, bounded everything): binds per source address,
and the receiving window of a bind (an ESME that ignores its window is throttled)."""

from __future__ import annotations

import contextlib

import pytest
import trio

from simulator.config import config_from_dict
from smppgw.core.codec import encode_pdu
from smppgw.core.constants import CommandId, CommandStatus
from smppgw.core.pdu import SubmitSm
from smppgw.net.esme import BindFailed, open_esme
from smppgw.support.config import ConfigError
from tests.fuzz.frames import valid_bind
from tests.simulator.conftest import HOST, read_pdu
from tests.simulator.helpers import ACCOUNT, PASSWORD, metric, running


def test_limits_have_defaults_and_are_checked() -> None:
    config = config_from_dict({})
    assert config.max_binds_per_address == 32
    assert config.session.receive_window == 1024
    assert (
        config_from_dict(
            {"max_binds_per_address": 3, "session": {"receive_window": 5}}
        ).session.receive_window
        == 5
    )
    with pytest.raises(ConfigError, match="max_binds_per_address"):
        config_from_dict({"max_binds_per_address": 0})
    with pytest.raises(ConfigError, match=r"session\.receive_window"):
        config_from_dict({"session": {"receive_window": 0}})


async def test_binds_beyond_the_per_address_limit_are_refused_and_counted() -> None:
    accounts = [{"system_id": ACCOUNT, "password": PASSWORD, "max_binds": 10}]
    with trio.fail_after(15):
        async with running(host=HOST, account=accounts, max_binds_per_address=2) as sim:
            async with contextlib.AsyncExitStack() as stack:
                for _ in range(2):
                    await stack.enter_async_context(
                        open_esme(HOST, sim.port, system_id=ACCOUNT, password=PASSWORD)
                    )
                with pytest.raises(BindFailed) as refused:
                    async with open_esme(HOST, sim.port, system_id=ACCOUNT, password=PASSWORD):
                        pass
                assert refused.value.status == CommandStatus.ESME_RBINDFAIL
            # Once those two are gone, the address may bind again.
            async with open_esme(HOST, sim.port, system_id=ACCOUNT, password=PASSWORD):
                pass
            text = sim.metrics.render().decode()
    assert metric(text, "smppsim_binds_refused_total", reason="per_address") == 1


async def test_an_esme_beyond_the_receiving_window_is_throttled() -> None:
    # Responses wait 0.5 s, so the first two submits stay owed; the next three are
    # beyond the window of 2 and are answered ESME_RTHROTTLED at once.
    with trio.fail_after(15):
        async with running(
            host=HOST, session={"receive_window": 2}, behaviour={"response_delay": 0.5}
        ) as sim:
            stream = await trio.open_tcp_stream(HOST, sim.port)
            buffer = bytearray()
            await stream.send_all(valid_bind(ACCOUNT, PASSWORD))
            bind = await read_pdu(stream, buffer)
            assert bind is not None and bind.command_status == 0
            submit = SubmitSm(source_addr="447700900000", destination_addr="447700900001", short_message=b"x")
            await stream.send_all(b"".join(encode_pdu(submit, seq) for seq in range(2, 7)))
            answers = [await read_pdu(stream, buffer, timeout=5) for _ in range(5)]
            await stream.aclose()
            text = sim.metrics.render().decode()
    got = {(a.sequence_number, a.command_status) for a in answers if a is not None}
    assert all(a is not None and a.command_id == CommandId.SUBMIT_SM_RESP for a in answers)
    assert got == {
        (2, 0),
        (3, 0),
        (4, CommandStatus.ESME_RTHROTTLED),
        (5, CommandStatus.ESME_RTHROTTLED),
        (6, CommandStatus.ESME_RTHROTTLED),
    }
    # The throttled ones were answered first: they never waited for the delay.
    assert [a.sequence_number for a in answers if a is not None][:3] == [4, 5, 6]
    assert metric(text, "smppsim_over_window_total") == 3
