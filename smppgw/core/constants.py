"""SMPP 3.4 wire constants (with the v5.0 additions seen on 3.4 sessions).

Every value that travels on the wire is an ``IntEnum`` or ``IntFlag`` here, so code reads
``CommandStatus.ESME_RTHROTTLED`` rather than ``0x58``. Decoded PDUs keep plain ``int``
values for the one-octet fields (an SMSC must be able to *receive* TON 7 to answer
ESME_RINVSRCTON), and these enums compare equal to those ints.

Modules on a per-message path bind the members they use to module constants
(``_QUEUED = Status.QUEUED``, or plain ints), because on Python 3.11 every
``Enum.MEMBER`` lookup goes through ``EnumType.__getattr__`` (~0.1 us); this sentence
is the one place that says why.
"""

from __future__ import annotations

import enum

__all__ = [
    "CommandId",
    "CommandStatus",
    "DataCoding",
    "EsmClass",
    "InterfaceVersion",
    "MessageState",
    "Npi",
    "PriorityFlag",
    "RegisteredDelivery",
    "StatusClass",
    "TlvTag",
    "Ton",
    "classify_status",
    "status_name",
]


class CommandId(enum.IntEnum):
    """command_id values (SMPP 3.4 §5.1.2; v5.0 §4.7.5 for the broadcast PDUs)."""

    GENERIC_NACK = 0x8000_0000
    BIND_RECEIVER = 0x0000_0001
    BIND_RECEIVER_RESP = 0x8000_0001
    BIND_TRANSMITTER = 0x0000_0002
    BIND_TRANSMITTER_RESP = 0x8000_0002
    QUERY_SM = 0x0000_0003
    QUERY_SM_RESP = 0x8000_0003
    SUBMIT_SM = 0x0000_0004
    SUBMIT_SM_RESP = 0x8000_0004
    DELIVER_SM = 0x0000_0005
    DELIVER_SM_RESP = 0x8000_0005
    UNBIND = 0x0000_0006
    UNBIND_RESP = 0x8000_0006
    REPLACE_SM = 0x0000_0007
    REPLACE_SM_RESP = 0x8000_0007
    CANCEL_SM = 0x0000_0008
    CANCEL_SM_RESP = 0x8000_0008
    BIND_TRANSCEIVER = 0x0000_0009
    BIND_TRANSCEIVER_RESP = 0x8000_0009
    OUTBIND = 0x0000_000B
    ENQUIRE_LINK = 0x0000_0015
    ENQUIRE_LINK_RESP = 0x8000_0015
    SUBMIT_MULTI = 0x0000_0021
    SUBMIT_MULTI_RESP = 0x8000_0021
    ALERT_NOTIFICATION = 0x0000_0102
    DATA_SM = 0x0000_0103
    DATA_SM_RESP = 0x8000_0103

    @property
    def is_response(self) -> bool:
        return bool(self & 0x8000_0000)


class StatusClass(enum.Enum):
    """How a sender should react to a failed response (SMPP-REFERENCE §2)."""

    OK = "ok"
    TRANSIENT = "transient"  # retry the same PDU later, with backoff
    PERMANENT = "permanent"  # fix the request or drop it
    SESSION = "session"  # the session or the code is wrong: rebind / fix
    CONTEXT = "context"  # carrier-dependent: configurable, default permanent


class CommandStatus(enum.IntEnum):
    """command_status values (SMPP 3.4 §5.1.3 Table 5-2; v5.0 §4.7.6 additions)."""

    ESME_ROK = 0x00
    ESME_RINVMSGLEN = 0x01
    ESME_RINVCMDLEN = 0x02
    ESME_RINVCMDID = 0x03
    ESME_RINVBNDSTS = 0x04
    ESME_RALYBND = 0x05
    ESME_RINVPRTFLG = 0x06
    ESME_RINVREGDLVFLG = 0x07
    ESME_RSYSERR = 0x08
    ESME_RINVSRCADR = 0x0A
    ESME_RINVDSTADR = 0x0B
    ESME_RINVMSGID = 0x0C
    ESME_RBINDFAIL = 0x0D
    ESME_RINVPASWD = 0x0E
    ESME_RINVSYSID = 0x0F
    ESME_RCANCELFAIL = 0x11
    ESME_RREPLACEFAIL = 0x13
    ESME_RMSGQFUL = 0x14
    ESME_RINVSERTYP = 0x15
    ESME_RINVNUMDESTS = 0x33
    ESME_RINVDLNAME = 0x34
    ESME_RINVDESTFLAG = 0x40
    ESME_RINVSUBREP = 0x42
    ESME_RINVESMCLASS = 0x43
    ESME_RCNTSUBDL = 0x44
    ESME_RSUBMITFAIL = 0x45
    ESME_RINVSRCTON = 0x48
    ESME_RINVSRCNPI = 0x49
    ESME_RINVDSTTON = 0x50
    ESME_RINVDSTNPI = 0x51
    ESME_RINVSYSTYP = 0x53
    ESME_RINVREPFLAG = 0x54
    ESME_RINVNUMMSGS = 0x55
    ESME_RTHROTTLED = 0x58
    ESME_RINVSCHED = 0x61
    ESME_RINVEXPIRY = 0x62
    ESME_RINVDFTMSGID = 0x63
    ESME_RX_T_APPN = 0x64
    ESME_RX_P_APPN = 0x65
    ESME_RX_R_APPN = 0x66
    ESME_RQUERYFAIL = 0x67
    ESME_RINVOPTPARSTREAM = 0xC0
    ESME_ROPTPARNOTALLWD = 0xC1
    ESME_RINVPARLEN = 0xC2
    ESME_RMISSINGOPTPARAM = 0xC3
    ESME_RINVOPTPARAMVAL = 0xC4
    ESME_RDELIVERYFAILURE = 0xFE
    ESME_RUNKNOWNERR = 0xFF
    # v5.0 §4.7.6: seen on 3.4 sessions from newer SMSCs.
    ESME_RSERTYPUNAUTH = 0x100
    ESME_RPROHIBITED = 0x101
    ESME_RSERTYPUNAVAIL = 0x102
    ESME_RSERTYPDENIED = 0x103
    ESME_RINVDCS = 0x104

    @property
    def status_class(self) -> StatusClass:
        return classify_status(self)

    @property
    def is_transient(self) -> bool:
        return classify_status(self) is StatusClass.TRANSIENT


