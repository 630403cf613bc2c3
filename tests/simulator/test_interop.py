"""Third-party SMPP clients against the simulator over loopback TCP.

smpplib (synchronous) and aiosmpplib (asyncio) are independent implementations of the
ESME side: if they bind, submit, receive receipts and MO, answer deliver_sm and unbind
cleanly against the simulator, its wire format is not just self-consistent.

Each client runs in a worker thread (``trio.to_thread.run_sync``) so the trio simulator
keeps running in the test's event loop; every blocking call in those threads carries a
socket timeout or an explicit deadline, and every test is bounded by ``trio.fail_after``.
The simulator side is checked too: ``sim.messages()`` must show exactly what each client
put on the wire, and ``sim.binds_info()`` must be empty once the clients have unbound.
"""

from __future__ import annotations

import asyncio
import logging
import select
import time
from collections.abc import Callable
from typing import Any

import aiosmpplib
import aiosmpplib.state
import aiosmpplib.utils
import pytest
import smpplib.client
import smpplib.consts
import smpplib.gsm
import trio
from aiosmpplib import (
    ESME,
    NPI,
    TON,
    AbstractHook,
    BindMode,
    DeliverSm,
    OptionalParam,
    PhoneNumber,
    SmppCommandStatus,
    SmppMessage,
    SmppSessionState,
    SubmitSm,
    SubmitSmResp,
)

from simulator.smsc import Simulator
from smppgw.core.constants import CommandId, MessageState, TlvTag
from smppgw.core.receipt import parse_receipt
from tests.simulator.conftest import HOST, start_simulator, wait_until

ACCOUNT = "smppclient1"
PASSWORD = "password"
SHORT_CODE = "15550009999"  # the ESME's number (source of MT, destination of MO)
HANDSETS = [{"match": "Reply YES", "replies": ["YES"], "delay": 0.05}]
# 200 GSM characters: two parts of 153 + 47 septets with a concatenation UDH.
LONG_TEXT = ("The quick brown fox jumps over the lazy dog 0123456789. " * 4)[:200]
UCS2_TEXT = "Привет, мир"
UDHI = 0x40
RECEIPT = 0x04


async def _simulator(nursery: trio.Nursery) -> Simulator:
    return await start_simulator(nursery, behaviour={"handsets": HANDSETS})


def _sent_messages(sim: Simulator) -> list[dict[str, Any]]:
    """What the simulator accepted, oldest first."""
    return list(reversed(sim.messages(account=ACCOUNT)))


async def _assert_no_binds(sim: Simulator) -> None:
    assert await wait_until(lambda: not sim.binds_info(), 3.0), sim.binds_info()
    assert all(a["binds"] == 0 for a in sim.accounts_info())


# -- smpplib -------------------------------------------------------------------------------------


