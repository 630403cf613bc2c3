"""Checks for configuration read from TOML (gateway, ``smppgw serve``, simulator, load-test
scenarios): one style of validation and of error message for every tool.

Each check takes the raw value and ``where``, the dotted path of its key as the user wrote
it (``smsc[1].window``), and returns the value typed, or raises ``ConfigError`` whose
message starts with that path: ``smsc[1].window: an integer in 1..10000, got 0``. A
message is always one line, so a command line can print it as its whole error report.

The words are fixed here so the tools agree: a wrong type is ``expected <what>, got <v>``;
a number out of range is ``an integer in 1..64`` or ``must be a number > 0``; an unknown
key is ``<path>: unknown key`` with the known keys (or the closest one) in parentheses; a
key that must be there is ``<path>: missing``.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

__all__ = [
    "ConfigError",
    "array",
    "boolean",
    "choice",
    "each",
    "host_port",
    "integer",
    "key_path",
    "number",
    "positive",
    "read_toml",
    "require",
    "string",
    "table",
    "unknown_keys",
]

_T = TypeVar("_T")
_LIST_KNOWN_UP_TO = 12  # more known keys than this: suggest the closest instead of listing


class ConfigError(ValueError):
    """Bad configuration; the message is one line and starts with the key's path."""


# Byte-order marks of the encodings an editor may save a file in (UTF-32 first: its
# little-endian mark starts with UTF-16's).
_BOMS: Final = (
    (b"\xff\xfe\x00\x00", "UTF-32, little-endian"),
    (b"\x00\x00\xfe\xff", "UTF-32, big-endian"),
    (b"\xff\xfe", "UTF-16, little-endian"),
    (b"\xfe\xff", "UTF-16, big-endian"),
)
_UTF8_BOM: Final = b"\xef\xbb\xbf"