_S = CommandStatus
# SMPP-REFERENCE §2: Kannel's "failed temporarily" set plus RSERTYPUNAVAIL (an outage).
_TRANSIENT = frozenset(
    {_S.ESME_RSYSERR, _S.ESME_RMSGQFUL, _S.ESME_RTHROTTLED, _S.ESME_RX_T_APPN, _S.ESME_RSERTYPUNAVAIL}
)
_SESSION = frozenset(
    {
        _S.ESME_RINVCMDLEN,
        _S.ESME_RINVCMDID,
        _S.ESME_RINVBNDSTS,
        _S.ESME_RALYBND,
        _S.ESME_RINVOPTPARSTREAM,
    }
)
_CONTEXT = frozenset({_S.ESME_RBINDFAIL, _S.ESME_RSUBMITFAIL, _S.ESME_RDELIVERYFAILURE, _S.ESME_RUNKNOWNERR})


def classify_status(status: int) -> StatusClass:
    """Default retry class of a command_status; vendor codes (0x400-0x4FF) are CONTEXT."""
    if status == 0:
        return StatusClass.OK
    if status in _TRANSIENT:
        return StatusClass.TRANSIENT
    if status in _SESSION:
        return StatusClass.SESSION
    if status in _CONTEXT or 0x400 <= status <= 0x4FF:
        return StatusClass.CONTEXT
    return StatusClass.PERMANENT


def status_name(status: int) -> str:
    """``ESME_RTHROTTLED`` for a known status, ``0x00000401`` for a vendor one."""
    try:
        return CommandStatus(status).name
    except ValueError:
        return f"0x{status:08X}"


class TlvTag(enum.IntEnum):
    """Optional parameter tags (SMPP 3.4 §5.3.2; congestion_state from v5.0 §4.8.4)."""

    DEST_ADDR_SUBUNIT = 0x0005
    DEST_NETWORK_TYPE = 0x0006
    DEST_BEARER_TYPE = 0x0007
    DEST_TELEMATICS_ID = 0x0008
    SOURCE_ADDR_SUBUNIT = 0x000D
    SOURCE_NETWORK_TYPE = 0x000E
    SOURCE_BEARER_TYPE = 0x000F
    SOURCE_TELEMATICS_ID = 0x0010
    QOS_TIME_TO_LIVE = 0x0017
    PAYLOAD_TYPE = 0x0019
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D
    RECEIPTED_MESSAGE_ID = 0x001E
    MS_MSG_WAIT_FACILITIES = 0x0030
    PRIVACY_INDICATOR = 0x0201
    SOURCE_SUBADDRESS = 0x0202
    DEST_SUBADDRESS = 0x0203
    USER_MESSAGE_REFERENCE = 0x0204
    USER_RESPONSE_CODE = 0x0205
    SOURCE_PORT = 0x020A
    DESTINATION_PORT = 0x020B
    SAR_MSG_REF_NUM = 0x020C
    LANGUAGE_INDICATOR = 0x020D
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    CALLBACK_NUM_PRES_IND = 0x0302
    CALLBACK_NUM_ATAG = 0x0303
    NUMBER_OF_MESSAGES = 0x0304
    CALLBACK_NUM = 0x0381
    DPF_RESULT = 0x0420
    SET_DPF = 0x0421
    MS_AVAILABILITY_STATUS = 0x0422
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    DELIVERY_FAILURE_REASON = 0x0425
    MORE_MESSAGES_TO_SEND = 0x0426
    MESSAGE_STATE = 0x0427
    CONGESTION_STATE = 0x0428
    USSD_SERVICE_OP = 0x0501
    DISPLAY_TIME = 0x1201
    SMS_SIGNAL = 0x1203
    MS_VALIDITY = 0x1204
    ALERT_ON_MESSAGE_DELIVERY = 0x130C
    ITS_REPLY_TYPE = 0x1380
    ITS_SESSION_INFO = 0x1383


