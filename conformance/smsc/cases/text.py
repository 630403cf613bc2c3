"""Text encodings and concatenation (SMPP 3.4 §5.2.19, §5.2.12; GSM 03.38 / 3GPP TS 23.038,
23.040; checklist 37, 71-75).

The SMSC accepts one full SMS in each alphabet (160 unpacked GSM 7-bit septets, 140
octets of 8-bit data, 70 UCS-2 characters), refuses more than that in short_message,
accepts each part of a UDH-concatenated message, and refuses a UCS-2 text of odd length
or a UDH whose length octet runs past the data.
"""

from __future__ import annotations

from typing import Final

from conformance.model import Severity
from conformance.smsc.factories import MAY, MUST, SHOULD, Make, case, submit
from conformance.smsc.runner import SmscCase
from conformance.smsc.steps import ERROR, Bind, Request, Step, nack, resp
from smppgw.core.constants import CommandStatus, DataCoding, EsmClass
from smppgw.core.states import BindMode
from smppgw.core.text import ConcatMethod, Encoding, gsm7_encode, split_message

__all__ = ["CASES"]

S = CommandStatus
GSM7: Final = DataCoding.SMSC_DEFAULT
UCS2: Final = DataCoding.UCS2
LONG_GSM: Final = ("SMPP conformance: a long GSM 7-bit message in three concatenated parts. " * 6)[:400]
LONG_UCS2: Final = ("Привет, это длинное сообщение для проверки конкатенации. " * 3)[:120]


def _accepted(
    id_: str,
    title: str,
    spec: str,
    severity: Severity,
    *makes: Make,
    checklist: tuple[int, ...] = (),
    doc: str = "",
) -> SmscCase:
    steps: tuple[Step, ...] = (Bind(mode=BindMode.TX), *(Request(pdu=m) for m in makes))
    return case(id_, title, spec, severity, *steps, checklist=checklist, doc=doc)


def _refused(
    id_: str,
    title: str,
    spec: str,
    statuses: tuple[int, ...],
    make: Make,
    checklist: tuple[int, ...] = (),
    *,
    severity: Severity = SHOULD,
    doc: str = "",
) -> SmscCase:
    return case(
        id_,
        title,
        spec,
        severity,
        Bind(mode=BindMode.TX),
        Request(pdu=make, expect=(resp(statuses),), lenient=(resp(ERROR), nack(ERROR))),
        checklist=checklist,
        doc=doc,
    )


#: 3.4 §6.2 leaves an over-long message to the SMSC's configuration.
_MAY_REFUSE = (
    "3.4 §6.2: 'The SMSC, depending on configuration, may reject or truncate messages that exceed "
    "the network allowed maximum', so refusing is only a may (truncating is allowed too)."
)


def _parts(text: str, encoding: Encoding, method: ConcatMethod, reference: int) -> tuple[Make, ...]:
    return tuple(
        submit(short_message=p.short_message, esm_class=p.esm_class, data_coding=p.data_coding, tlvs=p.tlvs)
        for p in split_message(text, encoding=encoding, method=method, reference=reference)
    )


