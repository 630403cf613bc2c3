"""PDU tracing (``smppgw.net.trace``): what a trace line holds, framing of split reads,
sampling, and a traced ``SmppConnection`` over memory streams."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from smppgw.core.codec import encode_pdu
from smppgw.core.constants import CommandStatus, TlvTag
from smppgw.core.pdu import (
    BindTransceiver,
    BindTransceiverResp,
    DeliverSm,
    EnquireLink,
    GenericNack,
    SubmitSm,
    SubmitSmResp,
)
from smppgw.core.session import Session
from smppgw.core.states import Role
from smppgw.core.tlv import Tlv
from smppgw.net.connection import SmppConnection
from smppgw.net.trace import PduTracer
from tests.net.smpp_peers import QUIET, RawPeer

SECRET = "s3cr3tpw"


def traced(**options: Any) -> tuple[PduTracer, io.StringIO]:
    out = io.StringIO()
    return PduTracer(out, **options), out


def records(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def bind_pdu() -> bytes:
    return encode_pdu(BindTransceiver(system_id="acme", password=SECRET), 1)


def test_a_bind_is_traced_with_its_password_masked_and_the_system_id_after_its_resp() -> None:
    tracer, out = traced()
    conn = tracer.connection()
    conn.sent(bind_pdu())
    conn.received(encode_pdu(BindTransceiverResp(system_id="smsc"), 1))
    conn.sent(encode_pdu(EnquireLink(), 2))
    bind, resp, enquire = records(out)
    assert SECRET not in out.getvalue()
    assert bind["fields"]["password"] == "***"
    assert (bind["dir"], bind["command"], bind["sequence_number"]) == ("tx", "bind_transceiver", 1)
    assert bind["conn"] == {"id": 1, "local": None, "peer": None}  # (a memory stream: no addresses)
    assert (resp["dir"], resp["command"], resp["command_status"]) == (
        "rx",
        "bind_transceiver_resp",
        "ESME_ROK",
    )
    assert resp["conn"]["system_id"] == "acme" and enquire["conn"]["system_id"] == "acme"
    assert bind["time"].endswith("Z") and "T" in bind["time"]
    assert "hex" not in bind


def test_a_refused_bind_leaves_no_system_id() -> None:
    tracer, out = traced()
    conn = tracer.connection()
    conn.sent(bind_pdu())
    conn.received(encode_pdu(BindTransceiverResp(), 1, CommandStatus.ESME_RINVPASWD))
    _, resp = records(out)
    assert resp["command_status"] == "ESME_RINVPASWD"
    assert "system_id" not in resp["conn"] and conn.system_id is None


def test_hex_only_when_asked() -> None:
    tracer, out = traced(hex=True)
    tracer.connection().sent(bind_pdu())
    [bind] = records(out)
    assert bind["hex"] == bind_pdu().hex()


def test_pdus_split_across_reads_are_traced_once_each_in_order() -> None:
    tracer, out = traced()
    conn = tracer.connection()
    wire = b"".join(encode_pdu(SubmitSmResp(message_id=f"id{n}"), n) for n in range(1, 4)) + encode_pdu(
        GenericNack(), 9, CommandStatus.ESME_RSYSERR
    )
    for cut in range(0, len(wire), 7):  # reads that end mid-header and mid-body
        conn.received(wire[cut : cut + 7])
    got = records(out)
    assert [(r["command"], r["sequence_number"]) for r in got] == [
        ("submit_sm_resp", 1), ("submit_sm_resp", 2), ("submit_sm_resp", 3), ("generic_nack", 9),
    ]  # fmt: skip
    assert [r["fields"].get("message_id") for r in got[:3]] == ["id1", "id2", "id3"]
    assert got[3]["command_status"] == "ESME_RSYSERR"


def test_short_message_as_text_with_its_length() -> None:
    tracer, out = traced()
    conn = tracer.connection()
    conn.sent(encode_pdu(SubmitSm(destination_addr="447700900001", short_message=b"Hello"), 2))
    ucs2 = "Привет".encode("utf-16-be")
    conn.sent(encode_pdu(SubmitSm(destination_addr="4477", short_message=ucs2, data_coding=8), 3))
    binary = bytes([0x00, 0xFF, 0x10])
    conn.sent(encode_pdu(SubmitSm(destination_addr="4477", short_message=binary, data_coding=4), 4))
    udh = bytes([5, 0, 3, 7, 2, 1])
    conn.sent(
        encode_pdu(SubmitSm(destination_addr="4477", short_message=udh + b"Part one", esm_class=0x40), 5)
    )
    gsm, wide, octets, part = (r["fields"] for r in records(out))
    assert (gsm["short_message"], gsm["sm_length"]) == ("Hello", 5)
    assert (wide["short_message"], wide["sm_length"]) == ("Привет", 12)
    assert octets["short_message_hex"] == "00ff10" and "short_message" not in octets
    assert (part["udh"], part["short_message"], part["sm_length"]) == ("050003070201", "Part one", 14)


def test_tlvs_by_name_and_message_payload_as_text() -> None:
    tracer, out = traced()
    pdu = DeliverSm(
        destination_addr="12345",
        esm_class=0x04,
        tlvs=(
            Tlv.from_str(TlvTag.RECEIPTED_MESSAGE_ID, "abc"),
            Tlv.from_int(TlvTag.MESSAGE_STATE, 2),
            Tlv(TlvTag.MESSAGE_PAYLOAD, b"long text"),
        ),
    )
    tracer.connection().received(encode_pdu(pdu, 7))
    [record] = records(out)
    assert record["fields"]["tlvs"] == [
        {"tag": "receipted_message_id", "value": "abc"},
        {"tag": "message_state", "value": 2},
        {"tag": "message_payload", "value_length": 9, "value": "long text"},
    ]


def test_a_body_that_does_not_decode_is_an_error_line_and_lost_framing_ends_the_direction() -> None:
    tracer, out = traced()
    conn = tracer.connection()
    body = b"no-nul-anywhere"
    conn.received((16 + len(body)).to_bytes(4, "big") + (0x8000_0004).to_bytes(4, "big") + bytes(4)
                  + (5).to_bytes(4, "big") + body)  # fmt: skip
    conn.received((8).to_bytes(4, "big") + bytes(12))  # command_length 8: framing lost
    conn.received(encode_pdu(SubmitSmResp(message_id="x"), 6))  # never framed again
    conn.sent(encode_pdu(EnquireLink(), 3))  # the other direction still is
    bad, lost, enquire = records(out)
    assert bad["command"] == "submit_sm_resp" and "error" in bad and "fields" not in bad
    assert lost["error"] == "framing lost: command_length 8" and lost["dir"] == "rx"
    assert enquire["command"] == "enquire_link"


def test_sampling_keeps_one_exchange_in_n_and_every_session_pdu() -> None:
    tracer, out = traced(sample=10)
    conn = tracer.connection()
    conn.sent(bind_pdu())
    conn.received(encode_pdu(BindTransceiverResp(system_id="smsc"), 1))
    conn.sent(b"".join(encode_pdu(SubmitSm(destination_addr="4477"), n) for n in range(2, 42)))
    conn.received(b"".join(encode_pdu(SubmitSmResp(message_id=str(n)), n) for n in range(2, 42)))
    conn.received(encode_pdu(GenericNack(), 13, CommandStatus.ESME_RSYSERR))
    got = [(r["dir"], r["command"], r["sequence_number"]) for r in records(out)]
    assert got == [
        ("tx", "bind_transceiver", 1), ("rx", "bind_transceiver_resp", 1),
        ("tx", "submit_sm", 10), ("tx", "submit_sm", 20), ("tx", "submit_sm", 30), ("tx", "submit_sm", 40),
        ("rx", "submit_sm_resp", 10), ("rx", "submit_sm_resp", 20), ("rx", "submit_sm_resp", 30),
        ("rx", "submit_sm_resp", 40), ("rx", "generic_nack", 13),
    ]  # fmt: skip


def test_sample_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="sample"):
        traced(sample=0)


def test_lines_reach_the_file_at_the_flush_interval_and_at_close(tmp_path: Path) -> None:
    now = [1000.0]
    path = tmp_path / "t.jsonl"
    tracer = PduTracer(open(path, "w", encoding="utf-8", buffering=65536), clock=lambda: now[0])
    conn = tracer.connection()
    conn.sent(encode_pdu(EnquireLink(), 1))
    assert path.read_text() == ""  # buffered: no write per line
    now[0] += 1.5
    conn.sent(encode_pdu(EnquireLink(), 2))
    assert len(path.read_text().splitlines()) == 2
    conn.sent(encode_pdu(EnquireLink(), 3))
    tracer.close()
    assert len(path.read_text().splitlines()) == 3
    conn.sent(encode_pdu(EnquireLink(), 4))  # after close: ignored, never raises


def test_a_file_that_cannot_be_opened_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        PduTracer.open(str(tmp_path / "no-such-dir" / "t.jsonl"))


async def test_a_traced_connection_traces_both_directions_and_flushes_at_close(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    path = tmp_path / "conn.jsonl"
    tracer = PduTracer.open(str(path))
    ours, theirs = trio.testing.memory_stream_pair()
    conn = SmppConnection(ours, Session(Role.ESME, QUIET), tracer=tracer)
    peer = RawPeer(theirs)
    async with trio.open_nursery() as nursery:
        await nursery.start(conn.run)
        conn.start_request(EnquireLink(), lambda outcome: None)
        header, _ = await peer.receive()
        await peer.send(GenericNack(), header.sequence_number, CommandStatus.ESME_RSYSERR)
        await trio.sleep(0.1)
        await conn.aclose()
        nursery.cancel_scope.cancel()
    got = [json.loads(line) for line in path.read_text().splitlines()]  # flushed at close
    assert [(r["dir"], r["command"]) for r in got] == [("tx", "enquire_link"), ("rx", "generic_nack")]
    tracer.close()


class _FullDisk(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(28, "No space left on device")


def test_a_trace_that_cannot_be_written_stops_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    tracer = PduTracer(_FullDisk())
    conn = tracer.connection()
    conn.sent(encode_pdu(EnquireLink(), 1))  # never raises into the connection
    conn.sent(encode_pdu(EnquireLink(), 2))
    errors = [r.getMessage() for r in caplog.records if r.name == "smppgw.net.trace"]
    assert errors == ["the PDU trace cannot be written ([Errno 28] No space left on device); tracing stops"]
    assert tracer.lines == 0
