"""Every SMPP 3.4 request the simulator serves, and what it delivers back (receipts, MO).

Over loopback TCP with our ESME: submit_sm, submit_multi, data_sm, query_sm, cancel_sm,
replace_sm, enquire_link, unbind; field validation statuses; deliveries waiting for a
receiver, round robin, redelivery; virtual handsets; inbound concatenation and UCS-2.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from smppgw.core.constants import CommandStatus, DataCoding, EsmClass, MessageState, Npi, TlvTag, Ton
from smppgw.core.events import ResponseReceived
from smppgw.core.pdu import (
    CancelSm,
    DataSm,
    DataSmResp,
    DeliverSm,
    DestAddress,
    DistributionList,
    EnquireLink,
    EnquireLinkResp,
    QuerySm,
    ReplaceSm,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    Unbind,
    UnbindResp,
    UnsuccessSme,
)
from smppgw.core.reassembly import concat_info
from smppgw.core.states import BindMode
from smppgw.core.text import decode_text
from smppgw.core.tlv import Tlv
from tests.simulator.helpers import (
    ACCOUNT,
    DEST,
    PASSWORD,
    SOURCE,
    bound,
    receipt_of,
    running,
    sms,
    status_of,
)

S = CommandStatus
SLOW = {"dlr_delay": 0.3}  # long enough to query, cancel or replace before the outcome


# -- submit_sm, submit_multi, data_sm ----------------------------------------------------------


async def test_submit_sm_is_stored_as_received() -> None:
    with trio.fail_after(5):
        async with running() as sim, bound(sim) as esme:
            resp = await esme.ok(sms(service_type="CMT", data_coding=0x03, text=b"caf\xe9"))
            m = sim.store.get(resp.message_id)
            assert m is not None
            assert (m.account, m.source_addr, m.destination_addr) == (ACCOUNT, SOURCE, DEST)
            assert (m.service_type, m.data_coding, m.payload) == ("CMT", 0x03, b"caf\xe9")
            assert m.bind_id == sim.binds_info()[0]["id"]


async def test_data_sm_with_message_payload_gets_data_sm_resp_and_a_receipt() -> None:
    payload = Tlv(TlvTag.MESSAGE_PAYLOAD, b"data via payload " * 20)
    pdu = DataSm(source_addr=SOURCE, destination_addr=DEST, registered_delivery=1, tlvs=(payload,))
    with trio.fail_after(5):
        async with running() as sim, bound(sim) as esme:
            resp = await esme.ok(pdu)
            assert isinstance(resp, DataSmResp) and resp.message_id
            [receipt] = await esme.wait_for(1)
            assert receipt_of(receipt).message_id == resp.message_id
            assert sim.store.get(resp.message_id).payload == payload.value  # type: ignore[union-attr]


async def test_data_sm_with_a_long_address_gets_its_receipt() -> None:
    long_dest = "4477009000" * 3  # data_sm allows 65; a deliver_sm carries at most 20
    pdu = DataSm(
        source_addr=SOURCE,
        destination_addr=long_dest,
        registered_delivery=1,
        tlvs=(Tlv(TlvTag.MESSAGE_PAYLOAD, b"x"),),
    )
    with trio.fail_after(5):
        async with running() as sim, bound(sim) as esme:
            resp = await esme.ok(pdu)
            [receipt] = await esme.wait_for(1)
            assert receipt.source_addr == long_dest[:20]
            assert receipt_of(receipt).message_id == resp.message_id


async def test_submit_multi_reports_failed_destinations_and_delivers_the_others() -> None:
    good = [DestAddress(destination_addr="447700900011"), DestAddress(destination_addr="447700900012")]
    bad = DestAddress(dest_addr_ton=Ton.INTERNATIONAL, destination_addr="not-digits")
    pdu = SubmitMulti(
        source_addr=SOURCE, dest_addresses=(good[0], bad, good[1]), registered_delivery=1, short_message=b"hi"
    )
    with trio.fail_after(5):
        async with running() as sim, bound(sim) as esme:
            resp = await esme.ok(pdu)
            assert isinstance(resp, SubmitMultiResp) and resp.message_id
            assert resp.unsuccess_smes == (
                UnsuccessSme(
                    dest_addr_ton=Ton.INTERNATIONAL,
                    dest_addr_npi=Npi.ISDN,
                    destination_addr="not-digits",
                    error_status_code=S.ESME_RINVDSTADR,
                ),
            )
            received = await esme.wait_for(2)
            await trio.sleep(0.05)
            assert len(esme.received) == 2
            assert sorted(p.source_addr for p in received) == ["447700900011", "447700900012"]
            assert {receipt_of(p).message_id for p in received} == {resp.message_id}
            query = await esme.ok(QuerySm(message_id=resp.message_id))
            assert query.message_state == MessageState.DELIVERED


@pytest.mark.parametrize(
    ("dests", "status"),
    [
        ((DestAddress(destination_addr=""),), S.ESME_RINVDSTADR),
        ((DistributionList(dl_name="friends"),), S.ESME_RCNTSUBDL),
    ],
)
async def test_submit_multi_with_no_usable_destination_is_refused(
    dests: tuple[Any, ...], status: int
) -> None:
    with trio.fail_after(5):
        async with running() as sim, bound(sim) as esme:
            outcome = await esme.call(
                SubmitMulti(source_addr=SOURCE, dest_addresses=dests, short_message=b"x")
            )
            assert status_of(outcome) == status
            assert len(sim.store) == 0


# -- field validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"source_addr_ton": 7}, S.ESME_RINVSRCTON),
        ({"source_addr_npi": 2}, S.ESME_RINVSRCNPI),
        ({"destination_addr": ""}, S.ESME_RINVDSTADR),
        ({"destination_addr": "44abc"}, S.ESME_RINVDSTADR),
        ({"dest_addr_ton": 9}, S.ESME_RINVDSTTON),
        ({"dest_addr_npi": 5}, S.ESME_RINVDSTNPI),
        ({"esm_class": EsmClass.SMSC_DELIVERY_RECEIPT}, S.ESME_RINVESMCLASS),
        ({"priority_flag": 4}, S.ESME_RINVPRTFLG),
        ({"schedule_delivery_time": "991399999999000+"}, S.ESME_RINVSCHED),
        ({"validity_period": "000000000001100R"}, S.ESME_RINVEXPIRY),
        ({"registered_delivery": 0x20}, S.ESME_RINVREGDLVFLG),
        ({"replace_if_present_flag": 2}, S.ESME_RINVREPFLAG),
        ({"data_coding": 0x05}, S.ESME_RINVDCS),
        ({"data_coding": DataCoding.UCS2, "short_message": b"abc"}, S.ESME_RINVMSGLEN),
        ({"short_message": b"x" * 161}, S.ESME_RINVMSGLEN),
        ({"esm_class": EsmClass.UDHI, "short_message": b"\x09ab"}, S.ESME_RINVMSGLEN),
        ({"tlvs": (Tlv.from_int(TlvTag.SAR_MSG_REF_NUM, 1, 2),)}, S.ESME_RMISSINGOPTPARAM),
    ],
    ids=lambda v: v.name if isinstance(v, S) else None,
)
async def test_invalid_submit_sm_gets_the_status_of_its_field(fields: dict[str, Any], status: int) -> None:
    values: dict[str, Any] = {"source_addr": SOURCE, "destination_addr": DEST, "short_message": b"hi"}
    values.update(fields)
    with trio.fail_after(5):
        async with running() as sim, bound(sim) as esme:
            assert await esme.status(SubmitSm(**values)) == status
            assert len(sim.store) == 0


async def test_strict_profile_rejects_what_a_lenient_carrier_accepts() -> None:
    alnum: dict[str, Any] = {"source_addr_ton": Ton.ALPHANUMERIC, "source_addr": "AVeryLongSenderName"}
    with trio.fail_after(5):
        async with running() as sim, bound(sim) as esme:
            assert await esme.status(sms(**alnum)) == S.ESME_ROK
        async with running(behaviour={"strict": True}) as sim, bound(sim) as esme:
            assert await esme.status(sms(**alnum)) == S.ESME_RINVSRCADR


# -- query_sm -----------------------------------------------------------------------------------


async def test_query_sm_reports_the_real_state() -> None:
    with trio.fail_after(5):
        async with running(behaviour=SLOW) as sim, bound(sim) as esme:
            resp = await esme.ok(sms())
            pending = await esme.ok(QuerySm(message_id=resp.message_id, source_addr=SOURCE))
            assert (pending.message_id, pending.message_state, pending.final_date, pending.error_code) == (
                resp.message_id,
                MessageState.ENROUTE,
                "",
                0,
            )
            await esme.wait_for(1)
            done = await esme.ok(QuerySm(message_id=resp.message_id))
            assert (done.message_state, done.error_code) == (MessageState.DELIVERED, 0)
            assert len(done.final_date) == 16


async def test_query_sm_of_a_failed_message_has_an_error_code() -> None:
    with trio.fail_after(5):
        async with running(behaviour={"outcomes": {"UNDELIV": 1}}) as sim, bound(sim) as esme:
            resp = await esme.ok(sms())
            await esme.wait_for(1)
            query = await esme.ok(QuerySm(message_id=resp.message_id))
            assert (query.message_state, query.error_code) == (MessageState.UNDELIVERABLE, 1)


async def test_query_sm_failures() -> None:
    with trio.fail_after(5):
        async with running(account=[_acct(ACCOUNT, PASSWORD), _acct("other", "pw")]) as sim:
            async with bound(sim) as esme:
                resp = await esme.ok(sms())
                assert await esme.status(QuerySm(message_id="999999")) == S.ESME_RQUERYFAIL
                assert await esme.status(QuerySm(message_id="")) == S.ESME_RINVMSGID
                wrong_source = QuerySm(message_id=resp.message_id, source_addr="1234")
                assert await esme.status(wrong_source) == S.ESME_RQUERYFAIL
            async with bound(sim, system_id="other", password="pw") as other:
                # Another account's message is not there for this one.
                assert await other.status(QuerySm(message_id=resp.message_id)) == S.ESME_RQUERYFAIL


def _acct(system_id: str, password: str) -> dict[str, Any]:
    return {"system_id": system_id, "password": password}


# -- cancel_sm ----------------------------------------------------------------------------------


async def test_cancel_sm_deletes_a_pending_message_and_its_receipt() -> None:
    with trio.fail_after(5):
        async with running(behaviour=SLOW) as sim, bound(sim) as esme:
            cancelled = await esme.ok(sms())
            kept = await esme.ok(sms())
            assert (
                await esme.status(CancelSm(message_id=cancelled.message_id, source_addr=SOURCE)) == S.ESME_ROK
            )
            query = await esme.ok(QuerySm(message_id=cancelled.message_id))
            assert query.message_state == MessageState.DELETED
            assert len(query.final_date) == 16
            await esme.wait_for(1)
            await trio.sleep(0.4)
            assert [receipt_of(p).message_id for p in esme.received] == [kept.message_id]
            # Final now: neither message can be cancelled any more.
            assert await esme.status(CancelSm(message_id=cancelled.message_id)) == S.ESME_RCANCELFAIL
            assert await esme.status(CancelSm(message_id=kept.message_id)) == S.ESME_RCANCELFAIL
            assert sim.store.get(kept.message_id).state is MessageState.DELIVERED  # type: ignore[union-attr]


async def test_cancel_sm_by_source_and_destination() -> None:
    with trio.fail_after(5):
        async with running(behaviour=SLOW) as sim, bound(sim) as esme:
            ids = [(await esme.ok(sms(d))).message_id for d in (DEST, DEST, "447700900077")]
            pdu = CancelSm(source_addr=SOURCE, destination_addr=DEST)
            assert await esme.status(pdu) == S.ESME_ROK
            states = [sim.store.get(i).state for i in ids]  # type: ignore[union-attr]
            assert states == [MessageState.DELETED, MessageState.DELETED, MessageState.ENROUTE]
            assert await esme.status(pdu) == S.ESME_RCANCELFAIL  # nothing pending left


@pytest.mark.parametrize(
    ("pdu", "status"),
    [
        (CancelSm(message_id="424242"), S.ESME_RCANCELFAIL),
        (CancelSm(), S.ESME_RINVMSGID),  # no id and no addresses: cancel what?
        (CancelSm(source_addr=SOURCE), S.ESME_RINVMSGID),
        (CancelSm(message_id="1", source_addr_ton=8), S.ESME_RINVSRCTON),
    ],
)
async def test_cancel_sm_failures(pdu: CancelSm, status: int) -> None:
    with trio.fail_after(5):
        async with running(behaviour=SLOW) as sim, bound(sim) as esme:
            await esme.ok(sms())
            assert await esme.status(pdu) == status
            assert next(sim.store.newest_first()).state is MessageState.ENROUTE


async def test_cancel_sm_of_a_submit_multi_cancels_every_destination() -> None:
    dests = (DestAddress(destination_addr="447700900011"), DestAddress(destination_addr="447700900012"))
    with trio.fail_after(5):
        async with running(behaviour=SLOW) as sim, bound(sim) as esme:
            resp = await esme.ok(SubmitMulti(source_addr=SOURCE, dest_addresses=dests, registered_delivery=1))
            assert await esme.status(CancelSm(message_id=resp.message_id)) == S.ESME_ROK
            assert {m.state for m in sim.store.newest_first()} == {MessageState.DELETED}
            await trio.sleep(0.4)
            assert esme.received == []


async def test_cancelled_message_gets_no_handset_reply() -> None:
    handsets = [{"match": "", "reply": "YES", "delay": 0.0}]
    with trio.fail_after(5):
        async with running(behaviour={**SLOW, "handsets": handsets}) as sim, bound(sim) as esme:
            resp = await esme.ok(sms(registered_delivery=0))
            assert await esme.status(CancelSm(message_id=resp.message_id)) == S.ESME_ROK
            await trio.sleep(0.45)
            assert esme.received == []


# -- replace_sm ---------------------------------------------------------------------------------


async def test_replace_sm_changes_a_pending_message() -> None:
    with trio.fail_after(5):
        async with running(behaviour=SLOW) as sim, bound(sim) as esme:
            resp = await esme.ok(sms(text=b"old text", registered_delivery=0))
            replace = ReplaceSm(
                message_id=resp.message_id,
                source_addr=SOURCE,
                short_message=b"new text",
                registered_delivery=1,
            )
            assert await esme.status(replace) == S.ESME_ROK
            assert sim.store.get(resp.message_id).payload == b"new text"  # type: ignore[union-attr]
            # The new registered_delivery asks for the receipt the original did not.
            [pdu] = await esme.wait_for(1)
            receipt = receipt_of(pdu)
            assert (receipt.message_id, receipt.text) == (resp.message_id, "new text")
            assert await esme.status(replace) == S.ESME_RREPLACEFAIL  # final now


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"message_id": "424242"}, S.ESME_RREPLACEFAIL),
        ({"message_id": ""}, S.ESME_RINVMSGID),
        ({"source_addr": "999"}, S.ESME_RREPLACEFAIL),  # 3.4 §4.10.1: must match the original
        ({"validity_period": "000000000001100R"}, S.ESME_RINVEXPIRY),
        ({"registered_delivery": 0x40}, S.ESME_RINVREGDLVFLG),
        ({"short_message": b"x" * 161}, S.ESME_RINVMSGLEN),
    ],
)
async def test_replace_sm_failures(fields: dict[str, Any], status: int) -> None:
    with trio.fail_after(5):
        async with running(behaviour=SLOW) as sim, bound(sim) as esme:
            resp = await esme.ok(sms(text=b"original"))
            values: dict[str, Any] = {"message_id": resp.message_id, "short_message": b"changed"}
            values.update(fields)
            assert await esme.status(ReplaceSm(**values)) == status
            assert sim.store.get(resp.message_id).payload == b"original"  # type: ignore[union-attr]


# -- enquire_link, unbind -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(BindMode), ids=lambda m: m.name)
async def test_enquire_link_is_answered_in_every_bind_mode(mode: BindMode) -> None:
    with trio.fail_after(5):
        async with running() as sim, bound(sim, mode) as esme:
            outcome = await esme.call(EnquireLink())
            assert isinstance(outcome, ResponseReceived)
            assert (type(outcome.response), outcome.status) == (EnquireLinkResp, S.ESME_ROK)


async def test_unbind_is_answered_and_the_bind_released() -> None:
    with trio.fail_after(5):
        async with running() as sim, bound(sim) as esme:
            assert len(sim.accounts[ACCOUNT].binds) == 1
            outcome = await esme.call(Unbind())
            assert (type(outcome.response), status_of(outcome)) == (UnbindResp, S.ESME_ROK)  # type: ignore[union-attr]
            await esme.wait_closed()
            with trio.fail_after(2):
                while sim.binds_info():
                    await trio.sleep(0.005)
            assert sim.accounts[ACCOUNT].binds == []


# -- deliveries: waiting, round robin, redelivery -------------------------------------------------


async def test_receipts_wait_for_a_receiver_and_flush_when_one_binds() -> None:
    with trio.fail_after(5):
        async with running() as sim:
            async with bound(sim, BindMode.TX) as tx:
                ids = [(await tx.ok(sms())).message_id for _ in range(3)]
                await trio.sleep(0.05)
                assert tx.received == []
                assert sim.accounts_info()[0]["deliveries_queued"] == 3
                async with bound(sim, BindMode.RX) as rx:
                    received = await rx.wait_for(3)
                    assert [receipt_of(p).message_id for p in received] == ids
                    await rx.wait_until(lambda: sim.accounts_info()[0]["deliveries_delivered"] == 3)
                    assert sim.accounts_info()[0]["deliveries_queued"] == 0


async def test_deliveries_round_robin_over_two_receivers() -> None:
    with trio.fail_after(5):
        async with running() as sim, bound(sim, BindMode.RX) as rx1, bound(sim, BindMode.RX) as rx2:
            for n in range(6):
                sim.inject_mo(
                    system_id=None, source_addr="447700900500", destination_addr="12345", text=f"mo {n}"
                )
            await rx1.wait_for(3)
            await rx2.wait_for(3)
            texts = {p.short_message.decode() for p in rx1.received}
            assert len(rx1.received) == len(rx2.received) == 3
            assert texts == {"mo 0", "mo 2", "mo 4"} or texts == {"mo 1", "mo 3", "mo 5"}


@pytest.mark.parametrize("status", [S.ESME_RX_T_APPN, S.ESME_RSYSERR])
async def test_deliver_sm_answered_with_an_error_is_redelivered_on_the_retry_schedule(status: int) -> None:
    with trio.fail_after(5):
        async with (
            running(behaviour={"deliver_retry": [0.05, 0.1]}) as sim,
            bound(sim, answer=lambda _pdu, _n: status) as esme,
        ):
            await esme.ok(sms())
            received = await esme.wait_for(3)
            await trio.sleep(0.2)
            assert len(esme.received) == 3  # the first try and one per retry delay, then given up
            assert received[0] == received[1] == received[2]
            gaps = [b.at - a.at for a, b in zip(esme.arrivals, esme.arrivals[1:], strict=False)]
            assert 0.045 <= gaps[0] < 0.3 and 0.095 <= gaps[1] < 0.4
            info = sim.accounts_info()[0]
            assert (info["deliveries_delivered"], info["deliveries_dropped"]) == (0, 1)


async def test_unanswered_deliver_sm_is_redelivered_after_the_response_timeout() -> None:
    def answer(_pdu: DeliverSm, n: int) -> int | None:
        return None if n < 2 else S.ESME_ROK  # ignore the first two tries

    with trio.fail_after(5):
        async with (
            running(
                behaviour={"deliver_retry": [0.05, 0.05, 0.05]}, session={"response_timeout": 0.1}
            ) as sim,
            bound(sim, answer=answer) as esme,
        ):
            await esme.ok(sms())
            await esme.wait_for(3)
            await esme.wait_until(lambda: sim.accounts_info()[0]["deliveries_delivered"] == 1)
            await trio.sleep(0.2)
            assert len(esme.received) == 3
            gaps = [b.at - a.at for a, b in zip(esme.arrivals, esme.arrivals[1:], strict=False)]
            assert all(0.14 <= g < 0.5 for g in gaps), gaps  # response timeout + retry delay
            assert sim.accounts_info()[0]["deliveries_dropped"] == 0


@pytest.mark.parametrize("status", [S.ESME_RX_P_APPN, S.ESME_RX_R_APPN])
async def test_deliver_sm_refused_permanently_is_dropped(status: int) -> None:
    with trio.fail_after(5):
        async with (
            running(behaviour={"deliver_retry": [0.05]}) as sim,
            bound(sim, answer=lambda _pdu, _n: status) as esme,
        ):
            await esme.ok(sms())
            await esme.wait_for(1)
            await trio.sleep(0.2)
            assert len(esme.received) == 1
            info = sim.accounts_info()[0]
            assert (info["deliveries_dropped"], info["deliveries_delivered"]) == (1, 0)


async def test_rx_p_appn_drops_the_others_queued_for_that_destination() -> None:
    """3.4 §5.1.3: ESME_RX_P_APPN means "do not retry this message nor others queued for
    the same destination"; deliveries to other destinations go on."""

    def answer(pdu: Any, _n: int) -> int:
        return S.ESME_RX_P_APPN if pdu.destination_addr == "12345" else S.ESME_ROK

    with trio.fail_after(5):
        # window 1: one deliver_sm in flight, the rest queued behind it
        async with running(session={"window": 1}) as sim, bound(sim, answer=answer) as esme:
            for n in range(3):
                sim.inject_mo(
                    system_id=None, source_addr="447700900500", destination_addr="12345", text=f"a{n}"
                )
            sim.inject_mo(system_id=None, source_addr="447700900500", destination_addr="54321", text="b")
            await esme.wait_until(lambda: sim.accounts_info()[0]["deliveries_delivered"] == 1)
            await trio.sleep(0.1)
            info = sim.accounts_info()[0]
            assert (info["deliveries_dropped"], info["deliveries_delivered"], info["deliveries_queued"]) == (
                3,
                1,
                0,
            )
            assert [p.destination_addr for p in esme.received] == ["12345", "54321"]


