"""Codec micro-benchmark: smppgw vs smpplib vs aiosmpplib, no network.

Operations (each one call per iteration, everything built from plain Python values):

- ``encode_submit_sm``: build a submit_sm (160-character GSM 03.38 text already encoded
  to octets, one TLV: user_message_reference) and serialise it. aiosmpplib always takes
  the text as ``str``; it is given the same octets through ``SubmitSm.set_encoded_message``
  so that no text encoding happens inside its ``pdu()`` either.
- ``encode_submit_sm+text``: the same, starting from the ``str``: each library's own GSM
  encoder (ours ``gsm7_encode``, smpplib ``gsm.gsm_encode``, aiosmpplib its codec in ``pdu()``).
- ``decode_submit_sm``: wire octets to a PDU object. aiosmpplib's ``from_pdu`` always
  decodes the text to ``str`` as well; it cannot be skipped.
- ``decode_submit_sm+text``: decode and get the text as ``str``. smpplib has no GSM 03.38
  decoder: n/a.
- ``submit_sm_resp``: build, encode and decode a submit_sm_resp.
- ``decode_receipt``: decode a deliver_sm delivery receipt (Appendix B text plus the
  receipted_message_id and message_state TLVs, as MinimalSmsc sends it).
- ``receipt_id``: decode the receipt and read its message id and state with the
  library's receipt parser (ours ``parse_receipt``, aiosmpplib ``DeliverSm.parse_receipt``).
  smpplib has no receipt parser: n/a.

Before timing, every encoder's output is checked to be byte-identical to ours and every
decoder to recover the same fields, so all sides do the same work.

Timing: ``timeit`` with a per-callable loop count calibrated to ``--target`` seconds, best
of ``--repeat`` repeats, the implementations interleaved within each repeat so that
machine noise hits them alike. Ratios are ours/peer in ops/s: > 1 means we are faster.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import timeit
import warnings
from collections.abc import Callable
from typing import Any

import aiosmpplib.protocol as aio
import smpplib.client
import smpplib.gsm
import smpplib.smpp
from aiosmpplib import NPI, TON, OptionalParam, PhoneNumber, SmppMessage

from smppgw.core.codec import decode_pdu, encode_pdu
from smppgw.core.constants import EsmClass, MessageState, TlvTag
from smppgw.core.pdu import DeliverSm, SubmitSm, SubmitSmResp
from smppgw.core.receipt import format_receipt, parse_receipt, receipt_tlvs
from smppgw.core.text import decode_text, gsm7_encode
from smppgw.core.tlv import Tlv

IMPLS = ("ours", "smpplib", "aiosmpplib")
OPS = (
    "encode_submit_sm",
    "encode_submit_sm+text",
    "decode_submit_sm",
    "decode_submit_sm+text",
    "submit_sm_resp",
    "decode_receipt",
    "receipt_id",
)
NOT_POSSIBLE = {
    ("smpplib", "decode_submit_sm+text"): "smpplib has no GSM 03.38 decoder",
    ("smpplib", "receipt_id"): "smpplib has no receipt parser (only raw TLV attributes)",
}

# -- fixtures ---------------------------------------------------------------------------------

TEXT = (
    "Your parcel 4711 arrives today between 10 and 12. Reply STOP to opt out. "
    "Track it online with code 8XK2 or call us. Thank you for shopping with us, see you soon!"
)[:160].ljust(160, ".")
assert len(TEXT) == 160
OCTETS = gsm7_encode(TEXT)
SOURCE, SOURCE_TON, SOURCE_NPI = "ACME", 5, 0
DEST, DEST_TON, DEST_NPI = "4915112345678", 1, 1
UMR_TAG, UMR = int(TlvTag.USER_MESSAGE_REFERENCE), 4711
SEQ = 7
MESSAGE_ID = "0A1B2C3D4E"
RECEIPT_TEXT = format_receipt(
    message_id=MESSAGE_ID, state=MessageState.DELIVERED, submit_date="2611271130", done_date="2611271131"
)


def _ours_submit(octets: bytes) -> SubmitSm:
    return SubmitSm(
        source_addr_ton=SOURCE_TON,
        source_addr_npi=SOURCE_NPI,
        source_addr=SOURCE,
        dest_addr_ton=DEST_TON,
        dest_addr_npi=DEST_NPI,
        destination_addr=DEST,
        registered_delivery=1,
        short_message=octets,
        tlvs=(Tlv.from_int(UMR_TAG, UMR),),
    )


SUBMIT_WIRE = encode_pdu(_ours_submit(OCTETS), SEQ)
RESP_WIRE = encode_pdu(SubmitSmResp(message_id=MESSAGE_ID), SEQ)
RECEIPT_WIRE = encode_pdu(
    DeliverSm(
        source_addr_ton=DEST_TON,
        source_addr_npi=DEST_NPI,
        source_addr=DEST,
        dest_addr_ton=SOURCE_TON,
        dest_addr_npi=SOURCE_NPI,
        destination_addr=SOURCE,
        esm_class=EsmClass.SMSC_DELIVERY_RECEIPT,
        short_message=RECEIPT_TEXT.encode("ascii"),
        tlvs=receipt_tlvs(message_id=MESSAGE_ID, state=MessageState.DELIVERED),
    ),
    SEQ,
)

Op = Callable[[], Any]

# -- ours -------------------------------------------------------------------------------------


def ours_ops() -> dict[str, Op]:
    def encode() -> bytes:
        return encode_pdu(_ours_submit(OCTETS), SEQ)

    def encode_text() -> bytes:
        return encode_pdu(_ours_submit(gsm7_encode(TEXT)), SEQ)

    def decode() -> Any:
        return decode_pdu(SUBMIT_WIRE)[1]

    def decode_with_text() -> str:
        pdu = decode_pdu(SUBMIT_WIRE)[1]
        return decode_text(pdu.short_message, pdu.data_coding)  # type: ignore[attr-defined]

    def resp() -> Any:
        return decode_pdu(encode_pdu(SubmitSmResp(message_id=MESSAGE_ID), SEQ))[1]

    def receipt() -> Any:
        return decode_pdu(RECEIPT_WIRE)[1]

    def receipt_id() -> tuple[Any, Any]:
        pdu: Any = decode_pdu(RECEIPT_WIRE)[1]
        r = parse_receipt(short_message=pdu.short_message, tlvs=pdu.tlvs, esm_class=pdu.esm_class)
        assert r is not None
        return r.message_id, r.state

    return {
        "encode_submit_sm": encode,
        "encode_submit_sm+text": encode_text,
        "decode_submit_sm": decode,
        "decode_submit_sm+text": decode_with_text,
        "submit_sm_resp": resp,
        "decode_receipt": receipt,
        "receipt_id": receipt_id,
    }


# -- smpplib: make_pdu(...).generate() / parse_pdu -----------------------------------------------


def smpplib_ops() -> dict[str, Op]:
    # make_pdu asks its ``client`` for sequence numbers; smpplib's own generator is one.
    client = smpplib.client.SimpleSequenceGenerator()
    make, parse = smpplib.smpp.make_pdu, smpplib.smpp.parse_pdu

    def build(octets: bytes) -> Any:
        cmd = make(
            "submit_sm",
            client=client,
            source_addr_ton=SOURCE_TON,
            source_addr_npi=SOURCE_NPI,
            source_addr=SOURCE,
            dest_addr_ton=DEST_TON,
            dest_addr_npi=DEST_NPI,
            destination_addr=DEST,
            registered_delivery=1,
            short_message=octets,
            user_message_reference=UMR,
        )
        cmd.sequence = SEQ
        return cmd

    def encode() -> bytes:
        return build(OCTETS).generate()  # type: ignore[no-any-return]

    def encode_text() -> bytes:
        return build(smpplib.gsm.gsm_encode(TEXT)).generate()  # type: ignore[no-any-return]

    def decode() -> Any:
        return parse(SUBMIT_WIRE, client=client, allow_unknown_opt_params=True)

    def resp() -> Any:
        cmd = make("submit_sm_resp", client=client, message_id=MESSAGE_ID)
        cmd.sequence = SEQ
        return parse(cmd.generate(), client=client, allow_unknown_opt_params=True)

    def receipt() -> Any:
        return parse(RECEIPT_WIRE, client=client, allow_unknown_opt_params=True)

    return {
        "encode_submit_sm": encode,
        "encode_submit_sm+text": encode_text,
        "decode_submit_sm": decode,
        "submit_sm_resp": resp,
        "decode_receipt": receipt,
    }


# -- aiosmpplib: SmppMessage.pdu() / parse_header + from_pdu ----------------------------------------


def aiosmpplib_ops() -> dict[str, Op]:
    encoding = "gsm0338"  # what aiosmpplib.ESME passes by default

    def build() -> aio.SubmitSm:
        return aio.SubmitSm(
            sequence_num=SEQ,
            short_message=TEXT,
            source=PhoneNumber(SOURCE, TON(SOURCE_TON), NPI(SOURCE_NPI)),
            destination=PhoneNumber(DEST, TON(DEST_TON), NPI(DEST_NPI)),
            registered_delivery=1,
            optional_params=[OptionalParam(UMR_TAG, UMR)],
        )

    def encode() -> bytes:
        msg = build()
        msg.set_encoded_message(OCTETS)
        return msg.pdu()

    def encode_text() -> bytes:
        return build().pdu()

    def decode() -> Any:
        return aio.SubmitSm.from_pdu(SUBMIT_WIRE, SmppMessage.parse_header(SUBMIT_WIRE), encoding)

    def decode_with_text() -> str:
        return decode().short_message  # type: ignore[no-any-return]

    def resp() -> Any:
        wire = aio.SubmitSmResp(sequence_num=SEQ, message_id=MESSAGE_ID).pdu()
        return aio.SubmitSmResp.from_pdu(wire, SmppMessage.parse_header(wire))

    def receipt() -> Any:
        return aio.DeliverSm.from_pdu(RECEIPT_WIRE, SmppMessage.parse_header(RECEIPT_WIRE), encoding)

    def receipt_id() -> tuple[Any, Any]:
        parsed = receipt().parse_receipt()
        return parsed["id"], parsed["stat"]

    return {
        "encode_submit_sm": encode,
        "encode_submit_sm+text": encode_text,
        "decode_submit_sm": decode,
        "decode_submit_sm+text": decode_with_text,
        "submit_sm_resp": resp,
        "decode_receipt": receipt,
        "receipt_id": receipt_id,
    }


# -- same work on every side ------------------------------------------------------------------


def self_check(ops: dict[str, dict[str, Op]]) -> None:
    """Raise AssertionError unless every implementation does the same job."""
    for impl, table in ops.items():
        for name in ("encode_submit_sm", "encode_submit_sm+text"):
            assert table[name]() == SUBMIT_WIRE, f"{impl} {name}: different octets"
    ours, sl, ai = ops["ours"], ops["smpplib"], ops["aiosmpplib"]
    o = ours["decode_submit_sm"]()
    assert (o.short_message, o.destination_addr, o.tlvs) == (OCTETS, DEST, (Tlv.from_int(UMR_TAG, UMR),))
    s = sl["decode_submit_sm"]()
    assert (s.short_message, s.destination_addr, s.user_message_reference) == (OCTETS, DEST.encode(), UMR)
    a = ai["decode_submit_sm"]()
    assert (a.short_message, a.destination.number, a.optional_params) == (
        TEXT,
        DEST,
        [OptionalParam(UMR_TAG, UMR)],
    )
    assert ours["decode_submit_sm+text"]() == ai["decode_submit_sm+text"]() == TEXT
    assert ours["submit_sm_resp"]().message_id == MESSAGE_ID
    assert sl["submit_sm_resp"]().message_id == MESSAGE_ID.encode()
    assert ai["submit_sm_resp"]().message_id == MESSAGE_ID
    assert ours["decode_receipt"]().short_message == RECEIPT_TEXT.encode()
    assert sl["decode_receipt"]().receipted_message_id == MESSAGE_ID.encode()
    assert ai["decode_receipt"]().short_message == RECEIPT_TEXT
    assert ours["receipt_id"]() == (MESSAGE_ID, MessageState.DELIVERED)
    assert ai["receipt_id"]() == (MESSAGE_ID, "DELIVRD")


# -- timing -------------------------------------------------------------------------------------


def calibrate(fn: Op, target: float) -> int:
    """Loop count for which one timing run takes about ``target`` seconds."""
    timer = timeit.Timer(fn)
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= target / 5 or number >= 10_000_000:
            return max(1, int(number * target / max(elapsed, 1e-9)))
        number *= 4


def measure(
    ops: dict[str, dict[str, Op]], *, repeat: int, target: float
) -> dict[str, dict[str, float | None]]:
    results: dict[str, dict[str, float | None]] = {impl: {} for impl in ops}
    for op in OPS:
        runners = [(impl, table[op]) for impl, table in ops.items() if op in table]
        numbers = {impl: calibrate(fn, target) for impl, fn in runners}
        best = {impl: math.inf for impl, _ in runners}
        for _ in range(repeat):
            for impl, fn in runners:  # interleaved: noise hits every implementation alike
                elapsed = timeit.Timer(fn).timeit(numbers[impl])
                best[impl] = min(best[impl], elapsed / numbers[impl])
        for impl in ops:
            results[impl][op] = round(1.0 / best[impl], 1) if impl in best else None
    return results


def ratios(results: dict[str, dict[str, float | None]]) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    ours = results["ours"]
    for peer in IMPLS[1:]:
        table: dict[str, float | None] = {}
        logs = []
        for op in OPS:
            mine, theirs = ours.get(op), results[peer].get(op)
            if mine is None or theirs is None:
                table[op] = None
                continue
            table[op] = round(mine / theirs, 2)
            logs.append(math.log(mine / theirs))
        table["geomean"] = round(math.exp(sum(logs) / len(logs)), 2) if logs else None
        out[f"ours/{peer}"] = table
    return out


def _fmt(value: float | None, ratio: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}x" if ratio else f"{value:,.0f}"


def print_table(results: dict[str, dict[str, float | None]], rat: dict[str, dict[str, float | None]]) -> None:
    head = f"{'operation (ops/s)':<24}" + "".join(f"{impl:>13}" for impl in IMPLS)
    head += "".join(f"{name:>18}" for name in rat)
    print(head)
    print("-" * len(head))
    for op in (*OPS, "geomean"):
        row = f"{op:<24}"
        row += "".join(f"{'':>13}" if op == "geomean" else f"{_fmt(results[i].get(op)):>13}" for i in IMPLS)
        row += "".join(f"{_fmt(rat[name].get(op), ratio=True):>18}" for name in rat)
        print(row)
    for (impl, op), why in NOT_POSSIBLE.items():
        print(f"  n/a {impl} {op}: {why}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="codec ops/s: smppgw vs smpplib vs aiosmpplib")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--repeat", type=int, default=5, help="timing repeats (best is kept)")
    parser.add_argument("--target", type=float, default=0.1, help="seconds per timing run")
    args = parser.parse_args(argv)
    if not (1 <= args.repeat <= 50 and 0.001 <= args.target <= 2.0):
        parser.error("--repeat must be 1..50 and --target 0.001..2.0")

    warnings.simplefilter("ignore", DeprecationWarning)  # smpplib's opt-param warning
    ops = {"ours": ours_ops(), "smpplib": smpplib_ops(), "aiosmpplib": aiosmpplib_ops()}
    self_check(ops)
    started = time.perf_counter()
    results = measure(ops, repeat=args.repeat, target=args.target)
    rat = ratios(results)
    print(
        f"codec benchmark: best of {args.repeat} x ~{args.target}s per op, {time.perf_counter() - started:.1f}s"
    )
    print_table(results, rat)
    if args.json:
        print(
            json.dumps(
                {
                    "bench": "codec",
                    "unit": "ops/s",
                    "results": results,
                    "ratios": rat,
                    "not_possible": {f"{impl}/{op}": why for (impl, op), why in NOT_POSSIBLE.items()},
                    "python": sys.version.split()[0],
                },
                sort_keys=False,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