class SmpplibPeer:
    """One smpplib ``Client`` driven from a worker thread; everything bounded in time."""

    def __init__(self, port: int) -> None:
        # A generous socket timeout bounds every blocking read; `pump_until` only reads
        # when select() says a PDU has started to arrive, so a timeout never splits a PDU.
        self.client = smpplib.client.Client(HOST, port, timeout=5, allow_unknown_opt_params=True)
        self.responses: list[Any] = []  # submit_sm_resp PDUs
        self.delivered: list[Any] = []  # deliver_sm PDUs (smpplib answers them itself)
        # smpplib calls its handlers with the keyword ``pdu=``: list.append cannot take it.
        self.client.set_message_sent_handler(lambda pdu: self.responses.append(pdu))  # noqa: PLW0108
        self.client.set_message_received_handler(lambda pdu: self.delivered.append(pdu))  # noqa: PLW0108

    def bind(self, mode: str) -> Any:
        self.client.connect()
        bind = {
            "trx": self.client.bind_transceiver,
            "tx": self.client.bind_transmitter,
            "rx": self.client.bind_receiver,
        }[mode]
        return bind(system_id=ACCOUNT, password=PASSWORD)

    def submit(self, destination: str, text: str, *, registered_delivery: bool = True) -> list[Any]:
        """Submit ``text`` split by smpplib's own ``make_parts``; returns the submit_sm PDUs."""
        parts, data_coding, esm_class = smpplib.gsm.make_parts(text)
        return [
            self.client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_INTL,
                source_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                source_addr=SHORT_CODE,
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                destination_addr=destination,
                short_message=part,
                data_coding=data_coding,
                esm_class=esm_class,
                registered_delivery=registered_delivery,
            )
            for part in parts
        ]

    def pump_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Read and handle PDUs until ``predicate()``; TimeoutError after ``timeout``."""
        deadline = time.monotonic() + timeout
        sock = self.client._socket
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"smpplib: condition not met within {timeout}s")
            readable, _, _ = select.select([sock], [], [], min(left, 0.1))
            if readable:
                self.client.read_once(auto_send_enquire_link=False)

    def quiet_for(self, seconds: float) -> None:
        """Handle whatever arrives during ``seconds`` (to prove nothing else comes)."""
        deadline = time.monotonic() + seconds
        sock = self.client._socket
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([sock], [], [], left)
            if readable:
                self.client.read_once(auto_send_enquire_link=False)

    def unbind(self) -> Any:
        resp = self.client.unbind()
        self.client.disconnect()
        return resp

    def close(self) -> None:
        """Drop the socket whatever happened (test clean-up)."""
        if self.client._socket is not None:
            self.client._socket.close()
            self.client._socket = None
        self.client.state = smpplib.consts.SMPP_CLIENT_STATE_CLOSED

    def receipts(self) -> list[Any]:
        return [p for p in self.delivered if p.esm_class & 0x3C == RECEIPT]

    def mo(self) -> list[Any]:
        return [p for p in self.delivered if p.esm_class & 0x3C == 0]


def _resp_ids(peer: SmpplibPeer, requests: list[Any]) -> list[str]:
    by_seq = {r.sequence: r for r in peer.responses}
    out = []
    for request in requests:
        resp = by_seq[request.sequence]
        assert resp.status == 0
        assert resp.message_id
        out.append(resp.message_id.decode("ascii"))
    return out


def _check_smpplib_receipt(pdu: Any, message_id: str, destination: str) -> None:
    assert pdu.esm_class & 0x3C == RECEIPT
    # Addresses swapped relative to the submission (SMPP 3.4 Appendix B).
    assert pdu.source_addr.decode() == destination
    assert pdu.destination_addr.decode() == SHORT_CODE
    assert pdu.receipted_message_id.decode() == message_id
    assert pdu.message_state == MessageState.DELIVERED
    text = parse_receipt(short_message=pdu.short_message, tlvs=(), esm_class=pdu.esm_class)
    assert text is not None
    assert text.text_id == message_id
    assert text.stat == "DELIVRD"


async def test_smpplib_transceiver_submit_receipts_mo_and_unbind(nursery: trio.Nursery) -> None:
    with trio.fail_after(20):
        sim = await _simulator(nursery)
        peer = SmpplibPeer(sim.port)
        try:
            resp = await trio.to_thread.run_sync(peer.bind, "trx")
            assert resp.status == 0
            assert resp.command == "bind_transceiver_resp"
            assert resp.system_id == b"smppsim"
            (info,) = sim.binds_info()
            assert (info["account"], info["mode"], info["state"]) == (ACCOUNT, "trx", "bound_trx")

            # One GSM message and one long message (smpplib's own UDH split).
            short = await trio.to_thread.run_sync(peer.submit, "15550001001", "Hello from smpplib")
            long_parts = await trio.to_thread.run_sync(peer.submit, "15550001002", LONG_TEXT)
            assert len(short) == 1
            assert len(long_parts) == 2
            requests = short + long_parts
            # smpplib answers each deliver_sm itself; three receipts, one per part (default).
            await trio.to_thread.run_sync(
                peer.pump_until, lambda: len(peer.responses) == 3 and len(peer.receipts()) == 3
            )
            ids = _resp_ids(peer, requests)
            assert len(set(ids)) == 3
            receipts = {p.receipted_message_id.decode(): p for p in peer.receipts()}
            assert set(receipts) == set(ids)
            for message_id, destination in zip(
                ids, ["15550001001", "15550001002", "15550001002"], strict=True
            ):
                _check_smpplib_receipt(receipts[message_id], message_id, destination)

            # The simulator saw exactly what smpplib sent.
            sent = _sent_messages(sim)
            assert [m["message_id"] for m in sent] == ids
            assert [m["destination_addr"] for m in sent] == ["15550001001", "15550001002", "15550001002"]
            assert all(m["source_addr"] == SHORT_CODE for m in sent)
            assert all((m["dest_addr_ton"], m["dest_addr_npi"]) == (1, 1) for m in sent)
            assert all(m["data_coding"] == 0 for m in sent)
            assert all(m["registered_delivery"] == 1 for m in sent)
            assert [m["esm_class"] & UDHI for m in sent] == [0, UDHI, UDHI]
            assert bytes.fromhex(sent[0]["payload_hex"]) == b"Hello from smpplib"
            for m, request in zip(sent[1:], long_parts, strict=True):
                payload = bytes.fromhex(m["payload_hex"])
                assert payload == request.short_message
                assert payload[:3] == b"\x05\x00\x03"  # 8-bit reference concatenation IE
            bodies = [bytes.fromhex(m["payload_hex"])[6:] for m in sent[1:]]
            assert b"".join(bodies) == LONG_TEXT.encode("ascii")
            assert {m["state"] for m in sent} == {"DELIVRD"}
            assert all(m["receipts_sent"] == 1 for m in sent)

            # An MO injected through the management API.
            assert (
                sim.inject_mo(
                    system_id=ACCOUNT, source_addr="15550001003", destination_addr=SHORT_CODE, text="Hi there"
                )
                == 1
            )
            await trio.to_thread.run_sync(peer.pump_until, lambda: len(peer.mo()) == 1)
            (mo,) = peer.mo()
            assert (mo.source_addr, mo.destination_addr, mo.short_message) == (
                b"15550001003",
                SHORT_CODE.encode(),
                b"Hi there",
            )

            # A virtual handset answers "Reply YES ..." with YES (plus the MT's receipt).
            await trio.to_thread.run_sync(peer.submit, "15550001004", "Reply YES to confirm")
            await trio.to_thread.run_sync(
                peer.pump_until, lambda: len(peer.mo()) == 2 and len(peer.receipts()) == 4
            )
            reply = peer.mo()[1]
            assert reply.source_addr == b"15550001004"
            assert reply.destination_addr == SHORT_CODE.encode()
            assert reply.short_message == b"YES"
            await trio.to_thread.run_sync(peer.quiet_for, 0.2)
            assert len(peer.delivered) == 6  # four receipts, two MO: nothing more, nothing twice

            # Every deliver_sm was answered (smpplib's automatic deliver_sm_resp).
            account = next(a for a in sim.accounts_info() if a["system_id"] == ACCOUNT)
            assert account["deliveries_delivered"] == 6
            assert account["deliveries_in_flight"] == 0
            assert account["deliveries_queued"] == 0

            unbind = await trio.to_thread.run_sync(peer.unbind)
            assert unbind.command == "unbind_resp"
            assert unbind.status == 0
        finally:
            peer.close()
        await _assert_no_binds(sim)


async def test_smpplib_transmitter_and_receiver_binds(nursery: trio.Nursery) -> None:
    """TX submits (GSM, long GSM, UCS-2), a separate RX bind on the same account gets
    the receipts, the injected MO and the handset's reply; the TX bind gets nothing."""
    with trio.fail_after(20):
        sim = await _simulator(nursery)
        rx, tx = SmpplibPeer(sim.port), SmpplibPeer(sim.port)
        try:
            assert (await trio.to_thread.run_sync(rx.bind, "rx")).command == "bind_receiver_resp"
            assert (await trio.to_thread.run_sync(tx.bind, "tx")).command == "bind_transmitter_resp"
            assert sorted(b["mode"] for b in sim.binds_info()) == ["rx", "tx"]

            short = await trio.to_thread.run_sync(tx.submit, "15550002001", "Hello over TX")
            long_parts = await trio.to_thread.run_sync(tx.submit, "15550002002", LONG_TEXT)
            # Not GSM 03.38: smpplib falls back to UCS-2 (data_coding 8) by itself.
            ucs2 = await trio.to_thread.run_sync(tx.submit, "15550002005", UCS2_TEXT)
            await trio.to_thread.run_sync(tx.pump_until, lambda: len(tx.responses) == 4)
            ids = _resp_ids(tx, short + long_parts + ucs2)
            await trio.to_thread.run_sync(rx.pump_until, lambda: len(rx.receipts()) == 4)
            receipts = {p.receipted_message_id.decode(): p for p in rx.receipts()}
            assert set(receipts) == set(ids)
            destinations = ["15550002001", "15550002002", "15550002002", "15550002005"]
            for message_id, destination in zip(ids, destinations, strict=True):
                _check_smpplib_receipt(receipts[message_id], message_id, destination)

            sent = _sent_messages(sim)
            assert [m["message_id"] for m in sent] == ids
            assert [m["destination_addr"] for m in sent] == destinations
            assert [m["esm_class"] & UDHI for m in sent] == [0, UDHI, UDHI, 0]
            assert [m["data_coding"] for m in sent] == [0, 0, 0, 8]
            assert bytes.fromhex(sent[3]["payload_hex"]) == UCS2_TEXT.encode("utf-16-be")
            tx_bind = next(b for b in sim.binds_info() if b["mode"] == "tx")
            assert {m["bind_id"] for m in sent} == {tx_bind["id"]}

            # MO and a handset reply go to the receiver, never to the transmitter.
            sim.inject_mo(
                system_id=ACCOUNT, source_addr="15550002003", destination_addr=SHORT_CODE, text="MO"
            )
            await trio.to_thread.run_sync(tx.submit, "15550002004", "Reply YES please")
            await trio.to_thread.run_sync(tx.pump_until, lambda: len(tx.responses) == 5)
            await trio.to_thread.run_sync(
                rx.pump_until, lambda: len(rx.mo()) == 2 and len(rx.receipts()) == 5
            )
            assert sorted(p.short_message for p in rx.mo()) == [b"MO", b"YES"]
            await trio.to_thread.run_sync(tx.quiet_for, 0.2)
            assert tx.delivered == []

            for peer in (tx, rx):
                resp = await trio.to_thread.run_sync(peer.unbind)
                assert (resp.command, resp.status) == ("unbind_resp", 0)
        finally:
            tx.close()
            rx.close()
        await _assert_no_binds(sim)