# -- virtual handsets (2-way) ------------------------------------------------------------------


async def test_handset_answers_a_matching_mt() -> None:
    handsets = [{"match": "reply yes", "reply": "YES", "delay": 0.05}]
    with trio.fail_after(5):
        async with running(behaviour={"handsets": handsets}) as sim, bound(sim) as esme:
            await esme.ok(sms(text=b"Please REPLY YES to confirm", registered_delivery=0))
            await esme.ok(sms(text=b"no question here", registered_delivery=0))
            [mo] = await esme.wait_for(1)
            await trio.sleep(0.15)
            assert len(esme.received) == 1
            assert (mo.source_addr, mo.destination_addr, mo.short_message) == (DEST, SOURCE, b"YES")
            assert (mo.source_addr_ton, mo.dest_addr_ton) == (Ton.INTERNATIONAL, Ton.INTERNATIONAL)
            assert mo.esm_class & EsmClass.TYPE_MASK == 0  # an MO, not a receipt
            assert sim.handsets.replies_sent == 1


async def test_handset_survey_score_and_probability() -> None:
    handsets = [
        {"match": "rate us", "reply": "score", "delay": 0.0},
        {"match": "never", "reply": "NO", "probability": 0.0},
    ]
    with trio.fail_after(5):
        async with running(behaviour={"handsets": handsets}) as sim, bound(sim) as esme:
            for _ in range(5):
                await esme.ok(sms(text=b"please rate us 0-10", registered_delivery=0))
            await esme.ok(sms(text=b"never answered", registered_delivery=0))
            received = await esme.wait_for(5)
            await trio.sleep(0.1)
            assert len(esme.received) == 5
            assert all(0 <= int(p.short_message) <= 10 for p in received)