class Ton(enum.IntEnum):
    """Type of Number (SMPP 3.4 §5.2.5)."""

    UNKNOWN = 0
    INTERNATIONAL = 1
    NATIONAL = 2
    NETWORK_SPECIFIC = 3
    SUBSCRIBER_NUMBER = 4
    ALPHANUMERIC = 5
    ABBREVIATED = 6


class Npi(enum.IntEnum):
    """Numbering Plan Indicator (SMPP 3.4 §5.2.6)."""

    UNKNOWN = 0
    ISDN = 1
    DATA = 3
    TELEX = 4
    LAND_MOBILE = 6
    NATIONAL = 8
    PRIVATE = 9
    ERMES = 10
    INTERNET = 14
    WAP_CLIENT_ID = 18


class DataCoding(enum.IntEnum):
    """data_coding values (SMPP 3.4 §5.2.19). 0xF0-0xFF etc. stay plain ints."""

    SMSC_DEFAULT = 0x00
    IA5 = 0x01
    OCTET_UNSPECIFIED_2 = 0x02
    LATIN_1 = 0x03
    OCTET_UNSPECIFIED = 0x04
    JIS = 0x05
    CYRILLIC = 0x06
    LATIN_HEBREW = 0x07
    UCS2 = 0x08
    PICTOGRAM = 0x09
    ISO_2022_JP = 0x0A
    EXTENDED_KANJI_JIS = 0x0D
    KS_C_5601 = 0x0E


class EsmClass(enum.IntFlag):
    """esm_class bits (SMPP 3.4 §5.2.12)."""

    DEFAULT = 0x00
    # bits 1-0: messaging mode (ESME -> SMSC)
    MODE_DATAGRAM = 0x01
    MODE_FORWARD = 0x02
    MODE_STORE_AND_FORWARD = 0x03
    # bits 5-2: message type
    SMSC_DELIVERY_RECEIPT = 0x04
    SME_DELIVERY_ACK = 0x08
    SME_MANUAL_ACK = 0x10
    CONVERSATION_ABORT = 0x18
    INTERMEDIATE_NOTIFICATION = 0x20
    # bits 7-6: GSM network specific features
    UDHI = 0x40
    REPLY_PATH = 0x80

    MODE_MASK = 0x03
    TYPE_MASK = 0x3C


class RegisteredDelivery(enum.IntFlag):
    """registered_delivery bits (SMPP 3.4 §5.2.17)."""

    NONE = 0x00
    RECEIPT_ALWAYS = 0x01  # final outcome, success or failure
    RECEIPT_ON_FAILURE = 0x02
    RECEIPT_ON_SUCCESS = 0x03  # v5.0 only; reserved in 3.4
    SME_DELIVERY_ACK = 0x04
    SME_MANUAL_ACK = 0x08
    INTERMEDIATE = 0x10

    RECEIPT_MASK = 0x03


class MessageState(enum.IntEnum):
    """message_state (SMPP 3.4 §5.2.28), with its receipt ``stat:`` text."""

    SCHEDULED = 0  # v5.0
    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8
    SKIPPED = 9  # v5.0

    @property
    def stat(self) -> str:
        return _STAT_TEXT[self]

    @property
    def is_final(self) -> bool:
        """Final per the spec; ACCEPTD is treated as interim by policy, not here."""
        return self not in (MessageState.SCHEDULED, MessageState.ENROUTE)

    @classmethod
    def from_stat(cls, text: str) -> MessageState | None:
        return _STATE_BY_TEXT.get(text.strip().upper())


_STAT_TEXT = {
    MessageState.SCHEDULED: "SCHEDUL",
    MessageState.ENROUTE: "ENROUTE",
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
    MessageState.SKIPPED: "SKIPPED",
}
_STATE_BY_TEXT = {text: state for state, text in _STAT_TEXT.items()} | {
    # Spellings seen in the field (SMPP-REFERENCE §6.3 items 4 and 12).
    "DELIVERED": MessageState.DELIVERED,
    "UNDELIVERABLE": MessageState.UNDELIVERABLE,
    "REJECTED": MessageState.REJECTED,
    "ACCEPTED": MessageState.ACCEPTED,
    "BUFFRED": MessageState.ENROUTE,
    "BUFFERD": MessageState.ENROUTE,
    "BUFFERED": MessageState.ENROUTE,
    "ACKED": MessageState.ENROUTE,
    "FAILED": MessageState.UNDELIVERABLE,
}


class InterfaceVersion(enum.IntEnum):
    V33 = 0x33
    V34 = 0x34
    V50 = 0x50


class PriorityFlag(enum.IntEnum):
    LOWEST = 0
    NORMAL = 1
    HIGH = 2
    HIGHEST = 3