# -- aiosmpplib ----------------------------------------------------------------------------------


class Collector(AbstractHook):
    """An aiosmpplib hook that records every PDU the ESME sends and receives."""

    def __init__(self) -> None:
        self.messages: list[SmppMessage] = []  # parsed messages the ESME hands to the user
        self.raw_in: list[bytes] = []  # every PDU received, parsed or not
        self.raw_out: list[bytes] = []
        self.errors: list[tuple[SmppMessage, Exception]] = []

    async def sending(self, smpp_message: SmppMessage, pdu: bytes, client_id: str) -> None:
        self.raw_out.append(pdu)

    async def received(self, smpp_message: SmppMessage | None, pdu: bytes, client_id: str) -> None:
        self.raw_in.append(pdu)
        if smpp_message is not None:
            self.messages.append(smpp_message)

    async def send_error(self, smpp_message: SmppMessage, error: Exception, client_id: str) -> None:
        self.errors.append((smpp_message, error))

    def of(self, cls: type) -> list[Any]:
        return [m for m in self.messages if isinstance(m, cls)]

    def receipts(self) -> list[DeliverSm]:
        return [m for m in self.of(DeliverSm) if m.is_receipt()]

    def mo(self) -> list[DeliverSm]:
        return [m for m in self.of(DeliverSm) if not m.is_receipt()]

    def raw(self, command_id: int) -> list[bytes]:
        return [p for p in self.raw_in if int.from_bytes(p[4:8], "big") == command_id]