async def test_handset_reply_only_for_delivered_messages() -> None:
    handsets = [{"match": "", "reply": "STOP", "delay": 0.0}]
    behaviour = {"handsets": handsets, "force": [{"destination_suffix": "13", "outcome": "UNDELIV"}]}
    with trio.fail_after(5):
        async with running(behaviour=behaviour) as sim, bound(sim) as esme:
            await esme.ok(sms("447700900013", registered_delivery=0))
            await esme.ok(sms(registered_delivery=0))
            [mo] = await esme.wait_for(1)
            await trio.sleep(0.1)
            assert len(esme.received) == 1
            assert (mo.source_addr, mo.short_message) == (DEST, b"STOP")


# -- inbound (MO) messages: concatenation and UCS-2 ---------------------------------------------

_LONG = "The quick brown fox jumps over the lazy dog. " * 6  # 270 GSM characters: two parts


def _reassemble(parts: list[DeliverSm]) -> tuple[str, set[Any]]:
    infos = []
    for part in parts:
        info, data = concat_info(part.short_message, part.esm_class, part.tlvs)
        assert info is not None
        infos.append((info, data, part.data_coding))
    assert [i.seqnum for i, _, _ in infos] == list(range(1, len(parts) + 1))
    assert {(i.reference, i.total) for i, _, _ in infos} == {(infos[0][0].reference, len(parts))}
    text = "".join(decode_text(data, dcs) for _, data, dcs in infos)
    return text, {i.method for i, _, _ in infos}


