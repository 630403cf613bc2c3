"""The simulator's accounts, binds and carrier behaviour, over loopback TCP with our ESME.

Each test runs a real simulator (``running``) and binds ``open_esme`` to it; delays are tens
of milliseconds and every wait is bounded.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import trio

from smppgw.core.codec import encode_pdu
from smppgw.core.constants import CommandStatus, EsmClass, MessageState
from smppgw.core.events import Bound, ResponseReceived, UnbindReceived
from smppgw.core.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DeliverSm,
    DeliverSmResp,
    QuerySm,
    SubmitSm,
    SubmitSmResp,
)
from smppgw.core.states import BindMode
from smppgw.net.esme import BindFailed
from tests.simulator.helpers import (
    ACCOUNT,
    DEST,
    PASSWORD,
    SOURCE,
    RawClient,
    bound,
    receipt_of,
    running,
    sms,
    status_of,
)

S = CommandStatus
ACCOUNTS: list[dict[str, Any]] = [
    {"system_id": ACCOUNT, "password": PASSWORD, "max_binds": 2},
    {"system_id": "rxonly", "password": "pw", "bind_types": ["rx"]},
]


def _mode_name(mode: BindMode) -> str:
    return {BindMode.TX: "tx", BindMode.RX: "rx", BindMode.TRX: "trx"}[mode]


async def _binds_settle(sim: Any, system_id: str, count: int) -> None:
    """Wait until the simulator has noticed closed connections (it learns asynchronously)."""
    with trio.fail_after(2):
        while len(sim.accounts[system_id].binds) != count:
            await trio.sleep(0.005)


# -- binds ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(BindMode), ids=lambda m: m.name)
async def test_each_bind_type_binds_with_sc_interface_version(mode: BindMode) -> None:
    with trio.fail_after(5):
        async with running(account=ACCOUNTS) as sim, bound(sim, mode) as esme:
            [event] = [e for e in esme.events if isinstance(e, Bound)]
            assert event == Bound(mode=mode, system_id="smppsim", interface_version=0x34)
            assert esme.conn.session.state is mode.bound_state
            [info] = sim.binds_info()
            assert (info["account"], info["mode"]) == (ACCOUNT, _mode_name(mode))


async def test_bind_of_a_3_3_esme_gets_no_tlvs() -> None:
    with trio.fail_after(5):
        async with running() as sim, bound(sim, interface_version=0x33) as esme:
            [event] = [e for e in esme.events if isinstance(e, Bound)]
            assert event.interface_version is None


@pytest.mark.parametrize(
    ("system_id", "password", "mode", "status"),
    [
        ("nobody", PASSWORD, BindMode.TRX, S.ESME_RINVSYSID),
        (ACCOUNT, "wrong", BindMode.TRX, S.ESME_RINVPASWD),
        (ACCOUNT, "", BindMode.TX, S.ESME_RINVPASWD),
        ("rxonly", "pw", BindMode.TX, S.ESME_RBINDFAIL),
        ("rxonly", "pw", BindMode.TRX, S.ESME_RBINDFAIL),
    ],
)
async def test_bind_refused_with_the_right_status(
    system_id: str, password: str, mode: BindMode, status: int
) -> None:
    with trio.fail_after(5):
        async with running(account=ACCOUNTS) as sim:
            with pytest.raises(BindFailed) as caught:
                async with bound(sim, mode, system_id=system_id, password=password):
                    pass
            assert caught.value.status == status
            assert sim.binds_info() == [] or all(b["account"] is None for b in sim.binds_info())
            assert all(not a.binds for a in sim.accounts.values())


async def test_allowed_bind_type_binds() -> None:
    with trio.fail_after(5):
        async with (
            running(account=ACCOUNTS) as sim,
            bound(sim, BindMode.RX, system_id="rxonly", password="pw"),
        ):
            assert [a["binds"] for a in sim.accounts_info()] == [0, 1]


async def test_max_binds_then_esme_ralybnd_until_one_leaves() -> None:
    with trio.fail_after(5):
        async with running(account=ACCOUNTS) as sim:
            async with bound(sim, BindMode.TX), bound(sim, BindMode.RX) as second:
                with pytest.raises(BindFailed) as caught:
                    async with bound(sim, BindMode.TRX):
                        pass
                assert caught.value.status == S.ESME_RALYBND
                await second.conn.unbind(1.0)
                await _binds_settle(sim, ACCOUNT, 1)
                async with bound(sim, BindMode.TRX) as third:
                    assert isinstance(await third.ok(sms()), SubmitSmResp)


async def test_second_bind_on_a_bound_session_gets_ralybnd_and_stays_bound() -> None:
    with trio.fail_after(5):
        async with running() as sim, RawClient.connect(sim) as raw:
            header, _ = await raw.exchange(BindTransceiver(system_id=ACCOUNT, password=PASSWORD))
            assert header.command_status == S.ESME_ROK
            header, _ = await raw.exchange(BindTransmitter(system_id=ACCOUNT, password=PASSWORD))
            assert header.command_status == S.ESME_RALYBND
            header, resp = await raw.exchange(sms())
            assert header.command_status == S.ESME_ROK
            assert isinstance(resp, SubmitSmResp) and resp.message_id
            assert [b["mode"] for b in sim.binds_info()] == ["trx"]


async def test_submit_on_a_receiver_bind_gets_rinvbndsts() -> None:
    with trio.fail_after(5):
        async with running() as sim, RawClient.connect(sim) as raw:
            header, _ = await raw.exchange(BindReceiver(system_id=ACCOUNT, password=PASSWORD))
            assert header.command_status == S.ESME_ROK
            header, resp = await raw.exchange(sms())
            assert (header.command_status, type(resp)) == (S.ESME_RINVBNDSTS, SubmitSmResp)
            assert len(sim.store) == 0


async def test_submit_before_bind_gets_rinvbndsts() -> None:
    with trio.fail_after(5):
        async with running() as sim, RawClient.connect(sim) as raw:
            header, _ = await raw.exchange(sms())
            assert header.command_status == S.ESME_RINVBNDSTS
            assert len(sim.store) == 0


async def test_session_init_timer_closes_a_connection_that_never_binds() -> None:
    with trio.fail_after(5):
        async with running(session={"bind_timeout": 0.2}) as sim, RawClient.connect(sim) as raw:
            start = trio.current_time()
            with pytest.raises(EOFError):
                await raw.receive(timeout=3.0)
            assert 0.15 <= trio.current_time() - start < 2.0


async def test_inactivity_timer_unbinds_a_silent_session() -> None:
    with trio.fail_after(5):
        async with running(session={"inactivity_timeout": 0.3}) as sim, bound(sim) as esme:
            start = trio.current_time()
            await esme.wait_closed()
            assert 0.25 <= trio.current_time() - start < 2.0
            assert any(isinstance(e, UnbindReceived) for e in esme.events)
            await _binds_settle(sim, ACCOUNT, 0)


async def test_enquire_link_keeps_a_session_alive_past_the_inactivity_timer() -> None:
    with trio.fail_after(5):
        async with (
            running(session={"inactivity_timeout": 0.3}) as sim,
            bound(sim, enquire_link_interval=0.1) as esme,
        ):
            await trio.sleep(0.8)
            assert not esme.conn.closed
            assert len(sim.accounts[ACCOUNT].binds) == 1


async def test_smsc_sends_enquire_link_to_an_idle_esme() -> None:
    with trio.fail_after(5):
        async with running(session={"enquire_link_interval": 0.1}) as sim, bound(sim) as esme:
            before = esme.conn.statistics().pdus_received
            await trio.sleep(0.35)
            assert esme.conn.statistics().pdus_received - before >= 2  # enquire_link, answered by the ESME
            assert not esme.conn.closed


# -- throughput: TPS and the processing queue ------------------------------------------------------


async def test_account_tps_excess_gets_esme_rthrottled() -> None:
    with trio.fail_after(5):
        async with running(behaviour={"tps": 5}) as sim, bound(sim) as esme:
            outcomes = esme.send_all(sms() for _ in range(10))
            await esme.wait_until(lambda: len(outcomes) == 10)
            statuses = sorted(status_of(o) for o in outcomes)
            assert statuses == [S.ESME_ROK] * 5 + [S.ESME_RTHROTTLED] * 5
            assert len(sim.store) == 5  # throttled submits are not accepted: no receipt either
            await esme.wait_for(5)
            await trio.sleep(0.05)
            assert len(esme.received) == 5
            await trio.sleep(0.25)  # 5 TPS: a token is back after 0.2 s
            assert await esme.status(sms()) == S.ESME_ROK
            assert sim.accounts_info()[0]["throttled"] == 5


async def test_bind_tps_is_per_bind() -> None:
    with trio.fail_after(5):
        async with running(behaviour={"bind_tps": 3}) as sim, bound(sim) as one, bound(sim) as two:
            first = one.send_all(sms() for _ in range(5))
            second = two.send_all(sms() for _ in range(5))
            await one.wait_until(lambda: len(first) == 5)
            await two.wait_until(lambda: len(second) == 5)
            for outcomes in (first, second):
                statuses = sorted(status_of(o) for o in outcomes)
                assert statuses == [S.ESME_ROK] * 3 + [S.ESME_RTHROTTLED] * 2
            assert sorted(b["throttled"] for b in sim.binds_info()) == [2, 2]


async def test_full_processing_queue_gets_esme_rmsgqful() -> None:
    with trio.fail_after(5):
        async with running(behaviour={"queue_size": 2, "resp_latency": 0.2}) as sim, bound(sim) as esme:
            start = trio.current_time()
            outcomes = esme.send_all(sms() for _ in range(4))
            await esme.wait_until(lambda: len(outcomes) == 2)
            assert [status_of(o) for o in outcomes] == [S.ESME_RMSGQFUL] * 2
            assert trio.current_time() - start < 0.15  # refused at once
            await esme.wait_until(lambda: len(outcomes) == 4)
            assert [status_of(o) for o in outcomes[2:]] == [S.ESME_ROK] * 2
            assert trio.current_time() - start >= 0.19
            assert await esme.status(sms()) == S.ESME_ROK  # the queue drained
            assert len(sim.store) == 3


async def test_resp_latency_follows_its_distribution() -> None:
    latency = {"kind": "uniform", "low": 0.05, "high": 0.1}
    with trio.fail_after(5):
        async with running(behaviour={"resp_latency": latency}) as sim, bound(sim) as esme:
            for _ in range(5):
                outcome = await esme.call(sms())
                assert isinstance(outcome, ResponseReceived) and outcome.status == S.ESME_ROK
                assert 0.045 <= outcome.round_trip < 0.25
            assert sim.accounts[ACCOUNT].pending_responses == 0


# -- message ids ------------------------------------------------------------------------------


_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.mark.parametrize(
    ("fmt", "pattern"),
    [
        ("decimal", re.compile(r"^[1-9][0-9]*$")),
        ("hex", re.compile(r"^[1-9a-f][0-9a-f]*$")),
        ("uuid", _UUID4),
        ("padded", re.compile(r"^[0-9]{10}$")),
    ],
)
async def test_message_id_format(fmt: str, pattern: re.Pattern[str]) -> None:
    with trio.fail_after(5):
        async with (
            running(behaviour={"message_id": fmt}) as sim,
            bound(sim) as esme,
        ):
            ids = [(await esme.ok(sms(registered_delivery=0))).message_id for _ in range(12)]
            assert all(pattern.match(i) for i in ids), ids
            assert len(set(ids)) == 12
            if fmt == "hex":
                assert [int(i, 16) for i in ids] == list(range(1, 13))
                assert ids[9:] == ["a", "b", "c"]
            elif fmt in ("decimal", "padded"):
                assert [int(i) for i in ids] == list(range(1, 13))


async def test_padded_width_is_configurable() -> None:
    with trio.fail_after(5):
        async with (
            running(behaviour={"message_id": "padded", "message_id_width": 16}) as sim,
            bound(sim) as esme,
        ):
            assert (await esme.ok(sms())).message_id == "0000000000000001"


# -- receipts ---------------------------------------------------------------------------------

_RECEIPT_TEXT = re.compile(
    r"^id:(\S+) sub:001 dlvrd:001 submit date:\d{10} done date:\d{10} stat:DELIVRD err:000 text:hello world$"
)


async def test_receipt_has_appendix_b_text_and_tlvs() -> None:
    with trio.fail_after(5):
        async with running() as sim, bound(sim) as esme:
            resp = await esme.ok(sms())
            [pdu] = await esme.wait_for(1)
            assert pdu.esm_class == EsmClass.SMSC_DELIVERY_RECEIPT
            assert (pdu.source_addr, pdu.destination_addr) == (DEST, SOURCE)  # swapped
            match = _RECEIPT_TEXT.match(pdu.short_message.decode("ascii"))
            assert match is not None, pdu.short_message
            assert match.group(1) == resp.message_id
            receipt = receipt_of(pdu)
            assert (receipt.tlv_id, receipt.text_id) == (resp.message_id, resp.message_id)
            assert (receipt.state, receipt.stat, receipt.error) == (MessageState.DELIVERED, "DELIVRD", "000")
            assert (receipt.submitted, receipt.delivered, receipt.text) == (1, 1, "hello world")
            assert receipt.is_final
            assert sim.store.get(resp.message_id).receipts_sent == 1  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("behaviour", "has_text", "has_tlvs"),
    [
        ({"receipt_text": False}, False, True),
        ({"receipt_tlvs": False}, True, False),
    ],
)
async def test_receipt_text_and_tlvs_are_optional(
    behaviour: dict[str, Any], has_text: bool, has_tlvs: bool
) -> None:
    with trio.fail_after(5):
        async with running(behaviour=behaviour) as sim, bound(sim) as esme:
            resp = await esme.ok(sms())
            [pdu] = await esme.wait_for(1)
            assert bool(pdu.short_message) is has_text
            assert bool(pdu.tlvs) is has_tlvs
            receipt = receipt_of(pdu)
            assert receipt.message_id == resp.message_id
            assert receipt.state is MessageState.DELIVERED


async def test_upper_case_receipt_with_12_digit_dates() -> None:
    with trio.fail_after(5):
        async with (
            running(behaviour={"receipt_upper_case": True, "receipt_date_digits": 12}) as sim,
            bound(sim) as esme,
        ):
            resp = await esme.ok(sms())
            [pdu] = await esme.wait_for(1)
            text = pdu.short_message.decode("ascii")
            assert re.match(
                rf"^ID:{resp.message_id} SUB:001 DLVRD:001 SUBMIT DATE:\d{{12}} DONE DATE:\d{{12}} "
                r"STAT:DELIVRD ERR:000 TEXT:hello world$",
                text,
            ), text
            assert len(receipt_of(pdu).done_date or "") == 12


async def test_registered_delivery_decides_which_messages_get_a_receipt() -> None:
    force = [{"destination_suffix": "13", "outcome": "UNDELIV"}]
    with trio.fail_after(5):
        async with running(behaviour={"force": force}) as sim, bound(sim) as esme:
            cases = [(0, DEST), (2, DEST), (2, "447700900013"), (3, DEST), (3, "447700900013"), (1, DEST)]
            ids = [(await esme.ok(sms(dest, registered_delivery=rd))).message_id for rd, dest in cases]
            received = await esme.wait_for(3)
            await trio.sleep(0.1)
            assert len(esme.received) == 3
            got = [(receipt_of(p).message_id, receipt_of(p).stat) for p in received]
            assert sorted(got) == sorted([(ids[2], "UNDELIV"), (ids[3], "DELIVRD"), (ids[5], "DELIVRD")])


@pytest.mark.parametrize(
    ("stat", "state"), [("ENROUTE", MessageState.ENROUTE), ("ACCEPTD", MessageState.ACCEPTED)]
)
async def test_intermediate_receipt_precedes_the_final_one(stat: str, state: MessageState) -> None:
    behaviour = {"intermediate": [stat], "intermediate_delay": 0.02, "dlr_delay": 0.1}
    with trio.fail_after(5):
        async with running(behaviour=behaviour) as sim, bound(sim) as esme:
            resp = await esme.ok(sms(registered_delivery=0x11))
            plain = await esme.ok(sms(registered_delivery=0x01))  # no intermediate asked for
            received = await esme.wait_for(3)
            await trio.sleep(0.05)
            assert len(esme.received) == 3
            first = received[0]
            assert first.esm_class == EsmClass.INTERMEDIATE_NOTIFICATION
            inter = receipt_of(first)
            assert (inter.message_id, inter.stat, inter.state) == (resp.message_id, stat, state)
            assert not inter.is_final
            finals = [receipt_of(p) for p in received[1:]]
            assert all(p.esm_class == EsmClass.SMSC_DELIVERY_RECEIPT for p in received[1:])
            assert sorted(r.message_id for r in finals) == sorted([resp.message_id, plain.message_id])  # type: ignore[type-var]
            assert all(r.stat == "DELIVRD" for r in finals)


async def test_intermediate_never_follows_the_final_receipt() -> None:
    behaviour = {"intermediate": ["ENROUTE"], "intermediate_delay": 0.15, "dlr_delay": 0.02}
    with trio.fail_after(5):
        async with running(behaviour=behaviour) as sim, bound(sim) as esme:
            await esme.ok(sms(registered_delivery=0x11))
            [final] = await esme.wait_for(1)
            await trio.sleep(0.25)
            assert esme.received == [final]
            assert receipt_of(final).stat == "DELIVRD"


async def test_outcome_mix_and_receipt_delay_distribution() -> None:
    behaviour = {
        "outcomes": {"DELIVRD": 1.0, "UNDELIV": 1.0},
        "dlr_delay": {"kind": "uniform", "low": 0.05, "high": 0.15},
    }
    with trio.fail_after(10):
        async with running(behaviour=behaviour) as sim, bound(sim) as esme:
            sent: dict[str, float] = {}
            for _ in range(30):
                sent[(await esme.ok(sms())).message_id] = trio.current_time()
            await esme.wait_for(30)
            stats: dict[str, int] = {}
            for arrival in esme.arrivals:
                receipt = receipt_of(arrival.pdu)
                assert receipt.message_id is not None
                stats[receipt.stat or ""] = stats.get(receipt.stat or "", 0) + 1
                assert receipt.error == ("000" if receipt.stat == "DELIVRD" else "001")
                assert 0.04 <= arrival.at - sent[receipt.message_id] < 0.4
            assert set(stats) == {"DELIVRD", "UNDELIV"}
            assert min(stats.values()) >= 5
            for message_id in sent:  # query_sm tells the same story as the receipt
                m = sim.store.get(message_id)
                assert m is not None and m.state is m.final_state


async def test_validity_period_expires_a_message_whose_delivery_comes_later() -> None:
    with trio.fail_after(5):
        async with running(behaviour={"dlr_delay": 5.0}) as sim, bound(sim) as esme:
            start = trio.current_time()
            expiring = await esme.ok(sms(validity_period="000000000001000R"))  # relative: 1 s
            pending = await esme.ok(sms())
            [pdu] = await esme.wait_for(1, timeout=3.0)
            assert 0.9 <= trio.current_time() - start < 2.5
            receipt = receipt_of(pdu)
            assert (receipt.message_id, receipt.stat, receipt.state) == (
                expiring.message_id,
                "EXPIRED",
                MessageState.EXPIRED,
            )
            query = await esme.ok(QuerySm(message_id=pending.message_id))
            assert query.message_state == MessageState.ENROUTE


async def test_validity_ignored_when_not_honoured() -> None:
    with trio.fail_after(5):
        async with running(behaviour={"dlr_delay": 0.2, "honour_validity": False}) as sim, bound(sim) as esme:
            await esme.ok(sms(validity_period="000000000000000R"))
            [pdu] = await esme.wait_for(1)
            assert receipt_of(pdu).stat == "DELIVRD"


@pytest.mark.parametrize("probability", [1.0, 0.0])
async def test_receipt_before_submit_sm_resp(probability: float) -> None:
    # Wire order on a raw socket: our ESME adapter runs response callbacks before it hands
    # the application the requests of the same read.
    behaviour = {"dlr_before_resp": probability}  # resp at once: only the knob can reorder
    with trio.fail_after(5):
        async with running(behaviour=behaviour) as sim, RawClient.connect(sim) as raw:
            header, _ = await raw.exchange(BindTransceiver(system_id=ACCOUNT, password=PASSWORD))
            assert header.command_status == S.ESME_ROK
            for _ in range(3):
                await raw.send(sms())
                first, second = await raw.receive(), await raw.receive()
                kinds = [type(first[1]), type(second[1])]
                assert kinds == ([DeliverSm, SubmitSmResp] if probability else [SubmitSmResp, DeliverSm])
                resp = first[1] if probability == 0 else second[1]
                receipt = first[1] if probability else second[1]
                assert isinstance(resp, SubmitSmResp) and isinstance(receipt, DeliverSm)
                assert receipt_of(receipt).message_id == resp.message_id
                await raw.stream.send_all(
                    encode_pdu(DeliverSmResp(), (first if probability else second)[0].sequence_number)
                )


async def test_duplicate_receipts() -> None:
    with trio.fail_after(5):
        async with running(behaviour={"duplicate_receipts": 1.0}) as sim, bound(sim) as esme:
            ids = [(await esme.ok(sms())).message_id for _ in range(3)]
            received = await esme.wait_for(6)
            await trio.sleep(0.05)
            assert len(esme.received) == 6
            assert sorted(receipt_of(p).message_id for p in received) == sorted(ids * 2)  # type: ignore[type-var]
            for message_id in ids:
                same = [p for p in received if receipt_of(p).message_id == message_id]
                assert same[0] == same[1]
                assert sim.store.get(message_id).receipts_sent == 2  # type: ignore[union-attr]


def _two_parts() -> list[SubmitSm]:
    udh = bytes((0x05, 0x00, 0x03, 0x2A, 0x02))
    return [
        sms(text=udh + bytes([1]) + b"A" * 150, esm_class=EsmClass.UDHI),
        sms(text=udh + bytes([2]) + b"B" * 20, esm_class=EsmClass.UDHI),
    ]


@pytest.mark.parametrize("per_part", [True, False])
async def test_receipts_per_part_of_a_concatenated_message(per_part: bool) -> None:
    with trio.fail_after(5):
        async with running(behaviour={"per_part_receipts": per_part}) as sim, bound(sim) as esme:
            ids = [(await esme.ok(part)).message_id for part in _two_parts()]
            expected = ids if per_part else ids[1:]
            received = await esme.wait_for(len(expected))
            await trio.sleep(0.05)
            assert [receipt_of(p).message_id for p in esme.received] == expected
            assert all(receipt_of(p).text == "" for p in received)  # no UDH garbage as text


@pytest.mark.parametrize(
    ("fmt", "base", "convert"),
    [
        ("hex", "decimal", lambda i: str(int(i, 16))),
        ("decimal", "hex", lambda i: format(int(i), "X")),
        ("padded", "decimal", lambda i: str(int(i))),
        ("hex", "same", lambda i: i),
    ],
)
async def test_receipt_id_in_another_base(fmt: str, base: str, convert: Any) -> None:
    with trio.fail_after(5):
        async with (
            running(behaviour={"message_id": fmt, "receipt_id_base": base}) as sim,
            bound(sim) as esme,
        ):
            ids = [(await esme.ok(sms())).message_id for _ in range(12)]
            received = await esme.wait_for(12)
            got = {receipt_of(p).text_id: receipt_of(p).tlv_id for p in received}
            assert sorted(got) == sorted(convert(i) for i in ids)  # type: ignore[type-var]
            assert all(text_id == tlv_id for text_id, tlv_id in got.items())
            if base != "same":
                assert convert(ids[11]) != ids[11]


async def test_forced_outcomes_per_destination() -> None:
    force = [
        {"destination_suffix": "13", "outcome": "UNDELIV"},
        {"destination": "447700900099", "outcome": "REJECTD"},
        {"destination_prefix": "4479", "outcome": "EXPIRED"},
    ]
    with trio.fail_after(5):
        async with running(behaviour={"force": force}) as sim, bound(sim) as esme:
            dests = {
                DEST: "DELIVRD",
                "447700900013": "UNDELIV",
                "447700900099": "REJECTD",
                "447912345": "EXPIRED",
            }
            ids = {(await esme.ok(sms(d))).message_id: stat for d, stat in dests.items()}
            received = await esme.wait_for(4)
            assert {receipt_of(p).message_id: receipt_of(p).stat for p in received} == ids


async def test_forced_submit_status_per_destination() -> None:
    force = [{"destination_prefix": "999", "submit_status": "ESME_RINVDSTADR"}]
    with trio.fail_after(5):
        async with running(behaviour={"force": force}) as sim, bound(sim) as esme:
            assert await esme.status(sms("999123")) == S.ESME_RINVDSTADR
            assert await esme.status(sms()) == S.ESME_ROK
            assert [m.destination_addr for m in sim.store.newest_first()] == [DEST]


async def test_behaviour_is_selected_per_account_and_profile() -> None:
    accounts = [
        {"system_id": ACCOUNT, "password": PASSWORD, "profile": "uuid-ids", "behaviour": {"dlr_delay": 0.0}},
        {"system_id": "plain", "password": "pw", "behaviour": {"message_id": "padded"}},
    ]
    with trio.fail_after(5):
        async with running(account=accounts) as sim:
            async with bound(sim) as esme:
                resp = await esme.ok(sms())
                assert _UUID4.match(resp.message_id)
                [pdu] = await esme.wait_for(1)
                assert pdu.short_message == b""  # the profile's TLV-only receipts
                assert receipt_of(pdu).message_id == resp.message_id
            async with bound(sim, system_id="plain", password="pw") as esme:
                assert re.match(r"^\d{10}$", (await esme.ok(sms())).message_id)
