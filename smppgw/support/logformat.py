"""How the four commands write their logs: ``--log-format text`` (the default) or ``json``.

``text``: ``<time> <LEVEL> <logger>: <message>``, the message's ``key=value`` fields
(``support.logsafe.kv``) at its end. Whatever a library logs, a character that is not
printable is escaped in the message (``\\n``, ``\\x1b``): one record is one line, a
traceback excepted.

``json``: one JSON object per line (ASCII only, so no reader splits it at U+2028)::

    {"time": "2026-12-06T14:03:22.123Z", "level": "WARNING", "logger": "smppgw.gateway.receipts",
     "message": "unmatched receipt", "smsc": "a", "receipt_id": "ab\\ncd", "stat": "DELIVRD"}

The ``kv`` fields of the message and the record's ``extra=`` attributes become fields of
the object (strings cut to the same limit as in text; the message keeps only its words);
``exc`` holds a traceback. ``time``, ``level``, ``logger`` and ``message`` are never
overwritten by a field.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

import click

from smppgw.support.logsafe import DEFAULT_LIMIT, Fields, printable, safe

__all__ = [
    "FORMATS",
    "TEXT_FORMAT",
    "JsonFormatter",
    "TextFormatter",
    "configure_logging",
    "log_format_option",
]

FORMATS: Final = ("text", "json")
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD: Final = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_CORE: Final = ("time", "level", "logger", "message")
_F = TypeVar("_F", bound=Callable[..., Any])


class TextFormatter(logging.Formatter):
    """``TEXT_FORMAT`` (or ``fmt``), with unprintable characters of the message escaped."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message)
        return super().formatMessage(record)


def _value(value: object) -> object:
    """A field's value as JSON: numbers, booleans and None as they are, text cut."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= DEFAULT_LIMIT else value[:DEFAULT_LIMIT] + f"…[{len(value)} chars]"
    if isinstance(value, bytes | bytearray | memoryview):
        return safe(value)
    return _value(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per record; see the module docstring."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, object] = {}
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, Fields) for a in args):
            for arg in args:
                if isinstance(arg, Fields):
                    fields.update(arg.values)
            message = (str(record.msg) % tuple("" if isinstance(a, Fields) else a for a in args)).rstrip()
        else:
            message = record.getMessage()
        seconds = int(record.created)
        out: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
            + f".{int((record.created - seconds) * 1000):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD:
                fields.setdefault(key, value)
        for key, value in fields.items():
            if key not in _CORE:
                out[key] = _value(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=True, default=str)


def configure_logging(
    level: int | None = None, log_format: str = "text", *, text_format: str = TEXT_FORMAT
) -> None:
    """One handler on the root logger (stderr) in ``log_format``; ``level`` None keeps the
    root's level (a subcommand choosing the format after its group chose the level)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter(text_format))
    root = logging.getLogger()
    logging.basicConfig(level=root.level if level is None else level, handlers=[handler], force=True)


def log_format_option(func: _F) -> _F:
    """The ``--log-format text|json`` option (parameter ``log_format``)."""
    return click.option(
        "--log-format",
        type=click.Choice(FORMATS),
        default="text",
        show_default=True,
        help="Log lines as text, or one JSON object per line.",
    )(func)