CASES = (
    _accepted(
        "text.gsm7-160",
        "160 GSM 7-bit characters (unpacked, data_coding 0) in one submit_sm are accepted",
        "3.4 §5.2.19; 3GPP TS 23.038",
        MUST,
        submit(short_message=gsm7_encode(("0123456789" * 16)[:160]), data_coding=GSM7),
        checklist=(72,),
    ),
    _refused(
        "text.gsm7-161-refused",
        "161 GSM 7-bit characters in short_message get ESME_RINVMSGLEN",
        "3.4 §6.2; §5.2.21",
        (S.ESME_RINVMSGLEN,),
        submit(short_message=gsm7_encode("a" * 161), data_coding=GSM7),
        checklist=(37,),
        severity=MAY,
        doc=_MAY_REFUSE,
    ),
    _accepted(
        "text.gsm7-extension-table",
        "GSM 7-bit text with extension characters (€ [ ] { } ~ ^ \\ |, ESC pairs) is accepted",
        "3GPP TS 23.038 §6.2.1.1",
        MUST,
        submit(short_message=gsm7_encode("Price: 5€ [a] {b} ~c^ \\d |e"), data_coding=GSM7),
        checklist=(72,),
    ),
    _accepted(
        "text.ucs2-70",
        "70 UCS-2 characters (140 octets, data_coding 8) are accepted",
        "3.4 §5.2.19",
        MUST,
        submit(short_message=("Привет мир! " * 6)[:70].encode("utf-16-be"), data_coding=UCS2),
        checklist=(72,),
    ),
    _refused(
        "text.ucs2-odd-length",
        "UCS-2 (data_coding 8) text of odd length gets ESME_RINVMSGLEN (or ESME_RINVDCS)",
        "5.0 §4.7.7; 3.4 §5.2.19",
        (S.ESME_RINVMSGLEN, S.ESME_RINVDCS),
        submit(short_message="Hello".encode("utf-16-be") + b"\x00", data_coding=UCS2),
        checklist=(75,),
    ),
    _accepted(
        "text.octet-140",
        "140 octets of 8-bit data (data_coding 4) are accepted",
        "3.4 §5.2.19",
        SHOULD,
        submit(short_message=bytes(range(140)), data_coding=DataCoding.OCTET_UNSPECIFIED),
        checklist=(37,),
    ),
    _refused(
        "text.octet-141-refused",
        "141 octets of 8-bit data in short_message get ESME_RINVMSGLEN",
        "3.4 §6.2; §5.2.21",
        (S.ESME_RINVMSGLEN,),
        submit(short_message=bytes(141), data_coding=DataCoding.OCTET_UNSPECIFIED),
        checklist=(37,),
        severity=MAY,
        doc=_MAY_REFUSE,
    ),
    _accepted(
        "text.latin1",
        "Latin-1 text (data_coding 3) is accepted",
        "3.4 §5.2.19",
        SHOULD,
        submit(short_message="Café crème, naïve façade".encode("latin-1"), data_coding=DataCoding.LATIN_1),
    ),
    _accepted(
        "text.udh8-concatenated",
        "The three parts of a GSM 7-bit message with an 8-bit-reference UDH (esm_class 0x40) are accepted",
        "3.4 §5.2.12; 3GPP TS 23.040 §9.2.3.24.1",
        MUST,
        *_parts(LONG_GSM, Encoding.GSM7, ConcatMethod.UDH8, 0x5A),
        checklist=(71, 74),
    ),
    _accepted(
        "text.udh16-concatenated",
        "The parts of a message with a 16-bit-reference UDH (IEI 0x08) are accepted",
        "3GPP TS 23.040 §9.2.3.24.8",
        SHOULD,
        *_parts(LONG_GSM, Encoding.GSM7, ConcatMethod.UDH16, 0x5A5B),
        checklist=(74,),
    ),
    _accepted(
        "text.ucs2-concatenated",
        "The parts of a UCS-2 message with a UDH (67 characters each) are accepted",
        "3.4 §5.2.12; 3GPP TS 23.040",
        MUST,
        *_parts(LONG_UCS2, Encoding.UCS2, ConcatMethod.UDH8, 0x5C),
        checklist=(73, 74),
    ),
    _refused(
        "text.udh-length-past-data",
        "esm_class 0x40 with a UDH length octet (0x30) running past the data gets ESME_RINVMSGLEN",
        "3.4 §5.2.12; 3GPP TS 23.040 §9.2.3.24",
        (S.ESME_RINVMSGLEN, S.ESME_RINVESMCLASS),
        submit(short_message=b"\x30\x00\x03\x01\x02\x01hello", esm_class=EsmClass.UDHI),
        checklist=(71,),
    ),
    _refused(
        "text.reserved-data-coding",
        "data_coding 0x0B (reserved) gets ESME_RINVDCS or ESME_RSUBMITFAIL",
        "3.4 §5.2.19; §3.3; 5.0 §4.7.7",
        (S.ESME_RINVDCS, S.ESME_RSUBMITFAIL),
        submit(data_coding=0x0B),
        checklist=(75,),
        severity=MAY,
        doc="3.4 §3.3: a reserved value 'should use the default value if a default setting is defined, "
        "otherwise the parameter should be ignored' (§5.2.19: data_coding has no default). Refusing "
        "is what 5.0 and many SMSCs do, but by the 3.4 text it is only a may.",
    ),
    _accepted(
        "text.flash-class-0",
        "A flash message (data_coding 0xF0, GSM 7-bit class 0) is accepted",
        "3.4 §5.2.19; 3GPP TS 23.038 §4",
        MAY,
        submit(data_coding=0xF0),
    ),
    _accepted(
        "text.empty-message",
        "An empty message (sm_length 0, no message_payload) is accepted",
        "3.4 §4.4.1",
        MAY,
        submit(short_message=b""),
        doc="3.4 allows sm_length 0 without message_payload (sm_default_msg_id may supply the text).",
    ),
)