async def _until(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"aiosmpplib: condition not met within {timeout}s")
        await asyncio.sleep(0.01)


def _phone(number: str) -> PhoneNumber:
    return PhoneNumber(number, TON.INTERNATIONAL, NPI.ISDN)


def _aiosmpplib_session(port: int, scenario: Callable[[ESME, Collector], Any]) -> Collector:
    """Run ``scenario(esme, hook)`` on a bound aiosmpplib ESME in a private asyncio loop."""

    async def main() -> Collector:
        hook = Collector()
        esme = ESME(
            smsc_host=HOST,
            smsc_port=port,
            system_id=ACCOUNT,
            password=PASSWORD,
            bind_mode=BindMode.TRANSCEIVER,
            hook=hook,
            log_level=logging.WARNING,
            socket_timeout=5.0,
            enquire_link_interval=30.0,
        )
        starter = asyncio.create_task(esme.start())
        try:
            await _until(lambda: esme.session_state == SmppSessionState.BOUND_TRX or starter.done(), 5.0)
            assert esme.session_state == SmppSessionState.BOUND_TRX
            await asyncio.wait_for(scenario(esme, hook), 10.0)
        finally:
            await asyncio.wait_for(esme.stop(), 5.0)
            await asyncio.wait_for(starter, 5.0)
        return hook

    return asyncio.run(main())


