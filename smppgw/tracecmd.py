"""``smppgw trace show FILE``: a PDU trace (``--trace FILE``, ``smppgw.net.trace``) as a
readable timeline, one line per PDU::

    16:40:01.123456  c1 smppclient1  ->  submit_sm          seq=2  ESME_ROK  destination_addr=447700900001 ...

The time of day (UTC; a ``== DATE ==`` line whenever the date changes), the connection
(its id, and its system_id once bound), an arrow (``->`` sent, ``<-`` received), the
command, its sequence_number and command_status, then the fields that say most about
it. ``--conn`` keeps the PDUs of one connection (its id, system_id or an address),
``--grep`` the lines that contain a text. A line of the file that is not a trace
record is reported with its number and skipped.

``trace_options`` (``--trace FILE``, ``--trace-hex``) and ``open_trace`` are the options
of every tool that traces (``smppgw send``/``serve``, ``smppsim``, ``smpp-loadtest``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

import click

from smppgw.net.trace import PduTracer
from smppgw.support.cli import UsageError
from smppgw.support.logsafe import printable

__all__ = ["format_record", "open_trace", "timeline", "trace", "trace_options"]

# The fields shown, in this order, when present and not empty (or zero, for the flags).
_SHOWN: Final = (
    "system_id",
    "password",
    "message_id",
    "source_addr",
    "destination_addr",
    "esm_class",
    "registered_delivery",
    "data_coding",
    "udh",
    "short_message",
    "short_message_hex",
    "sm_length",
)
_ZERO_HIDDEN: Final = frozenset({"esm_class", "registered_delivery", "data_coding"})
_TEXT_SHOWN: Final = 60  # characters of a short_message on a timeline line


def trace_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--trace FILE`` and ``--trace-hex`` options (keywords ``trace``, ``trace_hex``)."""
    command = click.option(
        "--trace-hex",
        is_flag=True,
        default=False,
        help="With --trace: add each PDU's octets in hex (unmasked: they carry the password).",
    )(command)
    return click.option(
        "--trace",
        metavar="FILE",
        help="Write every PDU sent and received to FILE, one JSON line each (passwords masked); "
        "read it with `smppgw trace show FILE`.",
    )(command)


def open_trace(path: str | None, *, hex: bool = False, sample: int = 1) -> PduTracer | None:
    """The tracer of ``--trace FILE`` (None without one).

    Raises:
        UsageError: the file cannot be opened (exit 2, before anything starts).
    """
    if path is None:
        if hex:
            raise UsageError("--trace-hex needs --trace FILE")
        return None
    try:
        return PduTracer.open(path, hex=hex, sample=sample)
    except OSError as exc:
        raise UsageError(f"--trace: cannot open {path}: {exc.strerror or exc}") from None


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) > _TEXT_SHOWN:
        text = text[:_TEXT_SHOWN] + "…"
    text = printable(text)
    return json.dumps(text, ensure_ascii=False) if (" " in text or not text) else text


def _fields(fields: dict[str, Any]) -> list[str]:
    shown = []
    for key in _SHOWN:
        value = fields.get(key)
        if value is None or value == "" or (key in _ZERO_HIDDEN and value == 0):
            continue
        shown.append(f"{key}={_value(value)}")
    for tlv in fields.get("tlvs", ()):
        value = tlv.get("value", tlv.get("value_hex"))
        shown.append(f"{tlv.get('tag')}={_value(value)}")
    return shown


def _conn_label(conn: dict[str, Any]) -> str:
    label = f"c{conn.get('id', '?')}"
    system_id = conn.get("system_id")
    return f"{label} {system_id}" if system_id else label


def format_record(record: dict[str, Any]) -> str:
    """One trace record as one timeline line (without the date)."""
    when = str(record.get("time", ""))
    clock = when.partition("T")[2].rstrip("Z") or when
    arrow = "->" if record.get("dir") == "tx" else "<-"
    parts = [
        f"{clock:<15}",
        f"{_conn_label(record.get('conn') or {}):<16}",
        arrow,
        f"{record.get('command', '?'):<21}",
    ]
    if "sequence_number" in record:
        parts.append(f"seq={record['sequence_number']}")
    if "command_status" in record:
        parts.append(str(record["command_status"]))
    parts += _fields(record.get("fields") or {})
    if "error" in record:
        parts.append(f"error={_value(record['error'])}")
    return " ".join(parts)


def _matches_conn(record: dict[str, Any], conn: str) -> bool:
    c = record.get("conn") or {}
    return conn in (str(c.get("id")), c.get("system_id"), c.get("local"), c.get("peer"))


def timeline(
    lines: Iterable[str], *, conn: str | None = None, grep: str | None = None
) -> Iterator[tuple[bool, str]]:
    """(ok, text) per output line: the timeline of a trace's ``lines``; ok False for a
    line of the file that is not a trace record (its number and why)."""
    date = None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            yield False, f"line {number}: not a trace record ({exc})"
            continue
        if conn is not None and not _matches_conn(record, conn):
            continue
        text = format_record(record)
        if grep is not None and grep not in text:
            continue
        day = str(record.get("time", "")).partition("T")[0]
        if day != date:
            date = day
            yield True, f"== {day} (UTC) =="
        yield True, text


@click.group()
def trace() -> None:
    """Read PDU traces written with --trace FILE."""


@trace.command()
@click.argument("file", type=click.File("r", encoding="utf-8", errors="replace"))
@click.option("--conn", metavar="ID", help="Only this connection: its id (1 or c1), system_id or an address.")
@click.option("--grep", metavar="TEXT", help="Only the lines that contain TEXT.")
def show(file: Any, conn: str | None, grep: str | None) -> None:
    """Print the trace FILE ('-': stdin) as a timeline, one line per PDU."""
    if conn is not None and conn.startswith("c") and conn[1:].isdigit():
        conn = conn[1:]
    for ok, text in timeline(file, conn=conn, grep=grep):
        click.echo(text, err=not ok)
