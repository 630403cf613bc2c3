"""Values from the network, made safe to put in a log line.

A receipt id, a message id from an SMSC, an address, a system_id, an HTTP path or a
header value is whatever the peer sent. Logged raw, an embedded newline forges a log line
and an escape sequence rewrites the operator's terminal. ``safe`` turns any value into
one printable token:

- control characters, newlines, DEL, the C1 range and other unprintable code points
  (bidi overrides, line and paragraph separators) are escaped as Python writes them
  (``\\n``, ``\\x1b``, ``\\u202e``); a backslash and a double quote are escaped too, so
  the result reads back unambiguously;
- longer than ``limit`` characters: cut, with the original length said (``…[300 chars]``);
- empty, or with a space or ``=``: in double quotes, so ``key=value`` stays parseable
  (logfmt's rule).

``kv(key=value, ...)`` is the ``key=value`` part of a log line, each value through
``safe``, formatted only when the record is (a disabled DEBUG call costs no escaping). The
JSON log format (``support.logformat``) takes its fields as fields of its own::

    log.warning("unmatched receipt %s", kv(smsc=smsc, receipt_id=rid, stat=stat))
    # ... WARNING smppgw.gateway.receipts: unmatched receipt smsc=a receipt_id="ab\\ncd" stat=DELIVRD
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["DEFAULT_LIMIT", "TEXT_LIMIT", "Fields", "kv", "printable", "safe"]

#: Characters kept of a value: ids and addresses are far shorter (SMPP: 65 at most); an
#: error's words (a TLS failure's reason) fit.
DEFAULT_LIMIT: Final = 200
#: Characters of a message's text logged (only ever at DEBUG: STYLE, logging).
TEXT_LIMIT: Final = 40
_NAMED: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\", '"': '\\"'}


def _escape(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    if char.isprintable():
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with only its unprintable characters escaped (quotes and backslashes kept):
    a whole message made one line, whoever wrote it."""
    if text.isprintable():
        return text
    return "".join([c if c.isprintable() else _escape(c) for c in text])


def safe(value: object, limit: int = DEFAULT_LIMIT) -> str:
    """``value`` as one printable token of at most about ``limit`` characters (before
    escaping); see the module docstring. Bytes are read as Latin-1 (one character a byte)."""
    if isinstance(value, bytes | bytearray | memoryview):
        text = bytes(value).decode("latin-1")
    elif isinstance(value, str):
        text = value
    else:
        text = str(value)
    cut = ""
    if len(text) > limit:
        cut = f"…[{len(text)} chars]"
        text = text[:limit]
    if not text.isprintable() or "\\" in text or '"' in text:
        text = "".join([_escape(c) for c in text])
    if not text or " " in text or "=" in text:
        return f'"{text}"{cut}'
    return text + cut


class Fields:
    """``key=value`` pairs for a log line; formatted (each value through ``safe``) only
    when the record is. ``values``: the raw values, for the JSON format's fields."""

    __slots__ = ("limit", "values")

    def __init__(self, values: Mapping[str, object], limit: int = DEFAULT_LIMIT) -> None:
        self.values = values
        self.limit = limit

    def __str__(self) -> str:
        return " ".join([f"{key}={safe(value, self.limit)}" for key, value in self.values.items()])

    def __repr__(self) -> str:
        return f"Fields({self})"


def kv(**fields: object) -> Fields:
    """The ``key=value`` part of a log line: ``kv(smsc="a", receipt_id=rid)``."""
    return Fields(fields)