@pytest.mark.parametrize(
    ("mo_concat", "udh_prefix", "esm_class"),
    [("udh8", b"\x05\x00\x03", EsmClass.UDHI), ("udh16", b"\x06\x08\x04", EsmClass.UDHI), ("sar", b"", 0)],
)
async def test_long_inbound_message_arrives_concatenated(
    mo_concat: str, udh_prefix: bytes, esm_class: int
) -> None:
    with trio.fail_after(5):
        async with running(behaviour={"mo_concat": mo_concat}) as sim, bound(sim, BindMode.RX) as esme:
            parts = sim.inject_mo(
                system_id=ACCOUNT, source_addr="447700900500", destination_addr="12345", text=_LONG
            )
            assert parts == 2
            received = await esme.wait_for(2)
            for part in received:
                assert part.esm_class == esm_class
                assert part.short_message.startswith(udh_prefix)
                assert part.data_coding == DataCoding.SMSC_DEFAULT
                assert (part.source_addr, part.destination_addr) == ("447700900500", "12345")
                assert bool(part.get_tlv(TlvTag.SAR_MSG_REF_NUM)) is (mo_concat == "sar")
            text, methods = _reassemble(received)
            assert text == _LONG
            assert {m.value for m in methods} == {mo_concat}


async def test_non_gsm_inbound_text_arrives_in_ucs2() -> None:
    text = "Привет, мир! ✓"
    with trio.fail_after(5):
        async with running() as sim, bound(sim, BindMode.RX) as esme:
            assert (
                sim.inject_mo(system_id=None, source_addr="447700900500", destination_addr="12345", text=text)
                == 1
            )
            [mo] = await esme.wait_for(1)
            assert mo.data_coding == DataCoding.UCS2
            assert mo.short_message == text.encode("utf-16-be")


async def test_long_non_gsm_inbound_text_is_concatenated_ucs2() -> None:
    text = "Ünïcødé ✓ " * 10  # 100 UCS-2 characters: two parts of at most 67
    with trio.fail_after(5):
        async with running() as sim, bound(sim, BindMode.RX) as esme:
            assert (
                sim.inject_mo(system_id=None, source_addr="447700900500", destination_addr="12345", text=text)
                == 2
            )
            received = await esme.wait_for(2)
            assert {p.data_coding for p in received} == {DataCoding.UCS2}
            assert _reassemble(received)[0] == text


async def test_inbound_message_on_a_tx_only_account_waits_for_a_receiver() -> None:
    with trio.fail_after(5):
        async with running() as sim:
            async with bound(sim, BindMode.TX) as tx:
                sim.inject_mo(system_id=None, source_addr="447700900500", destination_addr="12345", text="hi")
                await trio.sleep(0.05)
                assert tx.received == []
            async with bound(sim, BindMode.TRX) as trx:
                [mo] = await trx.wait_for(1)
                assert mo.short_message == b"hi"
