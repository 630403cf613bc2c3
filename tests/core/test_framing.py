"""FrameBuffer: whole PDUs out of an arbitrarily chunked stream; lost framing is sticky."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smppgw.core.codec import decode_pdu, encode_pdu
from smppgw.core.errors import InvalidCommandLength
from smppgw.core.framing import DEFAULT_MAX_COMMAND_LENGTH, FrameBuffer
from smppgw.core.pdu import (
    DeliverSmResp,
    EnquireLink,
    GenericNack,
    Pdu,
    SubmitSm,
    SubmitSmResp,
)
from smppgw.core.tlv import Tlv
from tests.core.factories import pdus

SMALL_STREAM_PDUS: list[Pdu] = [
    EnquireLink(),
    SubmitSm(destination_addr="4479", short_message=b"hi"),
    SubmitSmResp(message_id="m1"),
    GenericNack(),
    DeliverSmResp(),
]
SMALL_FRAMES = [encode_pdu(p, seq) for seq, p in enumerate(SMALL_STREAM_PDUS, start=1)]
SMALL_STREAM = b"".join(SMALL_FRAMES)


def feed_chunks(chunks: list[bytes], max_frame: int = DEFAULT_MAX_COMMAND_LENGTH) -> list[bytes]:
    buf = FrameBuffer(max_frame)
    out: list[bytes] = []
    for chunk in chunks:
        buf.feed(chunk)
        out += buf.frames()
    assert buf.pending == 0
    return out


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def test_every_single_split_point_yields_the_same_frames() -> None:
    for cut in range(len(SMALL_STREAM) + 1):
        assert feed_chunks([SMALL_STREAM[:cut], SMALL_STREAM[cut:]]) == SMALL_FRAMES, cut


def test_every_pair_of_split_points_yields_the_same_frames() -> None:
    n = len(SMALL_STREAM)
    for first in range(0, n + 1, 3):
        for second in range(first, n + 1):
            assert feed_chunks(chunked(SMALL_STREAM, [first, second])) == SMALL_FRAMES, (first, second)


def test_byte_at_a_time() -> None:
    buf = FrameBuffer()
    out: list[bytes] = []
    for i in range(len(SMALL_STREAM)):
        buf.feed(SMALL_STREAM[i : i + 1])
        frame = buf.next_frame()
        if frame is not None:
            out.append(frame)
            assert buf.next_frame() is None  # never more than one frame per octet
    assert out == SMALL_FRAMES
    assert buf.pending == 0


@settings(max_examples=100)
@given(
    stream_pdus=st.lists(pdus(), min_size=1, max_size=8),
    data=st.data(),
)
def test_arbitrary_chunking_yields_the_same_frames(stream_pdus: list[Pdu], data: st.DataObject) -> None:
    frames = [encode_pdu(p, i) for i, p in enumerate(stream_pdus, start=1)]
    stream = b"".join(frames)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=20))
    out = feed_chunks(chunked(stream, cuts))
    assert out == frames
    assert [decode_pdu(f)[1] for f in out] == stream_pdus


def test_truncated_frame_yields_nothing_and_is_pending() -> None:
    frame = SMALL_FRAMES[1]
    for cut in range(len(frame)):
        buf = FrameBuffer()
        buf.feed(frame[:cut])
        assert buf.next_frame() is None
        assert buf.frames() == []
        assert buf.pending == cut
        assert not buf.broken
        buf.feed(frame[cut:])
        assert buf.frames() == [frame]


def test_pending_accounting() -> None:
    buf = FrameBuffer()
    assert buf.pending == 0
    buf.feed(SMALL_FRAMES[0] + SMALL_FRAMES[1][:5])
    assert buf.pending == len(SMALL_FRAMES[0]) + 5  # nothing taken out yet
    assert buf.next_frame() == SMALL_FRAMES[0]
    assert buf.pending == 5
    assert buf.next_frame() is None
    assert buf.pending == 5
    buf.feed(SMALL_FRAMES[1][5:] + SMALL_FRAMES[2])
    assert buf.pending == len(SMALL_FRAMES[1]) + len(SMALL_FRAMES[2])
    assert buf.frames() == SMALL_FRAMES[1:3]
    assert buf.pending == 0


def test_compaction_keeps_the_unconsumed_tail() -> None:
    # Many frames through one buffer, each fed with the head of the next: lazy compaction
    # must never drop or duplicate an octet.
    buf = FrameBuffer()
    stream = SMALL_STREAM * 50
    out: list[bytes] = []
    for i in range(0, len(stream), 37):
        buf.feed(stream[i : i + 37])
        out += buf.frames()
    assert out == SMALL_FRAMES * 50
    assert buf.pending == 0


BAD_LENGTHS = [0, 1, 15, 1025, 2**31, 0xFFFF_FFFF]


@pytest.mark.parametrize("length", BAD_LENGTHS)
def test_bad_command_length_breaks_the_buffer_for_good(length: int) -> None:
    buf = FrameBuffer(max_frame=1024)
    buf.feed(SMALL_FRAMES[0] + struct.pack(">I", length) + b"\x00" * 12 + SMALL_FRAMES[0])
    assert buf.next_frame() == SMALL_FRAMES[0]  # frames before the bad header are fine
    with pytest.raises(InvalidCommandLength):
        buf.next_frame()
    assert buf.broken
    # Sticky: more data (even a perfect PDU) never resynchronises the stream.
    buf.feed(SMALL_FRAMES[0])
    with pytest.raises(InvalidCommandLength):
        buf.next_frame()
    with pytest.raises(InvalidCommandLength):
        buf.frames()
    assert buf.broken


@pytest.mark.parametrize("length", BAD_LENGTHS)
def test_bad_command_length_is_detected_from_four_octets(length: int) -> None:
    # No need to wait for the rest of a frame that can never be valid.
    buf = FrameBuffer(max_frame=1024)
    buf.feed(struct.pack(">I", length))
    with pytest.raises(InvalidCommandLength) as info:
        buf.next_frame()
    assert info.value.command_status == 0x02


def test_default_maximum_plus_one_is_refused() -> None:
    buf = FrameBuffer()
    buf.feed(struct.pack(">I", DEFAULT_MAX_COMMAND_LENGTH + 1))
    with pytest.raises(InvalidCommandLength):
        buf.next_frame()


@pytest.mark.parametrize("max_frame", [16, 100, DEFAULT_MAX_COMMAND_LENGTH])
def test_exactly_max_frame_is_accepted(max_frame: int) -> None:
    if max_frame == 16:
        frame = encode_pdu(EnquireLink(), 1)
    else:
        # A vendor TLV pads submit_sm to exactly max_frame octets.
        base = len(encode_pdu(SubmitSm(), 1))
        frame = encode_pdu(SubmitSm(tlvs=(Tlv(0x1400, b"\x00" * (max_frame - base - 4)),)), 1)
    assert len(frame) == max_frame
    buf = FrameBuffer(max_frame)
    buf.feed(frame[:-1])
    assert buf.next_frame() is None
    buf.feed(frame[-1:])
    assert buf.next_frame() == frame
    assert not buf.broken


def test_max_frame_below_a_header_is_refused() -> None:
    with pytest.raises(ValueError):
        FrameBuffer(max_frame=15)


def test_fewer_than_four_octets_wait() -> None:
    buf = FrameBuffer()
    for n in range(4):
        buf.feed(b"\x00" if n else b"")
        assert buf.next_frame() is None
    assert buf.pending == 3
    assert not buf.broken


@settings(max_examples=100)
@given(
    stream_pdus=st.lists(pdus(), min_size=1, max_size=6),
    bad_length=st.sampled_from([0, 15, DEFAULT_MAX_COMMAND_LENGTH + 1, 0xFFFF_FFFF]),
    with_bad=st.booleans(),
    data=st.data(),
)
def test_drain_matches_next_frame_in_a_loop(
    stream_pdus: list[Pdu], bad_length: int, with_bad: bool, data: st.DataObject
) -> None:
    """``drain`` (the session's one call per read) hands out exactly what ``next_frame``
    does, in order, then the sticky error if a bad header follows."""
    frames = [encode_pdu(p, i) for i, p in enumerate(stream_pdus, start=1)]
    stream = b"".join(frames) + (struct.pack(">IIII", bad_length, 4, 0, 1) if with_bad else b"")
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=10))
    drained, looped = FrameBuffer(), FrameBuffer()
    out_drained: list[bytes] = []
    out_looped: list[bytes] = []
    errors: list[tuple[str, str]] = []
    for chunk in chunked(stream, cuts):
        drained.feed(chunk)
        looped.feed(chunk)
        got, error = drained.drain()
        out_drained += got
        try:
            while (frame := looped.next_frame()) is not None:
                out_looped.append(frame)
        except InvalidCommandLength as exc:
            assert error is not None and str(error) == str(exc)
            errors.append((str(error), str(exc)))
        else:
            assert error is None
    assert out_drained == out_looped == frames
    assert drained.broken == looped.broken == with_bad
    assert bool(errors) == with_bad
    assert drained.drain() == ([], drained.drain()[1])  # sticky: nothing more, same error
