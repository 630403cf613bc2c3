"""Faults the simulator injects, per account or profile and at run time, over loopback TCP.

Drop the connection (after N PDUs, or with a probability), black hole, delayed responses,
generic_nack, error statuses, SMSC-initiated unbind, refused binds (maintenance), a slow
reader and malformed PDUs.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from smppgw.core.codec import decode_header
from smppgw.core.constants import CommandId, CommandStatus
from smppgw.core.errors import MalformedPdu
from smppgw.core.events import (
    ProtocolViolation,
    RequestAborted,
    RequestExpired,
    ResponseReceived,
    UnbindReceived,
)
from smppgw.core.pdu import BindTransceiver, EnquireLink, GenericNack, QuerySm, SubmitSmResp
from smppgw.core.states import BindMode
from smppgw.net.esme import BindFailed
from tests.simulator.helpers import ACCOUNT, PASSWORD, RawClient, bound, running, sms, status_of

S = CommandStatus


def _account(**behaviour: Any) -> dict[str, Any]:
    """The default account with its own behaviour (faults on the account leave binds alone)."""
    return {"account": [{"system_id": ACCOUNT, "password": PASSWORD, "behaviour": behaviour}]}


# -- dropped connections ---------------------------------------------------------------------------


async def test_drop_after_n_pdus() -> None:
    with trio.fail_after(5):
        async with running(**_account(drop_after_pdus=3)) as sim, bound(sim) as esme:
            assert await esme.status(sms()) == S.ESME_ROK  # PDU 2 (the bind was 1)
            outcome = await esme.call(sms())  # PDU 3: the connection goes, unanswered
            assert isinstance(outcome, RequestAborted)
            await esme.wait_closed()
            assert len(sim.store) == 1


async def test_drop_with_probability_one_drops_at_the_first_request() -> None:
    with trio.fail_after(5):
        async with running(**_account(drop_probability=1.0)) as sim, bound(sim) as esme:
            assert isinstance(await esme.call(sms()), RequestAborted)
            await esme.wait_closed()
            with trio.fail_after(2):
                while sim.binds_info():
                    await trio.sleep(0.005)


async def test_drop_probability_drops_some_connections() -> None:
    with trio.fail_after(10):
        async with running(**_account(drop_probability=0.3)) as sim:
            survived = dropped = 0
            for _ in range(12):
                async with bound(sim) as esme:
                    if isinstance(await esme.call(sms()), RequestAborted):
                        dropped += 1
                    else:
                        survived += 1
            assert survived and dropped, (survived, dropped)


# -- black hole, delays -----------------------------------------------------------------------


async def test_black_hole_reads_everything_and_answers_nothing() -> None:
    with trio.fail_after(5):
        async with running(**_account(black_hole=True)) as sim, bound(sim, response_timeout=0.2) as esme:
            start = trio.current_time()
            assert isinstance(await esme.call(sms()), RequestExpired)
            assert isinstance(await esme.call(QuerySm(message_id="1")), RequestExpired)
            assert trio.current_time() - start >= 0.38
            assert len(sim.store) == 0
            assert not esme.conn.closed
            # A true black hole: even the keep-alive goes unanswered, so an ESME's
            # dead-link detection (SMPP-REFERENCE §4.3) is what gets exercised.
            assert isinstance(await esme.call(EnquireLink()), RequestExpired)


async def test_response_delay_delays_every_response_but_the_bind() -> None:
    delay = {"kind": "uniform", "low": 0.08, "high": 0.1}
    with trio.fail_after(5):
        async with running(behaviour={"response_delay": delay, "tps": 1}) as sim:
            start = trio.current_time()
            async with bound(sim) as esme:
                assert trio.current_time() - start < 0.08  # bind_resp at once
                for pdu, status in [
                    (sms(), S.ESME_ROK),
                    (QuerySm(message_id="1"), S.ESME_ROK),
                    (QuerySm(message_id="999"), S.ESME_RQUERYFAIL),
                    (sms(), S.ESME_RTHROTTLED),  # the error answer is delayed too
                ]:
                    outcome = await esme.call(pdu)
                    assert isinstance(outcome, ResponseReceived) and outcome.status == status
                    assert 0.075 <= outcome.round_trip < 0.3


# -- error answers ----------------------------------------------------------------------------------


async def test_generic_nack_instead_of_the_response() -> None:
    with trio.fail_after(5):
        async with running(**_account(nack_probability=1.0)) as sim, bound(sim) as esme:
            for pdu in (sms(), QuerySm(message_id="1")):
                outcome = await esme.call(pdu)
                assert isinstance(outcome, ResponseReceived)
                assert (type(outcome.response), outcome.status) == (GenericNack, S.ESME_RSYSERR)
            assert len(sim.store) == 0


async def test_generic_nack_for_a_fraction_of_requests() -> None:
    with trio.fail_after(5):
        async with running(**_account(nack_probability=0.5)) as sim, bound(sim) as esme:
            outcomes = esme.send_all(sms() for _ in range(40))
            await esme.wait_until(lambda: len(outcomes) == 40)
            nacked = [
                o for o in outcomes if isinstance(o, ResponseReceived) and isinstance(o.response, GenericNack)
            ]
            assert 8 <= len(nacked) <= 32
            assert len(sim.store) == 40 - len(nacked)


async def test_global_nack_fault_also_answers_binds() -> None:
    with trio.fail_after(5):
        async with running(behaviour={"nack_probability": 1.0}) as sim:
            with pytest.raises(BindFailed) as caught:
                async with bound(sim):
                    pass
            assert caught.value.status == S.ESME_RSYSERR


@pytest.mark.parametrize(
    ("configured", "status"), [("ESME_RSUBMITFAIL", S.ESME_RSUBMITFAIL), (0x58, S.ESME_RTHROTTLED)]
)
async def test_chosen_error_status_for_submits(configured: Any, status: int) -> None:
    with trio.fail_after(5):
        async with (
            running(**_account(error_probability=1.0, error_status=configured)) as sim,
            bound(sim) as esme,
        ):
            assert await esme.status(sms()) == status
            assert status_of(await esme.call(QuerySm(message_id="1"))) == S.ESME_RQUERYFAIL  # submits only
            assert len(sim.store) == 0


async def test_error_status_for_a_fraction_of_submits() -> None:
    with trio.fail_after(5):
        async with running(**_account(error_probability=0.25)) as sim, bound(sim) as esme:
            outcomes = esme.send_all(sms() for _ in range(40))
            await esme.wait_until(lambda: len(outcomes) == 40)
            failed = sum(status_of(o) == S.ESME_RSYSERR for o in outcomes)
            assert 3 <= failed <= 20
            assert len(sim.store) == 40 - failed


# -- SMSC-side unbind, refused binds ------------------------------------------------------------


async def test_smsc_unbinds_after_a_while() -> None:
    with trio.fail_after(5):
        async with running(**_account(unbind_after=0.15)) as sim:
            async with bound(sim) as esme:
                start = trio.current_time()
                await esme.wait_closed()
                assert 0.1 <= trio.current_time() - start < 1.0
                assert any(isinstance(e, UnbindReceived) for e in esme.events)
            with trio.fail_after(2):
                while sim.binds_info():
                    await trio.sleep(0.005)
            async with bound(sim) as again:  # the ESME may rebind at once
                assert await again.status(sms()) == S.ESME_ROK


async def test_unbind_after_changed_at_run_time_reaches_binds_already_up() -> None:
    with trio.fail_after(5):
        async with running(**_account(unbind_after=0.15)) as sim, bound(sim) as kept, bound(sim) as cut:
            sim.set_behaviour(ACCOUNT, {"unbind_after": None})  # the planned unbinds are off
            await trio.sleep(0.3)
            assert not kept.conn.closed and not cut.conn.closed
            start = trio.current_time()
            sim.set_behaviour(ACCOUNT, {"unbind_after": 0.2})  # both binds are older: at once
            await kept.wait_closed()
            await cut.wait_closed()
            assert trio.current_time() - start < 0.15
            assert all(any(isinstance(e, UnbindReceived) for e in esme.events) for esme in (kept, cut))


async def test_refuse_binds_maintenance_window_toggled_at_run_time() -> None:
    with trio.fail_after(5):
        async with running() as sim, bound(sim) as existing:
            sim.set_behaviour(ACCOUNT, {"refuse_binds": True})
            with pytest.raises(BindFailed) as caught:
                async with bound(sim, BindMode.RX):
                    pass
            assert caught.value.status == S.ESME_RBINDFAIL
            assert await existing.status(sms()) == S.ESME_ROK  # binds already up stay up
            sim.set_behaviour(ACCOUNT, {"refuse_binds": False})
            async with bound(sim, BindMode.RX) as rx:
                assert rx.conn.session.state.is_bound


async def test_refuse_binds_from_the_start() -> None:
    with trio.fail_after(5):
        async with running(**_account(refuse_binds=True)) as sim:
            with pytest.raises(BindFailed) as caught:
                async with bound(sim):
                    pass
            assert caught.value.status == S.ESME_RBINDFAIL


# -- slow reader, malformed PDUs ----------------------------------------------------------------


async def test_read_delay_slows_every_exchange() -> None:
    with trio.fail_after(5):
        async with running(**_account(read_delay=0.05)) as sim, bound(sim) as esme:
            start = trio.current_time()
            for _ in range(4):
                assert await esme.status(sms()) == S.ESME_ROK
            assert trio.current_time() - start >= 0.19
            sim.set_behaviour(ACCOUNT, {"read_delay": 0.0})
            await esme.status(sms())  # the reader may still be in its last pause
            start = trio.current_time()
            for _ in range(4):
                await esme.status(sms())
            assert trio.current_time() - start < 0.15


async def test_malformed_response_breaks_the_body_not_the_framing() -> None:
    with trio.fail_after(5):
        async with (
            running(**_account(malformed_probability=1.0)) as sim,
            bound(sim, response_timeout=0.2) as esme,
        ):
            assert isinstance(await esme.call(sms()), RequestExpired)
            assert any(isinstance(e, ProtocolViolation) for e in esme.events)
            assert esme.conn.statistics().protocol_violations == 1
            assert not esme.conn.closed  # framing held: the session goes on
            assert status_of(await esme.call(EnquireLink())) == S.ESME_ROK


async def test_malformed_response_on_the_wire() -> None:
    with trio.fail_after(5):
        async with running(**_account(malformed_probability=1.0)) as sim, RawClient.connect(sim) as raw:
            header, _ = await raw.exchange(BindTransceiver(system_id=ACCOUNT, password=PASSWORD))
            assert header.command_status == S.ESME_ROK
            seq = await raw.send(sms())
            with trio.fail_after(2):
                while (frame := raw.frames.next_frame()) is None:
                    raw.frames.feed(await raw.stream.receive_some(65536))
            header = decode_header(frame)
            assert (header.command_id, header.sequence_number) == (CommandId.SUBMIT_SM_RESP, seq)
            assert b"\x00" not in frame[16:]  # message_id without its NUL
            raw.frames = type(raw.frames)()
            raw.frames.feed(frame)
            with pytest.raises(MalformedPdu):
                await raw.receive()


# -- faults are changeable at run time and selectable by profile --------------------------------


async def test_black_hole_switched_off_answers_keepalives_again() -> None:
    with trio.fail_after(5):
        async with running(**_account(black_hole=True)) as sim, bound(sim, response_timeout=0.2) as esme:
            assert isinstance(await esme.call(EnquireLink()), RequestExpired)
            sim.set_behaviour(ACCOUNT, {"black_hole": False})
            assert status_of(await esme.call(EnquireLink())) == S.ESME_ROK


async def test_black_hole_switched_on_and_off_at_run_time() -> None:
    with trio.fail_after(5):
        async with running() as sim, bound(sim, response_timeout=0.2) as esme:
            assert await esme.status(sms()) == S.ESME_ROK
            sim.set_behaviour(ACCOUNT, {"black_hole": True})
            assert isinstance(await esme.call(sms()), RequestExpired)
            sim.set_behaviour(ACCOUNT, {"black_hole": False})
            resp = await esme.ok(sms())
            assert isinstance(resp, SubmitSmResp)
            assert len(sim.store) == 2


def test_flaky_profile_selects_faults() -> None:
    from simulator.config import config_from_dict

    config = config_from_dict({"account": [{"system_id": "a", "password": "p", "profile": "flaky"}]})
    b = config.behaviour_for(config.accounts[0])
    assert (b.drop_probability, b.nack_probability, b.error_probability) == (0.001, 0.002, 0.01)
    assert (b.unbind_after, b.duplicate_receipts) == (600.0, 0.05)


async def test_refuse_binds_for_is_a_maintenance_window_that_ends_by_itself() -> None:
    """issue: "refuse binds for a period (maintenance window)" — set at run time."""
    from smppgw.net.esme import BindFailed, open_esme

    with trio.fail_after(10):
        async with running() as sim:
            sim.set_behaviour(None, {"refuse_binds_for": 0.5})
            with pytest.raises(BindFailed) as info:
                async with open_esme("127.0.0.1", sim.port, system_id="smppclient1", password="password"):
                    pass
            assert info.value.status == CommandStatus.ESME_RBINDFAIL
            sim.set_behaviour(None, {"tps": 1000})  # another change does not restart the window
            await trio.sleep(0.6)
            async with open_esme("127.0.0.1", sim.port, system_id="smppclient1", password="password") as conn:
                assert conn.session.state.is_bound