# aiosmpplib closes its connection by dropping its StreamWriter (see below): asyncio says so.
_UNCLOSED_WRITER = pytest.mark.filterwarnings("ignore:unclosed <StreamWriter:ResourceWarning")


@_UNCLOSED_WRITER
async def test_aiosmpplib_transceiver_submit_receipts_mo_and_unbind(nursery: trio.Nursery) -> None:
    """aiosmpplib's ESME + broker API: bind, submit (GSM, UDH-concatenated and
    message_payload), receive receipts and MO (a handset reply and an injected one),
    answer deliver_sm, unbind on ``stop()``.

    Not asserted, because aiosmpplib 0.7.4 cannot do it against any SMSC: reading the
    unbind_resp. ``ESME._disconnect`` writes the unbind, ``write_eof()``s and then drops
    its only reference to the ``StreamWriter`` (``self._writer = None``); on CPython 3.11
    ``StreamWriter.__del__`` closes the transport at once, so the receiver task sees EOF
    before the unbind_resp can arrive (the peer's answer meets a closed socket). The
    simulator's half is asserted instead: it received the unbind and ended the session
    through it.
    """
    with trio.fail_after(30):
        sim = await _simulator(nursery)
        conns: list[Any] = []

        async def scenario(esme: ESME, hook: Collector) -> None:
            await esme.broker.enqueue(
                SubmitSm(
                    short_message="Hello from aiosmpplib",
                    source=_phone(SHORT_CODE),
                    destination=_phone("15550003001"),
                    log_id="short",
                )
            )
            # UDHI set and auto_message_payload off: aiosmpplib splits with its own UDH.
            await esme.broker.enqueue(
                SubmitSm(
                    short_message=LONG_TEXT,
                    source=_phone(SHORT_CODE),
                    destination=_phone("15550003002"),
                    esm_class=UDHI,
                    auto_message_payload=False,
                    log_id="udh",
                )
            )
            # Default auto_message_payload: more than 254 octets travel in message_payload.
            await esme.broker.enqueue(
                SubmitSm(
                    short_message=LONG_TEXT * 2,
                    source=_phone(SHORT_CODE),
                    destination=_phone("15550003003"),
                    log_id="payload",
                )
            )
            await esme.broker.enqueue(
                SubmitSm(
                    short_message="Reply YES to confirm",
                    source=_phone(SHORT_CODE),
                    destination=_phone("15550003004"),
                    log_id="handset",
                )
            )
            # 5 submit_sm on the wire (1 + 2 + 1 + 1), 5 receipts, 1 handset MO.
            await _until(
                lambda: (
                    len(hook.raw(CommandId.SUBMIT_SM_RESP)) == 5 and len(hook.raw(CommandId.DELIVER_SM)) == 6
                ),
                5.0,
            )
            trio.from_thread.run_sync(
                lambda: sim.inject_mo(
                    system_id=ACCOUNT, source_addr="15550003005", destination_addr=SHORT_CODE, text="Hi aio"
                )
            )
            await _until(lambda: len(hook.raw(CommandId.DELIVER_SM)) == 7, 5.0)
            await asyncio.sleep(0.2)  # let the last deliver_sm_resp leave
            conns.extend(trio.from_thread.run_sync(lambda: [b.conn for b in sim.connections]))

        hook = await trio.to_thread.run_sync(_aiosmpplib_session, sim.port, scenario)
        assert hook.errors == []

        # Responses: every submit_sm on the wire was accepted.
        resp_pdus = hook.raw(CommandId.SUBMIT_SM_RESP)
        assert [int.from_bytes(p[8:12], "big") for p in resp_pdus] == [0] * 5
        wire_ids = [p[16:-1].decode("ascii") for p in resp_pdus]
        sent = _sent_messages(sim)
        assert [m["message_id"] for m in sent] == wire_ids
        # aiosmpplib hands the user one SubmitSmResp per message (one of the parts' for UDH).
        user_resps = {r.log_id: r for r in hook.of(SubmitSmResp)}
        assert set(user_resps) == {"short", "udh", "payload", "handset"}
        assert all(r.command_status == SmppCommandStatus.ESME_ROK for r in user_resps.values())
        assert user_resps["short"].message_id == sent[0]["message_id"]
        assert user_resps["udh"].message_id in {sent[1]["message_id"], sent[2]["message_id"]}
        assert user_resps["payload"].message_id == sent[3]["message_id"]

        # What the simulator got.
        assert [m["destination_addr"] for m in sent] == [
            "15550003001",
            "15550003002",
            "15550003002",
            "15550003003",
            "15550003004",
        ]
        assert [m["data_coding"] for m in sent] == [0] * 5
        assert [m["esm_class"] & UDHI for m in sent] == [0, UDHI, UDHI, 0, 0]
        assert all(m["registered_delivery"] == 1 for m in sent)  # aiosmpplib's default
        assert bytes.fromhex(sent[0]["payload_hex"]) == b"Hello from aiosmpplib"
        udh_parts = [bytes.fromhex(m["payload_hex"]) for m in sent[1:3]]
        assert [p[:5] for p in udh_parts] == [udh_parts[0][:4] + b"\x02"] * 2
        assert [p[5] for p in udh_parts] == [1, 2]
        assert b"".join(p[6:] for p in udh_parts) == LONG_TEXT.encode("ascii")
        assert int(TlvTag.MESSAGE_PAYLOAD) in sent[3]["tlv_tags"]
        assert bytes.fromhex(sent[3]["payload_hex"]) == (LONG_TEXT * 2).encode("ascii")
        # The concatenation is in the UDH only: no SAR TLVs next to it.
        assert all(not {0x020C, 0x020E, 0x020F} & set(m["tlv_tags"]) for m in sent)

        # Receipts as aiosmpplib parsed them (one per message id, addresses swapped).
        receipt_ids = set()
        parsed = hook.receipts()
        for receipt in parsed:
            fields = receipt.parse_receipt()
            assert fields["stat"] == "DELIVRD"
            assert fields["err"] == 0
            assert receipt.destination.number == SHORT_CODE
            tlv = next(p for p in receipt.optional_params or [] if p.tag == TlvTag.RECEIPTED_MESSAGE_ID)
            assert tlv.value == fields["id"]
            receipt_ids.add(fields["id"])
        # aiosmpplib folds the two part receipts of the UDH message into one for the user.
        assert receipt_ids >= {sent[0]["message_id"], sent[3]["message_id"], sent[4]["message_id"]}
        by_log = {r.log_id: r for r in parsed if r.log_id}
        assert {"short", "payload", "handset"} <= set(by_log)

        # MO: the handset's YES and the injected one.
        mo = {(m.source.number, m.short_message) for m in hook.mo()}
        assert mo == {("15550003004", "YES"), ("15550003005", "Hi aio")}

        # Every deliver_sm answered; unbind on stop() and the bind is gone.
        account = next(a for a in sim.accounts_info() if a["system_id"] == ACCOUNT)
        assert account["deliveries_delivered"] == 7
        assert account["deliveries_in_flight"] == 0
        assert int.from_bytes(hook.raw_out[-1][4:8], "big") == CommandId.UNBIND
        # The simulator answered the unbind and closed: the session ended through unbind
        # (not a dropped connection), having received bind + 5 submits + 7 deliver_sm_resp
        # + unbind. aiosmpplib itself never reads that unbind_resp: see the docstring.
        (conn,) = conns
        assert conn.close_reason == "unbound cleanly"
        assert conn.statistics().pdus_received == 14
        await _assert_no_binds(sim)


