"""Inbound concatenation: UDH / SAR parsing and the Reassembler bookkeeping."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppgw.core.constants import CommandStatus, TlvTag
from smppgw.core.errors import RemoteProtocolError
from smppgw.core.reassembly import (
    ConcatInfo,
    Incomplete,
    MalformedUdh,
    Reassembled,
    Reassembler,
    concat_info,
    split_udh,
)
from smppgw.core.text import ConcatMethod, Encoding, decode_text, split_message
from smppgw.core.tlv import Tlv

SRC, DST = "447700900001", "12345"


def sar(ref: int, total: int, seq: int) -> tuple[Tlv, ...]:
    return (
        Tlv(TlvTag.SAR_MSG_REF_NUM, ref.to_bytes(2, "big")),
        Tlv(TlvTag.SAR_TOTAL_SEGMENTS, bytes([total])),
        Tlv(TlvTag.SAR_SEGMENT_SEQNUM, bytes([seq])),
    )


def info(ref: int = 1, total: int = 3, seq: int = 1) -> ConcatInfo:
    return ConcatInfo(reference=ref, total=total, seqnum=seq, method=ConcatMethod.UDH8)


# -- split_udh / concat_info -------------------------------------------------------------
def test_split_udh() -> None:
    assert split_udh(bytes.fromhex("050003420201") + b"hi") == (bytes.fromhex("050003420201"), b"hi")
    assert split_udh(b"\x00abc") == (b"\x00", b"abc")
    assert split_udh(bytes.fromhex("050003420201")) == (bytes.fromhex("050003420201"), b"")


@pytest.mark.parametrize("data", ["", "05", "0500034202", "ff00"])
def test_split_udh_rejects_udhl_past_the_data(data: str) -> None:
    with pytest.raises(MalformedUdh) as err:
        split_udh(bytes.fromhex(data))
    assert isinstance(err.value, ValueError)
    assert isinstance(err.value, RemoteProtocolError)
    assert err.value.command_status is CommandStatus.ESME_RINVMSGLEN


def test_concat_info_udh8() -> None:
    sm = bytes.fromhex("050003420302") + b"part two"
    assert concat_info(sm, 0x40, ()) == (
        ConcatInfo(reference=0x42, total=3, seqnum=2, method=ConcatMethod.UDH8),
        b"part two",
    )
    assert concat_info(sm, 0x43, ())[0] is not None  # UDHI + store-and-forward


def test_concat_info_udh16() -> None:
    sm = bytes.fromhex("06080412340302") + b"x"
    assert concat_info(sm, 0x40, ()) == (
        ConcatInfo(reference=0x1234, total=3, seqnum=2, method=ConcatMethod.UDH16),
        b"x",
    )


def test_concat_info_sar() -> None:
    assert concat_info(b"text", 0x00, sar(0xBEEF, 4, 4)) == (
        ConcatInfo(reference=0xBEEF, total=4, seqnum=4, method=ConcatMethod.SAR),
        b"text",
    )


def test_concat_info_finds_concat_among_other_ies() -> None:
    # 16-bit port addressing (IEI 0x05) first, then the 8-bit concatenation IE.
    udh = bytes.fromhex("0b" + "05040b8423f0" + "000307" + "0201")
    assert concat_info(udh + b"wap", 0x40, ()) == (
        ConcatInfo(reference=7, total=2, seqnum=1, method=ConcatMethod.UDH8),
        b"wap",
    )


def test_concat_info_plain_messages() -> None:
    assert concat_info(b"hello", 0x00, ()) == (None, b"hello")
    ports_only = bytes.fromhex("0605040b8423f0")
    assert concat_info(ports_only + b"body", 0x40, ()) == (None, b"body")
    # UDH present but esm_class without UDHI: the octets are text, not a header.
    assert concat_info(bytes.fromhex("050003420201") + b"x", 0x00, ()) == (
        None,
        bytes.fromhex("050003420201") + b"x",
    )


@pytest.mark.parametrize(
    "udh",
    [
        "050003420000",  # total 0
        "050003420200",  # seqnum 0
        "050003420203",  # seqnum > total
        "06080412340000",
        "050004420201",  # IEI 0x00 with the wrong length
        "0400034202",  # truncated IE inside a consistent UDHL
    ],
)
def test_concat_info_invalid_values_mean_a_single_message(udh: str) -> None:
    header = bytes.fromhex(udh)
    assert concat_info(header + b"body", 0x40, ()) == (None, b"body")


@pytest.mark.parametrize(("ref", "total", "seq"), [(1, 0, 0), (1, 2, 0), (1, 2, 3)])
def test_concat_info_invalid_sar_means_a_single_message(ref: int, total: int, seq: int) -> None:
    assert concat_info(b"body", 0x00, sar(ref, total, seq)) == (None, b"body")


def test_concat_info_needs_all_three_sar_tlvs() -> None:
    assert concat_info(b"body", 0x00, sar(1, 2, 1)[:2]) == (None, b"body")


def test_concat_info_last_concat_ie_wins() -> None:
    udh = bytes.fromhex("0a" + "000301" + "0201" + "00030902" + "02")
    found, payload = concat_info(udh + b"z", 0x40, ())
    assert found == ConcatInfo(reference=9, total=2, seqnum=2, method=ConcatMethod.UDH8)
    assert payload == b"z"


def test_concat_info_reads_message_payload_when_short_message_is_empty() -> None:
    data = bytes.fromhex("050003050201") + b"in payload"
    tlvs = (Tlv(TlvTag.MESSAGE_PAYLOAD, data),)
    assert concat_info(b"", 0x40, tlvs) == (
        ConcatInfo(reference=5, total=2, seqnum=1, method=ConcatMethod.UDH8),
        b"in payload",
    )
    assert concat_info(b"", 0x00, (Tlv(TlvTag.MESSAGE_PAYLOAD, b"plain"),)) == (None, b"plain")


def test_concat_info_udhi_falls_back_to_sar() -> None:
    assert concat_info(b"\x00body", 0x40, sar(3, 2, 2)) == (
        ConcatInfo(reference=3, total=2, seqnum=2, method=ConcatMethod.SAR),
        b"body",
    )


def test_concat_info_udhi_with_malformed_udh_raises() -> None:
    with pytest.raises(MalformedUdh):
        concat_info(b"\x09abc", 0x40, ())
    with pytest.raises(MalformedUdh):
        concat_info(b"", 0x40, ())


@given(st.binary(max_size=40), st.integers(0, 255))
def test_concat_info_only_ever_raises_malformed_udh(data: bytes, esm_class: int) -> None:
    try:
        found, payload = concat_info(data, esm_class, ())
    except MalformedUdh:
        assert esm_class & 0x40
        return
    assert data.endswith(payload)
    if found is not None:
        assert 1 <= found.seqnum <= found.total


def test_concat_info_value_checks() -> None:
    with pytest.raises(ValueError, match="greater than total"):
        ConcatInfo(reference=1, total=2, seqnum=3, method=ConcatMethod.UDH8)
    with pytest.raises(ValueError):
        ConcatInfo(reference=1, total=0, seqnum=0, method=ConcatMethod.UDH8)
    with pytest.raises(ValueError):
        ConcatInfo(reference=1, total=1, seqnum=1, method=ConcatMethod.PAYLOAD)


# -- Reassembler -------------------------------------------------------------------------
@given(
    st.integers(2, 20).flatmap(lambda n: st.permutations(list(range(1, n + 1)))),
    st.integers(0, 255),
)
def test_parts_in_any_order(order: list[int], ref: int) -> None:
    total = len(order)
    r = Reassembler()
    results = []
    for i, seq in enumerate(order):
        results.append(
            r.add(
                source_addr=SRC,
                destination_addr=DST,
                info=info(ref, total, seq),
                data_coding=0,
                payload=f"<{seq}>".encode(),
                now=float(i),
            )
        )
    assert results[:-1] == [None] * (total - 1)
    assert results[-1] == Reassembled(
        key=(SRC, DST, ref),
        data_coding=0,
        payload=b"".join(f"<{seq}>".encode() for seq in range(1, total + 1)),
        parts=total,
    )
    assert len(r) == 0
    assert r.next_deadline() is None


def test_duplicates_are_ignored_and_the_first_copy_kept() -> None:
    r = Reassembler()
    assert (
        r.add(source_addr=SRC, destination_addr=DST, info=info(seq=1), data_coding=0, payload=b"A", now=0)
        is None
    )
    assert (
        r.add(source_addr=SRC, destination_addr=DST, info=info(seq=1), data_coding=0, payload=b"X", now=1)
        is None
    )
    assert (
        r.add(source_addr=SRC, destination_addr=DST, info=info(seq=2), data_coding=0, payload=b"B", now=2)
        is None
    )
    assert len(r) == 1
    done = r.add(source_addr=SRC, destination_addr=DST, info=info(seq=3), data_coding=0, payload=b"C", now=3)
    assert done is not None
    assert done.payload == b"ABC"
    # A late duplicate of a finished message starts a new group rather than corrupting anything.
    assert (
        r.add(source_addr=SRC, destination_addr=DST, info=info(seq=2), data_coding=0, payload=b"B", now=4)
        is None
    )
    assert len(r) == 1


def test_groups_are_kept_apart_by_addresses_reference_and_total() -> None:
    r = Reassembler()
    r.add(source_addr=SRC, destination_addr=DST, info=info(1, 2, 1), data_coding=0, payload=b"a", now=0)
    r.add(source_addr="other", destination_addr=DST, info=info(1, 2, 2), data_coding=0, payload=b"x", now=0)
    r.add(source_addr=SRC, destination_addr="other", info=info(1, 2, 2), data_coding=0, payload=b"x", now=0)
    r.add(source_addr=SRC, destination_addr=DST, info=info(2, 2, 2), data_coding=0, payload=b"x", now=0)
    r.add(source_addr=SRC, destination_addr=DST, info=info(1, 3, 2), data_coding=0, payload=b"x", now=0)
    assert len(r) == 5
    done = r.add(
        source_addr=SRC, destination_addr=DST, info=info(1, 2, 2), data_coding=0, payload=b"b", now=0
    )
    assert done is not None
    assert (done.key, done.payload) == ((SRC, DST, 1), b"ab")
    assert len(r) == 4


def test_single_part_concat_is_complete_at_once() -> None:
    r = Reassembler()
    done = r.add(
        source_addr=SRC, destination_addr=DST, info=info(9, 1, 1), data_coding=8, payload=b"\x00a", now=0
    )
    assert done == Reassembled(key=(SRC, DST, 9), data_coding=8, payload=b"\x00a", parts=1)
    assert len(r) == 0


def test_timeout_expiry_and_next_deadline() -> None:
    r = Reassembler(timeout=10.0)
    assert r.next_deadline() is None
    assert r.expire(100.0) == []
    r.add(source_addr=SRC, destination_addr=DST, info=info(1, 3, 2), data_coding=0, payload=b"two", now=0.0)
    r.add(source_addr=SRC, destination_addr=DST, info=info(2, 2, 1), data_coding=8, payload=b"uno", now=4.0)
    r.add(source_addr=SRC, destination_addr=DST, info=info(1, 3, 1), data_coding=0, payload=b"one", now=5.0)
    assert r.next_deadline() == 10.0  # age counts from the first part of the group
    assert r.expire(9.99) == []
    assert r.expire(10.0) == [
        Incomplete(
            key=(SRC, DST, 1),
            total=3,
            parts_received=(1, 2),
            payloads={1: b"one", 2: b"two"},
            data_coding=0,
            first_seen=0.0,
            evicted=False,
        )
    ]
    assert len(r) == 1
    assert r.next_deadline() == 14.0
    [late] = r.expire(20.0)
    assert (late.key, late.parts_received, late.data_coding) == ((SRC, DST, 2), (1,), 8)
    assert len(r) == 0
    assert r.next_deadline() is None


def test_max_pending_evicts_the_oldest_group() -> None:
    r = Reassembler(timeout=60.0, max_pending=2)
    for ref, now in ((1, 0.0), (2, 1.0)):
        r.add(
            source_addr=SRC, destination_addr=DST, info=info(ref, 2, 1), data_coding=0, payload=b"p", now=now
        )
    assert r.next_deadline() == 60.0
    r.add(source_addr=SRC, destination_addr=DST, info=info(3, 2, 1), data_coding=0, payload=b"p", now=2.0)
    assert len(r) == 2
    assert r.next_deadline() == 2.0  # the evicted group is due at once
    [evicted] = r.expire(2.0)
    assert (evicted.key, evicted.evicted, evicted.first_seen) == ((SRC, DST, 1), True, 0.0)
    assert r.next_deadline() == 61.0
    # A part for an existing group never evicts.
    done = r.add(
        source_addr=SRC, destination_addr=DST, info=info(2, 2, 2), data_coding=0, payload=b"q", now=3.0
    )
    assert done is not None
    assert done.payload == b"pq"
    assert r.expire(3.0) == []


def test_evicted_groups_waiting_for_expire_are_bounded() -> None:
    r = Reassembler(max_pending=3)
    for ref in range(100):
        r.add(
            source_addr=SRC, destination_addr=DST, info=info(ref, 2, 1), data_coding=0, payload=b"p", now=0.0
        )
    assert len(r) == 3
    evicted = r.expire(0.0)
    assert [e.key[2] for e in evicted] == [94, 95, 96]


# -- end to end: split_message -> concat_info -> Reassembler -> decode_text ---------------
@given(
    st.text(alphabet=st.sampled_from("abc €{}ж😀"), min_size=1, max_size=600),
    st.sampled_from([ConcatMethod.UDH8, ConcatMethod.UDH16, ConcatMethod.SAR]),
    st.integers(0, 255),
    st.randoms(use_true_random=False),
)
def test_round_trip_through_the_reassembler(
    text: str, method: ConcatMethod, ref: int, rng: random.Random
) -> None:
    parts = split_message(text, method=method, reference=ref)
    order = list(parts)
    rng.shuffle(order)
    r = Reassembler()
    results = []
    for part in order:
        found, payload = concat_info(part.short_message, part.esm_class, part.tlvs)
        if found is None:
            assert len(parts) == 1
            assert decode_text(payload, part.data_coding) == text
            return
        assert found.method is method
        results.append(
            r.add(
                source_addr=SRC,
                destination_addr=DST,
                info=found,
                data_coding=part.data_coding,
                payload=payload,
                now=0.0,
            )
        )
    done = results[-1]
    assert done is not None
    assert done.parts == len(parts)
    assert decode_text(done.payload, done.data_coding, default_alphabet=Encoding.GSM7) == text
