"""Binds and bind states (SMPP 3.4 §2.2-§2.3, §4.1; checklist 13-23).

Each bind type succeeds with valid credentials and fails cleanly without them, a bind
on a bound session is ESME_RALYBND, the sc_interface_version TLV follows the ESME's
interface_version, and the PDU/state table of 3.4 §2.3 holds: nothing but binds (and
enquire_link) before a bind, no submission on a receiver bind, no delivery on a
transmitter bind, both directions on a transceiver bind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conformance.model import CaseFailed, Severity
from conformance.probe import Closed
from conformance.smsc.context import SmscContext
from conformance.smsc.factories import (
    MAY,
    MUST,
    SHOULD,
    Make,
    Raw,
    cancel,
    case,
    data_sm,
    field_bytes,
    is_receipt_for,
    query,
    replace,
    submit,
    submit_multi,
)
from conformance.smsc.runner import SmscCase
from conformance.smsc.steps import (
    ERROR,
    Accept,
    Bind,
    Call,
    ExpectDeliver,
    Request,
    Setup,
    nack,
    resp,
)
from conformance.wire import Frame, raw_pdu
from smppgw.core.constants import CommandId, CommandStatus, TlvTag
from smppgw.core.pdu import BindReceiver, BindTransmitter, EnquireLink, Pdu, _Bind
from smppgw.core.states import BindMode

__all__ = ["CASES"]

S = CommandStatus
REFUSED = (resp(S.ESME_RINVBNDSTS),)
REFUSED_LENIENT = (nack(S.ESME_RINVBNDSTS), resp(ERROR), nack(ERROR))


def _resp_fields(frame: Frame, ctx: SmscContext) -> str | None:
    system_id = frame.field("system_id")
    if not isinstance(system_id, str):
        return f"{frame.name} does not decode: {frame.error}"
    return None


def _has_system_id(frame: Frame, ctx: SmscContext) -> str | None:
    if not frame.field("system_id"):
        return f"{frame.name} carries an empty system_id; 3.4 §4.1.2 says it identifies the SMSC"
    return None


def _sc_interface_version(frame: Frame, ctx: SmscContext) -> str | None:
    assert frame.pdu is not None
    tlv = frame.pdu.get_tlv(TlvTag.SC_INTERFACE_VERSION)
    if tlv is None:
        return "bind_*_resp to a 3.4 bind carries no sc_interface_version TLV"
    if len(tlv.value) != 1 or tlv.value[0] < 0x34:
        return f"sc_interface_version is {tlv.value.hex()}, expected 0x34 or above"
    return None


def _no_tlvs(frame: Frame, ctx: SmscContext) -> str | None:
    assert frame.pdu is not None
    tlvs = getattr(frame.pdu, "tlvs", ())
    if tlvs:
        return f"bind_*_resp to a v3.3 bind carries TLVs {tlvs!r}; a 3.3 ESME cannot parse them"
    return None


def _bind_pdu(cls: type[_Bind], **override: str) -> Callable[[SmscContext], Pdu]:
    def build(ctx: SmscContext) -> Pdu:
        s = ctx.settings
        values: dict[str, Any] = {
            "system_id": s.system_id,
            "password": s.password,
            "system_type": s.system_type,
        }
        values.update(override)
        return cls(interface_version=s.interface_version, **values)

    build.__name__ = CommandId(cls.command_id).name.lower()
    build.command_id = cls.command_id  # type: ignore[attr-defined]
    return build


def _wrong_password(ctx: SmscContext) -> Pdu:
    s = ctx.settings
    wrong = "wr0ngpw" if s.password != "wr0ngpw" else "wr0ngpx"
    return BindTransmitter(system_id=s.system_id, password=wrong, system_type=s.system_type)


def _unknown_system_id(ctx: SmscContext) -> Pdu:
    s = ctx.settings
    return BindTransmitter(system_id="confnosuchuser", password=s.password, system_type=s.system_type)


def _raw_bind(label: str, **fields: bytes) -> Raw:
    def build(ctx: SmscContext, seq: int) -> bytes:
        pdu = _bind_pdu(BindTransmitter)(ctx)
        return raw_pdu(CommandId.BIND_TRANSMITTER, seq, field_bytes(pdu, **fields))

    return Raw(CommandId.BIND_TRANSMITTER, build, label)


_NOT_BOUND = Request(
    pdu=submit(),
    expect=REFUSED,
    lenient=REFUSED_LENIENT,
    close=Accept.ALWAYS,
    note="must not be bound",
)


async def _no_delivery_on_tx(ctx: SmscContext) -> None:
    """3.4 §2.3: deliver_sm, data_sm and alert_notification need a receiver bind."""
    probe = await ctx.probe()
    await probe.idle(ctx.settings.quiet)
    for frame in probe.inbox:
        if frame.command_id in (CommandId.DELIVER_SM, CommandId.DATA_SM, CommandId.ALERT_NOTIFICATION):
            raise CaseFailed(f"the SMSC sent {frame.describe()} on a transmitter bind")
    if probe.closed:
        raise CaseFailed(f"the connection closed: {probe.close_reason}")


async def _retry_bind(ctx: SmscContext) -> None:
    probe = await ctx.probe()
    try:
        seq = await probe.send_pdu(_wrong_password(ctx))
        first = await probe.wait_reply(seq, ctx.settings.timeout)
    except Closed:
        raise CaseFailed("the SMSC closed the connection after one failed bind") from None
    if first is None or first.status == 0:
        raise CaseFailed(
            f"the bind with a wrong password was not refused: {first.describe() if first else 'no answer'}"
        )
    await Bind(mode=BindMode.TX).run(ctx)


def _refused_on_rx(slug: str, what: str, make: Make | Callable[[SmscContext], Pdu]) -> SmscCase:
    return case(
        f"bind.rx-refuses-{slug}",
        f"{what} on a receiver bind is refused with ESME_RINVBNDSTS",
        "3.4 §2.3; §2.8; §5.1.3",
        MUST,
        Bind(mode=BindMode.RX),
        Request(pdu=make, expect=REFUSED, lenient=REFUSED_LENIENT),
        checklist=(20,),
    )


def _bind_case(mode: BindMode, section: str) -> SmscCase:
    return case(
        f"bind.{mode.value}",
        f"bind_{mode.value} with valid credentials gets bind_{mode.value}_resp ESME_ROK",
        f"3.4 {section}; §4.1",
        SHOULD,
        Bind(mode=mode, check=_resp_fields),
        Request(pdu=submit() if mode is not BindMode.RX else EnquireLink(), note="the bind is usable"),
        checklist=(13,),
        doc="3.4 §4.1 lets an SMSC leave out bind_transmitter and bind_receiver, or bind_transceiver: "
        "it 'should return a response message with an Invalid Command ID error', so supporting each "
        "bind type is a should. That a bind gets its response at all is a must (§2.8).",
    )


#: 3.4 words authentication as optional, so refusing bad credentials is a should.
_AUTH_OPTIONAL = (
    "3.4 §4.1.1: 'The password may be used by the SMSC to authenticate the ESME'; §5.2.2: 'The "
    "Service Provider may require ESME's to provide a password'. Refusing bad credentials is what "
    "every carrier does, but the 3.4 text makes authentication optional, hence should."
)


def _already_bound(id_: str, title: str, second: type[_Bind], severity: Severity) -> SmscCase:
    return case(
        id_,
        title,
        "3.4 §2.3; §2.8; §5.1.3",
        severity,
        Bind(mode=BindMode.TX),
        Request(
            pdu=_bind_pdu(second),
            expect=(resp(S.ESME_RALYBND),),
            lenient=(resp(ERROR), nack(S.ESME_RALYBND), nack(ERROR)),
        ),
        Request(pdu=submit(), note="the first bind is unchanged"),
        checklist=(16,),
    )


CASES = (
    _bind_case(BindMode.TX, "§4.1.1"),
    _bind_case(BindMode.RX, "§4.1.3"),
    _bind_case(BindMode.TRX, "§4.1.5"),
    case(
        "bind.resp-system-id",
        "bind_*_resp carries the SMSC's system_id",
        "3.4 §4.1.2",
        SHOULD,
        Bind(mode=BindMode.TX, check=_has_system_id),
        checklist=(13,),
    ),
    case(
        "bind.wrong-password",
        "A bind with a wrong password gets ESME_RINVPASWD or ESME_RBINDFAIL and never binds",
        "3.4 §4.1; §5.2.2; §5.1.3",
        SHOULD,
        Request(
            pdu=_wrong_password,
            expect=(resp((S.ESME_RINVPASWD, S.ESME_RBINDFAIL)),),
            lenient=(resp(ERROR), nack(ERROR)),
            close=Accept.LENIENT,
        ),
        _NOT_BOUND,
        checklist=(14,),
        doc=_AUTH_OPTIONAL,
    ),
    case(
        "bind.unknown-system-id",
        "A bind with an unknown system_id gets ESME_RINVSYSID or ESME_RBINDFAIL and never binds",
        "3.4 §4.1; §5.2.2; §5.1.3",
        SHOULD,
        Request(
            pdu=_unknown_system_id,
            expect=(resp((S.ESME_RINVSYSID, S.ESME_RBINDFAIL)),),
            lenient=(resp(ERROR), nack(ERROR)),
            close=Accept.LENIENT,
        ),
        _NOT_BOUND,
        checklist=(14,),
        doc=_AUTH_OPTIONAL,
    ),
    case(
        "bind.system-id-too-long",
        "A system_id with no NUL within 16 octets gets ESME_RINVSYSID",
        "3.4 §4.1.1; §2.8",
        MUST,
        Request(
            raw=_raw_bind("system_id of 20 characters", system_id=b"confsystemidtoolong1\x00"),
            expect=(resp(S.ESME_RINVSYSID),),
            lenient=(resp(ERROR), nack(ERROR)),
            close=Accept.LENIENT,
        ),
        _NOT_BOUND,
        checklist=(15,),
    ),
    case(
        "bind.password-too-long",
        "A password with no NUL within 9 octets gets ESME_RINVPASWD",
        "3.4 §4.1.1; §2.8",
        MUST,
        Request(
            raw=_raw_bind("password of 12 characters", password=b"passwordlong\x00"),
            expect=(resp(S.ESME_RINVPASWD),),
            lenient=(resp(ERROR), nack(ERROR)),
            close=Accept.LENIENT,
        ),
        _NOT_BOUND,
        checklist=(15,),
    ),
    _already_bound(
        "bind.already-bound",
        "A second bind_transmitter on a bound session gets ESME_RALYBND",
        BindTransmitter,
        MUST,
    ),
    _already_bound(
        "bind.already-bound-other-type",
        "A bind_receiver on a transmitter session gets ESME_RALYBND and the bind stays TX",
        BindReceiver,
        MUST,
    ),
    case(
        "bind.retry-after-failure",
        "After a failed bind the session is OPEN again: a correct bind on it succeeds",
        "3.4 §2.2; §4.1",
        SHOULD,
        Call(fn=_retry_bind, title="bind with a wrong password, then with the right one"),
        checklist=(14,),
    ),
    case(
        "bind.sc-interface-version",
        "bind_*_resp to a 3.4 bind carries sc_interface_version (0x34 or above)",
        "3.4 §3.4; §5.3.2.25",
        SHOULD,
        Bind(mode=BindMode.TRX, interface_version=0x34, check=_sc_interface_version),
        checklist=(17,),
    ),
    case(
        "bind.v33-gets-no-tlvs",
        "bind_*_resp to a v3.3 bind (interface_version 0x33) carries no TLVs",
        "3.4 §3.4; §5.2.4",
        MUST,
        Bind(mode=BindMode.TX, interface_version=0x33, check=_no_tlvs),
        Request(pdu=submit(), note="a 3.3 ESME can submit"),
        checklist=(17,),
    ),
    case(
        "bind.v50-bind",
        "A bind with interface_version 0x50 is accepted (answered as the SMSC's version)",
        "5.0 §4.1.1",
        MAY,
        Bind(mode=BindMode.TX, interface_version=0x50),
        Request(pdu=submit()),
        checklist=(13,),
    ),
    case(
        "bind.submit-before-bind",
        "submit_sm before any bind gets ESME_RINVBNDSTS",
        "3.4 §2.3; §2.8; 5.0 §2.4",
        MUST,
        Request(pdu=submit(), expect=REFUSED, lenient=REFUSED_LENIENT, close=Accept.LENIENT),
        checklist=(19,),
        doc="Carrier practice: the matching *_resp is right; generic_nack (cloudhopper) or "
        "closing the connection is tolerated in lenient mode.",
    ),
    _refused_on_rx("submit-sm", "submit_sm", submit()),
    _refused_on_rx("data-sm", "data_sm", data_sm()),
    _refused_on_rx("submit-multi", "submit_multi", submit_multi(None)),
    _refused_on_rx("query-sm", "query_sm", query(message_id="1")),
    _refused_on_rx("cancel-sm", "cancel_sm", cancel(message_id="1")),
    _refused_on_rx("replace-sm", "replace_sm", replace(message_id="1")),
    case(
        "bind.tx-gets-no-deliveries",
        "The SMSC never sends deliver_sm, data_sm or alert_notification on a transmitter bind",
        "3.4 §2.3",
        MUST,
        Bind(mode=BindMode.TX),
        Setup(Request(pdu=submit(registered_delivery=1), save="s1")),
        Call(fn=_no_delivery_on_tx, title="watch the TX session: no delivery may arrive"),
        checklist=(21,),
    ),
    case(
        "bind.trx-both-directions",
        "On a transceiver bind the SMSC accepts submit_sm and delivers the receipt on the same session",
        "3.4 §2.2; §4.1.5",
        MUST,
        Bind(mode=BindMode.TRX),
        Request(pdu=submit(registered_delivery=1), save="s1"),
        ExpectDeliver(where=is_receipt_for("s1"), what="the delivery receipt of s1"),
        checklist=(23,),
    ),
    case(
        "bind.receipt-to-receiver-bind",
        "A receipt for a message submitted on a TX bind arrives on an RX bind of the same system_id",
        "3.4 §2.2",
        SHOULD,
        Bind(mode=BindMode.RX, conn="rx"),
        Bind(mode=BindMode.TX, conn="tx"),
        Setup(Request(pdu=submit(registered_delivery=1), save="s1", conn="tx")),
        ExpectDeliver(where=is_receipt_for("s1"), conn="rx", what="the receipt of s1 on the RX bind"),
        checklist=(23,),
    ),
)
