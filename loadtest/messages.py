"""The pool of pre-encoded submit_sm bodies a run cycles through (built once, before the run).

The hot path never encodes a PDU: each message kind of the mix (GSM 7-bit, UCS-2, long
concatenated GSM, long UCS-2) times a cycle of destinations is encoded once with the
codec, and the sender only prepends a 16-octet header to a body taken from the pool.
The parts of a long message are consecutive entries, so consecutive slots of the
schedule carry them in order (their UDH reference differs per message).

The pool's kind sequence follows the mix weights exactly over one cycle (largest
remainder), shuffled with the run's seed so kinds interleave instead of coming in runs.
"""

from __future__ import annotations

import random
from typing import Final

from loadtest.params import DestRange
from smppgw.core.codec import HEADER_SIZE, encode_pdu
from smppgw.core.constants import Npi, Ton
from smppgw.core.pdu import SubmitSm
from smppgw.core.text import ConcatMethod, Encoding, split_message

__all__ = ["TEXTS", "MessagePool", "build_pool", "kind_sequence"]

TEXTS: Final = {
    "gsm": "Your code is 4711. It expires in 10 minutes. Do not share it with anyone. Reply STOP to opt out.",
    "ucs2": "您的验证码是 4711, 十分钟内有效。请勿与任何人分享。回复 STOP 退订。",
    "long": (
        "Dear customer, your parcel 4711-8XK2 has left our depot and will arrive today between 10:00 "
        "and 12:00. If nobody is at home, the driver will leave it with a neighbour or at the nearest "
        "pick-up point, and you will receive a card with the address. You can follow the delivery on "
        "our website with your tracking code, change the delivery day or ask for a safe place. Thank "
        "you for shopping with us. Reply STOP to opt out of delivery messages."
    ),
    "long_ucs2": (
        "尊敬的客户, 您的包裹 4711-8XK2 已离开我们的仓库, 将于今天 10:00 至 12:00 之间送达。"
        "如果家中无人, 快递员会把包裹交给邻居或放在最近的自提点, 您将收到一张写有地址的卡片。"
        "您可以在我们的网站上用追踪码查看配送进度、更改配送日期或指定安全的存放地点。谢谢惠顾!"
    ),
}
_ENCODING: Final = {
    "gsm": Encoding.GSM7,
    "ucs2": Encoding.UCS2,
    "long": Encoding.GSM7,
    "long_ucs2": Encoding.UCS2,
}
_CYCLE: Final = 2000  # messages per pool cycle: fine enough for weights down to 0.0005


class MessagePool:
    """``bodies[i]`` is a whole submit_sm body (everything after the header)."""

    __slots__ = ("bodies", "messages", "parts_by_kind")

    def __init__(self, bodies: list[bytes], messages: int, parts_by_kind: dict[str, int]) -> None:
        self.bodies = bodies
        self.messages = messages
        self.parts_by_kind = parts_by_kind

    @property
    def parts_per_message(self) -> float:
        return len(self.bodies) / self.messages


def kind_sequence(mix: tuple[tuple[str, float], ...], n: int, rng: random.Random) -> list[str]:
    exact = [(kind, weight * n) for kind, weight in mix]
    counts = {kind: int(x) for kind, x in exact}
    left = n - sum(counts.values())
    for kind, _x in sorted(exact, key=lambda kx: kx[1] - int(kx[1]), reverse=True)[:left]:
        counts[kind] += 1
    seq = [kind for kind, c in counts.items() for _ in range(c)]
    rng.shuffle(seq)
    return seq


def build_pool(
    mix: tuple[tuple[str, float], ...],
    destinations: DestRange,
    *,
    source: str,
    registered_delivery: int,
    seed: int | None = None,
    messages: int = _CYCLE,
) -> MessagePool:
    """Encode one cycle of ``messages`` messages (their parts as consecutive bodies)."""
    rng = random.Random(seed)
    source_ton = Ton.ALPHANUMERIC if not source.isdigit() else Ton.INTERNATIONAL
    source_npi = Npi.UNKNOWN if not source.isdigit() else Npi.ISDN
    parts_cache = {
        kind: split_message(TEXTS[kind], encoding=_ENCODING[kind], method=ConcatMethod.UDH8)
        for kind, _ in mix
    }
    bodies: list[bytes] = []
    for i, kind in enumerate(kind_sequence(mix, messages, rng)):
        parts = parts_cache[kind]
        if len(parts) > 1:  # a fresh UDH reference per long message (3GPP TS 23.040 §9.2.3.24.1)
            parts = split_message(
                TEXTS[kind], encoding=_ENCODING[kind], method=ConcatMethod.UDH8, reference=i & 0xFF
            )
        dest = destinations.number(i)
        for part in parts:
            pdu = SubmitSm(
                source_addr_ton=source_ton,
                source_addr_npi=source_npi,
                source_addr=source,
                dest_addr_ton=Ton.INTERNATIONAL,
                dest_addr_npi=Npi.ISDN,
                destination_addr=dest,
                esm_class=part.esm_class,
                registered_delivery=registered_delivery,
                data_coding=part.data_coding,
                short_message=part.short_message,
                tlvs=part.tlvs,
            )
            bodies.append(encode_pdu(pdu, sequence_number=1)[HEADER_SIZE:])
    return MessagePool(bodies, messages, {kind: len(parts_cache[kind]) for kind, _ in mix})