def _decode(data: bytes) -> str:
    """The text of a config file's bytes; raises ConfigError (without the file's name)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            marks = " ".join(f"{b:#04x}" for b in bom)
            raise ConfigError(f"not UTF-8 text but {encoding} (it starts with {marks}); save it as UTF-8")
    if data.startswith(_UTF8_BOM):  # UTF-8 all the same (Notepad's "UTF-8 with BOM"): accepted
        data = data[len(_UTF8_BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (byte {exc.start} is {data[exc.start]:#04x}); save it as UTF-8"
        ) from None
    if "\x00" in text:  # valid UTF-8, but TOML never has NUL: UTF-16/32 without a mark
        raise ConfigError(
            f"not UTF-8 text (byte {data.index(0)} is 0x00: UTF-16 or UTF-32 without a "
            "byte-order mark?); save it as UTF-8"
        )
    return text


def read_toml(path: str | Path, label: str = "config") -> dict[str, Any]:
    """The parsed TOML file at ``path``.

    Raises:
        ConfigError: ``<label> <path>: <why>`` for a missing or unreadable file, a file
            that is not UTF-8 (TOML v1.0.0: "A TOML file must be a valid UTF-8 encoded
            Unicode document"; UTF-16 and UTF-32 are named as such) and bad TOML. A UTF-8
            byte-order mark is skipped.
    """
    where = f"{label} {path}"
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: {exc.strerror or exc}") from None
    try:
        text = _decode(data)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: {' '.join(str(exc).split())}") from None


# -- tables and keys -------------------------------------------------------------------------


def key_path(where: str, key: object) -> str:
    """``where.key``; just ``key`` at the top level (``where`` empty)."""
    return f"{where}.{key}" if where else str(key)


def table(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise ConfigError(f"{where}: expected a table, got {v!r}")
    return v


def unknown_keys(t: Mapping[str, Any], known: Collection[str], where: str) -> None:
    """Raises ConfigError naming the first key of ``t`` (in sorted order) not in ``known``."""
    extra = sorted(set(t) - set(known), key=str)
    if not extra:
        return
    key = str(extra[0])
    if len(known) <= _LIST_KNOWN_UP_TO:
        hint = f" (known: {', '.join(sorted(known))})"
    else:
        close = difflib.get_close_matches(key, list(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
    raise ConfigError(f"{key_path(where, key)}: unknown key{hint}")


def require(t: Mapping[str, Any], keys: Iterable[str], where: str) -> None:
    """Raises ConfigError ``<where>.<key>: missing`` for the first of ``keys`` not in ``t``."""
    for key in keys:
        if key not in t:
            raise ConfigError(f"{key_path(where, key)}: missing")


def array(v: Any, where: str) -> list[Any]:
    if not isinstance(v, list):
        raise ConfigError(f"{where}: expected a list, got {v!r}")
    return v


def each(v: Any, where: str, check: Callable[[Any, str], _T]) -> list[_T]:
    """``check`` applied to every item of the list ``v``, each named ``where[i]``."""
    return [check(item, f"{where}[{i}]") for i, item in enumerate(array(v, where))]


# -- scalars ---------------------------------------------------------------------------------


def string(
    v: Any,
    where: str,
    *,
    max_len: int | None = None,
    min_len: int = 0,
    choices: Collection[str] | None = None,
) -> str:
    if not isinstance(v, str):
        raise ConfigError(f"{where}: expected a string, got {v!r}")
    if choices is not None and v not in choices:
        raise ConfigError(f"{where}: one of {', '.join(choices)}, got {v!r}")
    if len(v) < min_len or (max_len is not None and len(v) > max_len):
        if max_len is None:
            size = f"at least {min_len}"
        else:
            size = f"{min_len}..{max_len}" if min_len else f"at most {max_len}"
        raise ConfigError(f"{where}: {size} characters, got {len(v)}")
    return v


def choice(v: Any, where: str, choices: Collection[str]) -> str:
    """One of ``choices`` (e.g. an enum's values)."""
    return string(v, where, choices=choices)


def boolean(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(f"{where}: expected true or false, got {v!r}")
    return v


def integer(v: Any, where: str, lo: int | None = None, hi: int | None = None) -> int:
    """An integer (not a bool) within ``lo..hi``, both inclusive and optional."""
    if lo is not None and hi is not None:
        bounds = f" in {lo}..{hi}"
    else:
        bounds = f" >= {lo}" if lo is not None else f" <= {hi}" if hi is not None else ""
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(f"{where}: expected an integer{bounds}, got {v!r}")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ConfigError(f"{where}: an integer{bounds}, got {v!r}")
    return v


def number(
    v: Any,
    where: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
) -> float:
    """A finite int or float (not a bool) within the bounds given, as a float."""
    if ge is not None and le is not None:
        bounds = f" in {ge:g}..{le:g}"
    else:
        parts = [f"{op} {b:g}" for op, b in ((">", gt), (">=", ge), ("<", lt), ("<=", le)) if b is not None]
        bounds = " " + " and ".join(parts) if parts else ""
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ConfigError(f"{where}: expected a number{bounds}, got {v!r}")
    if (
        (gt is not None and not v > gt)
        or (ge is not None and not v >= ge)
        or (lt is not None and not v < lt)
        or (le is not None and not v <= le)
    ):
        raise ConfigError(f"{where}: must be a number{bounds}, got {v!r}")
    return float(v)


def positive(v: Any, where: str) -> float:
    """A number > 0: rates, timeouts, intervals."""
    return number(v, where, gt=0)


def host_port(v: Any, where: str, *, allow_zero: bool = True) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too; the host is returned as written) -> (host, port).
    Port 0 (any free port) only with ``allow_zero``."""
    text = string(v, where)
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"{where}: expected HOST:PORT, got {text!r}")
    lo = 0 if allow_zero else 1
    if not lo <= int(port) <= 65535:
        raise ConfigError(f"{where}: a port in {lo}..65535, got {text!r}")
    return host, int(port)
