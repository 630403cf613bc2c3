"""Hostile SMPP frames for the fuzz campaigns: valid PDUs from ``smppgw.core``, mutated.

Everything is drawn from one ``random.Random`` so a run is reproduced by its seed. A frame
starts as a valid PDU (a request or a response, with TLVs some of the time) and gets one
or more mutations: a wrong command_length (short, long, huge, below the header), another
command_id (known or not), a random command_status, flipped or truncated body octets
(C-strings that never end), NUL octets removed, an oversized field spliced in, a TLV whose
length runs past the end or disagrees with its type. Some frames are plain random bytes.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from typing import Final

from smppgw.core.codec import encode_pdu
from smppgw.core.constants import CommandId, TlvTag
from smppgw.core.pdu import (
    BindTransceiver,
    CancelSm,
    DataSm,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    QuerySm,
    ReplaceSm,
    SubmitSm,
    SubmitSmResp,
    Unbind,
)
from smppgw.core.tlv import Tlv

__all__ = ["FRAMED", "MUTATIONS", "FrameMaker", "valid_bind"]

_HEADER: Final = struct.Struct(">IIII")
_KNOWN_IDS: Final = tuple(int(c) for c in CommandId)


def valid_bind(system_id: str, password: str, seq: int = 1) -> bytes:
    return encode_pdu(BindTransceiver(system_id=system_id, password=password), seq)


def _text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _tlvs(rng: random.Random) -> tuple[Tlv, ...]:
    out: list[Tlv] = []
    for _ in range(rng.randrange(4)):
        kind = rng.randrange(5)
        if kind == 0:
            out.append(Tlv(TlvTag.MESSAGE_PAYLOAD, rng.randbytes(rng.randrange(300))))
        elif kind == 1:
            ref, total = rng.randrange(65536), rng.randrange(1, 6)
            out += [
                Tlv.from_int(TlvTag.SAR_MSG_REF_NUM, ref, 2),
                Tlv.from_int(TlvTag.SAR_TOTAL_SEGMENTS, total, 1),
                Tlv.from_int(TlvTag.SAR_SEGMENT_SEQNUM, rng.randrange(1, total + 1), 1),
            ]
        elif kind == 2:
            out.append(Tlv(TlvTag.RECEIPTED_MESSAGE_ID, _text(rng, rng.randrange(1, 70)).encode() + b"\0"))
        elif kind == 3:
            out.append(Tlv.from_int(TlvTag.MESSAGE_STATE, rng.randrange(256), 1))
        else:
            out.append(Tlv(rng.randrange(0x1400, 0x3FFF), rng.randbytes(rng.randrange(20))))
    return tuple(out)


def _pdu(rng: random.Random) -> Pdu:
    """One valid PDU of a kind either side may send (an invalid draw is drawn again)."""
    while True:
        try:
            return _draw(rng)
        except ValueError:
            continue


def _draw(rng: random.Random) -> Pdu:
    src, dst = _text(rng, rng.randrange(1, 16)), _text(rng, rng.randrange(1, 16))
    kind = rng.randrange(12)
    tlvs = _tlvs(rng) if rng.random() < 0.5 else ()
    if kind <= 2:
        return SubmitSm(
            source_addr=src,
            destination_addr=dst,
            esm_class=rng.choice((0, 0x40)),
            registered_delivery=rng.randrange(2),
            data_coding=rng.choice((0, 3, 4, 8)),
            short_message=rng.randbytes(rng.randrange(141)),
            tlvs=tlvs,
        )
    if kind <= 5:
        receipt = f"id:{_text(rng, 10)} sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 stat:DELIVRD err:000 text:x"
        short = receipt.encode() if rng.random() < 0.4 else rng.randbytes(rng.randrange(141))
        return DeliverSm(
            source_addr=src,
            destination_addr=dst,
            esm_class=rng.choice((0, 0x04, 0x40, 0x44)),
            data_coding=rng.choice((0, 3, 4, 8)),
            short_message=short,
            tlvs=tlvs,
        )
    if kind == 6:
        return DataSm(source_addr=src, destination_addr=dst, tlvs=tlvs)
    if kind == 7:
        return QuerySm(message_id=_text(rng, 8), source_addr=src)
    if kind == 8:
        return rng.choice(
            (
                CancelSm(message_id=_text(rng, 8), source_addr=src, destination_addr=dst),
                ReplaceSm(message_id=_text(rng, 8), source_addr=src, short_message=b"x"),
            )
        )
    if kind == 9:
        return rng.choice((EnquireLink(), EnquireLinkResp(), GenericNack(), Unbind()))
    if kind == 10:
        return rng.choice((SubmitSmResp(message_id=_text(rng, 10)), DeliverSmResp()))
    return BindTransceiver(system_id=_text(rng, rng.randrange(1, 16)), password="x")


# -- mutations: each takes and returns a whole frame ------------------------------------------


def _with_length(frame: bytes, length: int) -> bytes:
    return struct.pack(">I", length & 0xFFFF_FFFF) + frame[4:]


def _bad_length(rng: random.Random, frame: bytes) -> bytes:
    choice = rng.randrange(4)
    if choice == 0:
        return _with_length(frame, rng.randrange(16))  # below the header: framing lost
    if choice == 1:
        return _with_length(frame, len(frame) + rng.randrange(1, 64))  # waits for more
    if choice == 2:
        return _with_length(frame, rng.choice((0x7FFF_FFFF, 0xFFFF_FFFF, 1 << 20)))  # huge
    return _with_length(frame, max(16, len(frame) - rng.randrange(1, 16)))  # short: body cut


def _command_id(rng: random.Random, frame: bytes) -> bytes:
    cid = rng.choice(_KNOWN_IDS) if rng.random() < 0.6 else rng.getrandbits(32)
    return frame[:4] + struct.pack(">I", cid) + frame[8:]


def _status(rng: random.Random, frame: bytes) -> bytes:
    return frame[:8] + struct.pack(">I", rng.getrandbits(32)) + frame[12:]


def _flip(rng: random.Random, frame: bytes) -> bytes:
    if len(frame) <= 16:
        return frame
    body = bytearray(frame[16:])
    for _ in range(rng.randrange(1, 8)):
        body[rng.randrange(len(body))] = rng.randrange(256)
    return frame[:16] + bytes(body)


def _truncate(rng: random.Random, frame: bytes) -> bytes:
    """The body cut short and command_length made to match: C-strings never end."""
    if len(frame) <= 16:
        return frame
    cut = frame[: rng.randrange(16, len(frame))]
    return _with_length(cut, len(cut))


def _no_nul(rng: random.Random, frame: bytes) -> bytes:
    body = frame[16:].replace(b"\0", b"A")
    return _with_length(frame[:16] + body, 16 + len(body))


def _oversize(rng: random.Random, frame: bytes) -> bytes:
    """A field far beyond its maximum (a 2,000-octet address, say) spliced into the body."""
    at = rng.randrange(min(16, len(frame)), len(frame) + 1)
    blob = bytes([rng.choice(b"0123456789AZ")]) * rng.choice((17, 66, 255, 2000, 60_000))
    out = frame[:at] + blob + frame[at:]
    return _with_length(out, len(out))


def _bad_tlv(rng: random.Random, frame: bytes) -> bytes:
    tag = rng.choice((int(TlvTag.MESSAGE_PAYLOAD), int(TlvTag.SAR_TOTAL_SEGMENTS), int(TlvTag.MESSAGE_STATE),
                      int(TlvTag.RECEIPTED_MESSAGE_ID), rng.getrandbits(16)))  # fmt: skip
    declared = rng.choice((0, 1, 3, 7, 0xFFFF))
    value = rng.randbytes(rng.randrange(0, 8))
    out = frame + struct.pack(">HH", tag, declared) + value
    return _with_length(out, len(out))


def _random_bytes(rng: random.Random, frame: bytes) -> bytes:
    return rng.randbytes(rng.randrange(1, 200))


MUTATIONS: Final[tuple[Callable[[random.Random, bytes], bytes], ...]] = (
    _bad_length,
    _command_id,
    _status,
    _flip,
    _flip,
    _truncate,
    _truncate,
    _no_nul,
    _oversize,
    _bad_tlv,
    _bad_tlv,
    _random_bytes,
)


# The mutations after which command_length still frames the stream: a peer that keeps
# framing keeps its connection, so more of its frames reach the decoder and the application.
FRAMED: Final = tuple(m for m in MUTATIONS if m not in (_bad_length, _random_bytes))


class FrameMaker:
    """Seeded hostile frames; ``valid`` of them (a fraction) are left unmutated; with
    ``framed`` only mutations that keep the framing, plus one in ``1 / framing_breaks``
    of any kind."""

    def __init__(
        self, seed: int, *, valid: float = 0.15, framed: bool = False, framing_breaks: int = 200
    ) -> None:
        self.rng = random.Random(seed)
        self.valid = valid
        self.mutations = FRAMED if framed else MUTATIONS
        self.framing_breaks = framing_breaks
        self._seq = 1

    def frame(self) -> bytes:
        rng = self.rng
        self._seq = self._seq % 0x7FFF_FFFF + 1
        frame = encode_pdu(_pdu(rng), self._seq)
        if rng.random() < self.valid:
            return frame
        mutations = self.mutations
        if mutations is FRAMED and rng.randrange(self.framing_breaks) == 0:
            mutations = MUTATIONS
        for _ in range(1 + (rng.random() < 0.3)):
            frame = rng.choice(mutations)(rng, frame)
        return frame

    def frames(self, n: int) -> list[bytes]:
        return [self.frame() for _ in range(n)]

    def chunks(self, data: bytes) -> list[bytes]:
        """``data`` in random write sizes (a frame split across reads, several in one)."""
        out, pos = [], 0
        while pos < len(data):
            step = self.rng.choice((1, 7, 16, 100, 4096, len(data)))
            out.append(data[pos : pos + step])
            pos += step
        return out