def _aiosmpplib_sar_crash(port: int, text: str) -> BaseException | None:
    """Submit long text with ``auto_message_payload=False`` and no UDHI; return what
    ``ESME.start()`` raised (it never returns by itself)."""

    async def main() -> BaseException | None:
        esme = ESME(
            smsc_host=HOST,
            smsc_port=port,
            system_id=ACCOUNT,
            password=PASSWORD,
            log_level=logging.CRITICAL,
            socket_timeout=5.0,
        )
        starter = asyncio.create_task(esme.start())
        try:
            await _until(lambda: esme.session_state == SmppSessionState.BOUND_TRX or starter.done(), 5.0)
            await esme.broker.enqueue(
                SubmitSm(
                    short_message=text,
                    source=_phone(SHORT_CODE),
                    destination=_phone("15550004001"),
                    auto_message_payload=False,
                )
            )
            await asyncio.wait_for(starter, 5.0)
        except Exception as exc:
            return exc
        finally:
            # start() died without closing its connection (and stop() would wait forever
            # for it): close the socket; asyncio.run cancels the orphaned tasks.
            if esme._writer is not None:
                esme._writer.close()
        return None

    return asyncio.run(main())


@_UNCLOSED_WRITER
async def test_aiosmpplib_sar_segmentation_cannot_work(nursery: trio.Nursery) -> None:
    """aiosmpplib's SAR segmentation (``auto_message_payload=False`` without UDHI) cannot
    work against any standard SMSC, for two independent reasons in aiosmpplib 0.7.4:

    1. ``ESME._dequeue_messages`` uses the local ``encoding`` in the non-UDHI branch
       (``split_sms(smpp_message.short_message, encoding)``) but only assigns it in the UDHI
       branch, so the sender task dies with ``UnboundLocalError`` (the ESME's ``start()``
       then raises it; nothing is sent).
    2. Even with that fixed, ``aiosmpplib.utils.split_sms`` cuts GSM text into parts of
       ``MAX_SM_SIZE`` = 254 septets (and single-part text gets a stray length octet in
       front). One SMS holds at most 153 septets per SAR segment (160 - the 7 septets the
       SMSC's own UDH takes; 3GPP TS 23.040), so an SMSC must reject such a segment with
       ESME_RINVMSGLEN (SMPP-REFERENCE checklist 37).

    Asserted here: the crash (1), the part size ``split_sms`` produces, and the
    simulator's answer to exactly the PDU aiosmpplib would send for the first segment
    (2: built with aiosmpplib's own ``SubmitSm`` and SAR ``OptionalParam``s, sent through
    its ESME with the split bypassed). What does work for long text is asserted in the
    test above: UDH concatenation (UDHI set) and message_payload.
    """
    text = LONG_TEXT * 2  # 400 GSM characters
    parts = aiosmpplib.utils.split_sms(text, "gsm0338")
    assert [len(p) for p in parts] == [254, 146]
    with trio.fail_after(20):
        sim = await _simulator(nursery)

        crash = await trio.to_thread.run_sync(_aiosmpplib_sar_crash, sim.port, text)
        assert isinstance(crash, UnboundLocalError)
        assert "encoding" in str(crash)
        assert sim.messages(account=ACCOUNT) == []
        await _assert_no_binds(sim)

        async def scenario(esme: ESME, hook: Collector) -> None:
            segment = SubmitSm(
                short_message=text[:254],
                source=_phone(SHORT_CODE),
                destination=_phone("15550004001"),
                optional_params=[
                    OptionalParam(aiosmpplib.state.SAR_MSG_REF_NUM, 7),
                    OptionalParam(aiosmpplib.state.SAR_SEGMENT_SEQNUM, 1),
                    OptionalParam(aiosmpplib.state.SAR_TOTAL_SEGMENTS, len(parts)),
                ],
                log_id="sar",
            )
            segment.set_encoded_message(parts[0])  # what the SAR branch would put on the wire
            await esme.broker.enqueue(segment)
            await _until(lambda: len(hook.raw(CommandId.SUBMIT_SM_RESP)) == 1, 5.0)

        hook = await trio.to_thread.run_sync(_aiosmpplib_session, sim.port, scenario)
        (resp,) = hook.of(SubmitSmResp)
        assert resp.command_status == SmppCommandStatus.ESME_RINVMSGLEN
        assert sim.messages(account=ACCOUNT) == []
        await _assert_no_binds(sim)
