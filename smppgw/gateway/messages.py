"""From what a caller asks for to submit_sm PDUs: validate, split, build.

``SubmitFields`` is what a caller may ask for (``Gateway.submit``'s keywords, an API
body); ``new_record`` checks what can be checked without a route (addresses, encoding)
and makes the ``MessageRecord``; ``split`` cuts its text into parts for one SMSC's
concatenation method (raising ``SubmitError`` for text that cannot be carried);
``submit_pdus`` builds one submit_sm per part with the SMSC's TON/NPI overrides,
registered_delivery, validity and priority. ``intake`` routes between these steps.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Required, TypedDict

import attrs

from smppgw.core.constants import RegisteredDelivery
from smppgw.core.pdu import SubmitSm
from smppgw.core.text import ConcatMethod, Part, split_message
from smppgw.core.timefmt import format_relative
from smppgw.gateway.config import SmscConfig
from smppgw.policy.addressing import AddressError, AddressKind, SmppAddress, to_smpp
from smppgw.store.base import MessageRecord

__all__ = ["ENCODINGS", "SubmitError", "SubmitFields", "new_record", "split", "submit_pdus"]

ENCODINGS = frozenset({"auto", "gsm7", "ucs2", "latin1", "binary"})
_RECEIPT_ALWAYS = int(RegisteredDelivery.RECEIPT_ALWAYS)  # a plain int per message
# Senders are few (short codes, long codes, alphanumerics): classify each once.
# SmppAddress is frozen, so sharing one is safe; errors are not cached.
_source = functools.lru_cache(maxsize=4096)(to_smpp)
_MAX_BINARY = 140  # octets in one short_message (3GPP TS 23.040 §9.2.3.24)
_ALPHANUMERIC, _UDH8 = AddressKind.ALPHANUMERIC, ConcatMethod.UDH8


def _random_ids() -> Iterator[str]:
    """Message ids, 32 hex digits: the creation time in milliseconds (48 bits), then 80
    bits from the OS's CSPRNG (read 256 ids at a time: an ``os.urandom`` call per message
    is a system call, ~0.7 us; this ~0.3). Time first, as in a UUIDv7 (RFC 9562 §5.7):
    new ids sort after older ones, so the store's indexes keyed on them (the message id,
    its events' ids) grow at their end, a few pages per commit, rather than each new
    message dirtying a page of its own somewhere in the middle (a random id: ~4 KB of
    WAL per index entry, most of the SQLite store's writes). 80 random bits keep an id
    unguessable and unique within its millisecond."""
    now = time.time_ns
    while True:
        pool = os.urandom(10 * 256).hex()
        for at in range(0, len(pool), 20):
            yield f"{now() // 1_000_000:012x}{pool[at : at + 20]}"


class _Ids:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.next: Callable[[], str] = functools.partial(next, _random_ids())


_ids = _Ids()
os.register_at_fork(after_in_child=_ids.reset)  # a child must not repeat the parent's ids


class SubmitError(ValueError):
    """The message can never be sent as given (bad address, no route, text too long)."""


class SubmitFields(TypedDict, total=False):
    """What a caller asks for: ``Gateway.submit``'s keywords, one item of ``submit_many``.

    Only the first three are required; a missing or None optional field means its
    default: ``encoding`` "auto" (or "gsm7", "ucs2", "latin1", "binary": ``text`` is
    then hex octets), ``dlr`` True (ask for a receipt), ``validity`` none (the SMSC's),
    ``priority`` 0 (0..3), ``tags`` none (routing tags), ``message_id`` a new random id,
    ``idempotency_key``, ``callback_url`` and ``tenant`` (the API key's) none; ``send_at`` none (send now), else
    when to queue it, on the gateway's trio clock (the message is ``scheduled`` until then).
    """

    source: Required[str]
    destination: Required[str]
    text: Required[str]
    encoding: str
    dlr: bool
    validity: float | None
    priority: int
    tags: Iterable[str]
    message_id: str | None
    idempotency_key: str | None
    callback_url: str | None
    send_at: float | None
    tenant: str | None
    # 2-way (gateway.conversations): ``expect`` a reply (a ``twoway.conversations.Expect``
    # or its JSON object); ``pool`` send from a number of this sender pool ("": the pool
    # of the message's route), ``source`` then picked by the gateway (give "").
    expect: object | None
    pool: str | None


_FIELDS = frozenset(SubmitFields.__annotations__)


def new_record(
    now: float, reference: int, fields: SubmitFields
) -> tuple[MessageRecord, SmppAddress, SmppAddress]:
    """A new ``accepted`` record and its SMPP addresses. Raises SubmitError (TypeError
    for a field missing or one ``SubmitFields`` does not have, as a call would)."""
    optional = len(fields) > 3  # any optional field given (an API body gives them all)
    if optional and not _FIELDS.issuperset(fields):
        raise TypeError(f"unknown submit fields: {', '.join(sorted(set(fields) - _FIELDS))}")
    try:
        source, destination, text = fields["source"], fields["destination"], fields["text"]
    except KeyError as exc:
        raise TypeError(f"missing submit field: {exc.args[0]}") from None
    try:
        src, dst = _source(source), to_smpp(destination)
    except AddressError as exc:
        raise SubmitError(str(exc)) from None
    if dst.kind is _ALPHANUMERIC:
        raise SubmitError(f"destination {destination!r} is not a phone number")
    # A time-ordered id (``_random_ids``). Four positional fields, then only what
    # differs from the defaults: the 14-keyword attrs __init__ cost ~1.5 us per message,
    # this ~0.4 (CPython 3.11; MessageRecord has no validators to skip).
    record = MessageRecord((optional and fields.get("message_id")) or _ids.next(), src.addr, dst.addr, text)
    record.created_at = record.updated_at = now
    record.reference = reference
    if optional:
        _options(record, fields)
    return record, src, dst


def _options(record: MessageRecord, fields: SubmitFields) -> None:
    """Set the optional fields that differ from the record's defaults (None: default)."""
    encoding = fields.get("encoding")
    if encoding is not None and encoding != "auto":
        if encoding not in ENCODINGS:
            raise SubmitError(f"encoding: one of {', '.join(sorted(ENCODINGS))}, got {encoding!r}")
        record.encoding = encoding
    if (dlr := fields.get("dlr")) is not None and not dlr:
        record.dlr = False
    if (validity := fields.get("validity")) is not None:
        record.validity = validity
    if priority := fields.get("priority"):
        record.priority = min(3, max(0, priority))  # priority_flag 0..3 (3.4 §5.2.14)
    if tags := fields.get("tags"):
        record.tags = tuple(tags)
    if (key := fields.get("idempotency_key")) is not None:
        record.idempotency_key = key
    if (callback_url := fields.get("callback_url")) is not None:
        record.callback_url = callback_url
    if (send_at := fields.get("send_at")) is not None:
        record.send_at = send_at
    if (tenant := fields.get("tenant")) is not None:
        record.tenant = tenant


def split(record: MessageRecord, smsc: SmscConfig) -> list[Part]:
    """The parts of ``record`` for ``smsc``; its ``reference`` (set) keeps them together."""
    if record.encoding == "binary":
        return [_binary_part(record.text)]
    assert record.reference is not None
    reference = record.reference % (256 if smsc.concat is _UDH8 else 65536)
    try:
        return split_message(record.text, encoding=record.encoding, method=smsc.concat, reference=reference)
    except ValueError as exc:
        raise SubmitError(f"text: {exc}") from None


def submit_pdus(
    record: MessageRecord, smsc: SmscConfig, parts: list[Part], src: SmppAddress, dst: SmppAddress
) -> list[SubmitSm]:
    if smsc.ton_npi:  # per-SMSC TON/NPI overrides by address kind
        src, dst = _override(src, smsc.ton_npi), _override(dst, smsc.ton_npi)
    registered = _RECEIPT_ALWAYS if record.dlr and smsc.registered_delivery else 0
    validity = format_relative(record.validity) if record.validity else ""  # 3.4 §7.1.1
    priority = record.priority
    if not 0 <= priority <= 3:
        priority = min(3, max(0, priority))
    # trusted: the addresses passed to_smpp, the parts come from split_message.
    pdus = []
    for part in parts:  # (a loop, not a comprehension: most messages have one part)
        pdus.append(SubmitSm.trusted_from({
            "source_addr_ton": src.ton, "source_addr_npi": src.npi, "source_addr": src.addr,
            "dest_addr_ton": dst.ton, "dest_addr_npi": dst.npi, "destination_addr": dst.addr,
            "esm_class": part.esm_class, "priority_flag": priority, "validity_period": validity,
            "registered_delivery": registered, "data_coding": part.data_coding,
            "short_message": part.short_message, "tlvs": part.tlvs,
        }))  # fmt: skip
    return pdus


def _override(address: SmppAddress, table: Mapping[AddressKind, tuple[int, int]]) -> SmppAddress:
    pair = table.get(address.kind)
    return address if pair is None else attrs.evolve(address, ton=pair[0], npi=pair[1])


def _binary_part(hex_octets: str) -> Part:
    try:
        data = bytes.fromhex(hex_octets)
    except ValueError:
        raise SubmitError("hex: not an even number of hex digits") from None
    if not data or len(data) > _MAX_BINARY:
        raise SubmitError(f"hex: 1..{_MAX_BINARY} octets in one binary message, got {len(data)}")
    return Part(short_message=data, esm_class=0, data_coding=4, tlvs=(), part_number=1, total=1)
