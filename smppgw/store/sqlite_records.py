"""The SQLite store's records to rows and back: a message's row (its body and state JSON,
the history with it), a change's row, and the record a row reads back as. Used by the
SQLite store and, for the same JSON, by the Redis store.

Kept apart from ``smppgw.store.sqlite_rows`` (the schema and the SQL) so each stays
small. Times: a row holds wall-clock seconds, a record the trio clock; ``offset`` is the
store's ``clock_offset`` (wall - monotonic).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import attrs
import orjson

from smppgw.store.base import (
    STATUS_LABEL,
    HistoryEntry,
    MessageRecord,
    PartRecord,
    Status,
    owes_work,
)

__all__ = [
    "clock_history",
    "message_record",
    "message_row",
    "part_json",
    "part_record",
    "state_row",
    "state_row_open",
    "wall_history",
]

_PART_TIMES = ("submitted_at", "receipt_at")
_VALUE = STATUS_LABEL


# The record's fields, read by generated code, one attribute read each (``attrs.asdict``
# walks every field through Python calls: about four times the cost). The body holds what
# ``new_record`` fixed at acceptance; the columns are queried; the state is everything
# else (a field added to ``MessageRecord`` lands there: rewritten at each change, so
# never stale), and the history with it (``_state``).
_BODY_FIELDS = ("text", "encoding", "dlr", "validity", "priority", "tags", "callback_url")
_COLUMN_FIELDS = (
    "id", "idempotency_key", "status", "created_at", "updated_at", "source", "destination", "tenant"
)  # fmt: skip
_STATE_FIELDS = tuple(
    f.name
    for f in attrs.fields(MessageRecord)
    if f.name not in (*_BODY_FIELDS, *_COLUMN_FIELDS, "parts", "history", "history_saved")
)
_PART_FIELDS = tuple(f.name for f in attrs.fields(PartRecord))


# A field whose value is None is left out of the state: the row is rewritten at each
# change, and the nulls were a third of it. Every field that may be None has the default
# None (tests/store/test_sqlite.py checks), so a missing key reads back as it was; SQLite's
# JSON functions give NULL for it, as for a null. Older rows, with their nulls, read the same.


def part_json(part: PartRecord, offset: float) -> str:
    """One part as the state JSON has it (``part_record`` reads it back)."""
    return orjson.dumps(_part_state(part, offset)).decode()


def part_record(text: str | bytes, offset: float) -> PartRecord:
    """The part of ``part_json``, times on this process's clock."""
    p = orjson.loads(text)
    for name in _PART_TIMES:
        if p.get(name) is not None:
            p[name] -= offset
    p["status"] = Status(p["status"])
    return PartRecord(**p)


def _fields_source(d: str, r: str, fields: Sequence[str], times: Sequence[str], indent: str) -> list[str]:
    """Python source that puts into the dict ``d`` each of ``fields`` of ``r`` whose value is
    not None, in that order, a status as its value, ``times`` on the wall clock (+ offset).

    One attribute read and one test per field: the same dict as a comprehension over
    ``zip(fields, attrgetter(*fields)(record))``, at half the cost (no tuple, no zip, no
    frame for the comprehension), and it runs for every change of every message."""
    lines = []
    for name in fields:
        value = "_VALUE[v]" if name == "status" else "v + offset" if name in times else "v"
        lines += [f"{indent}v = {r}.{name}", f"{indent}if v is not None: {d}[{name!r}] = {value}"]
    return lines


def _compiled(name: str, lines: list[str], **names: Any) -> Any:
    """The function ``name`` that ``lines`` define (the field names of our own classes),
    ``names`` its globals with ``_VALUE`` and ``_dumps``."""
    namespace: dict[str, Any] = {"_VALUE": _VALUE, "_dumps": orjson.dumps, **names}
    exec("\n".join(lines), namespace)
    return namespace[name]


def _state_of(fields: Sequence[str], times: Sequence[str]) -> Callable[[Any, float], dict[str, Any]]:
    """A function (record, offset) -> the dict of ``fields`` whose value is not None
    (``_fields_source``)."""
    lines = [
        "def state(r, offset):",
        "    d = {}",
        *_fields_source("d", "r", fields, times, "    "),
        "    return d",
    ]
    return cast(Callable[[Any, float], dict[str, Any]], _compiled("state", lines))


_part_state = _state_of(_PART_FIELDS, _PART_TIMES)


def _state_writer(name: str, arguments: str, result: str, history: str = "m.history") -> Any:
    """A function ``name`` of ``arguments`` that makes the state JSON of the message ``m``
    (``text``) and returns ``result``; its history in it if ``history`` (an expression) holds.

    Written out as Python source, the one function a change calls for what were five
    calls, ~500 instructions each (the row, the state, the message's fields, its part's,
    its history): the message's fields, then its parts (one, most often: written out too;
    more: ``_part_state`` each), then its history (as ``wall_history``, in a loop: a
    comprehension has a frame of its own in 3.11)."""
    lines = [
        f"def {name}({arguments}):",
        "    d = {}",
        *_fields_source("d", "m", _STATE_FIELDS, ("send_at",), "    "),
        "    parts = m.parts",
        "    if len(parts) == 1:",
        "        r = parts[0]",
        "        p = {}",
        *_fields_source("p", "r", _PART_FIELDS, _PART_TIMES, "        "),
        "        d['parts'] = [p]",
        "    else:",
        "        d['parts'] = [_part_state(r, offset) for r in parts]",
        f"    if {history}:",
        "        d['history'] = wall = []",
        "        for s, at, source, detail, applied in m.history:",
        "            wall.append((_VALUE[s], at + offset, source, detail, applied))",
        "    text = _dumps(d).decode()",
        f"    return {result}",
    ]
    return _compiled(name, lines, _part_state=_part_state, _owes_work=owes_work)


def _dict_of(fields: Sequence[str]) -> Callable[[Any], dict[str, Any]]:
    """A function record -> the dict of ``fields``, in that order, None kept: one dict
    display, a third of the cost of ``dict(zip(fields, attrgetter(*fields)(record)))``
    (each message's body, ``message_row``)."""
    display = ", ".join(f"{name!r}: r.{name}" for name in fields)
    return cast(
        Callable[[Any], dict[str, Any]], _compiled("values", ["def values(r):", f"    return {{{display}}}"])
    )


_body = _dict_of(_BODY_FIELDS)


def wall_history(history: Iterable[HistoryEntry], offset: float) -> list[tuple[Any, ...]]:
    """History entries as stored, [status, wall-clock time, source, detail, applied] each:
    in a row's state here, one JSON text each in Redis's list (``store.redis``)."""
    value = _VALUE
    wall: list[tuple[Any, ...]] = []
    for s, at, source, detail, applied in history:  # (a loop: a comprehension has a frame)
        wall.append((value[s], at + offset, source, detail, applied))
    return wall


def clock_history(stored: Iterable[Sequence[Any]], offset: float) -> list[HistoryEntry]:
    """``wall_history``'s entries read back, times on this process's clock."""
    return [
        (Status(s), at - offset, source, detail, bool(applied)) for s, at, source, detail, applied in stored
    ]


# The state column of a message: (record, offset, with its history?) -> the JSON of its
# fields not None (``_STATE_FIELDS``), its parts, and its history (if any, and asked for),
# [status, at, source, detail, applied] per entry (as the Redis store keeps it,
# ``wall_history``), times on the wall clock. The whole history is rewritten with the row,
# which SQLite rewrites whole at each change anyway. A row per entry in a table of its own
# (a b-tree insert, its bindings, its tuple) cost more than the bigger state: in a store
# workload of four changes a message, ~616,000 instructions per message before, ~600,000
# after. orjson: ~10x json.dumps; a TEXT column (JSON functions read it).
_state: Callable[[MessageRecord, float, bool], str] = _state_writer(
    "state", "m, offset, history", "text", "history and m.history"
)
# What a change rewrites: (seq, record, offset) -> ``UPDATE``'s parameters (status, open,
# updated_at, state), times on the wall clock; ``state_row_open``: ``UPDATE_OPEN``'s,
# without open, for a message open on disk that stays so.
state_row: Callable[[int, MessageRecord, float], tuple[Any, ...]] = _state_writer(
    "state_row", "seq, m, offset", "(_VALUE[m.status], int(_owes_work(m)), m.updated_at + offset, text, seq)"
)
state_row_open: Callable[[int, MessageRecord, float], tuple[Any, ...]] = _state_writer(
    "state_row_open", "seq, m, offset", "(_VALUE[m.status], m.updated_at + offset, text, seq)"
)


def message_row(
    seq: int, m: MessageRecord, offset: float, *, history: bool = True, plain: bool = False
) -> tuple[Any, ...]:
    """The ``messages`` row of ``m`` (``INSERT``'s columns), times on the wall clock; its
    state without the history if not ``history`` (the Redis store keeps it apart);
    ``INSERT_PLAIN``'s columns if ``plain`` (its idempotency key and tenant are None)."""
    common = (
        _VALUE[m.status],
        int(owes_work(m)),
        m.created_at + offset,
        m.updated_at + offset,
        m.source,
        m.destination,
        orjson.dumps(_body(m)).decode(),
        _state(m, offset, history),
    )
    if plain:
        return (seq, m.id, *common)
    return (seq, m.id, m.idempotency_key, *common, m.tenant)


def message_record(row: tuple[Any, ...], offset: float) -> MessageRecord:
    """The record of a ``messages`` row (``RECORD_COLUMNS``), times on this process's clock.
    Its history is the state's; a row an older version wrote has none there (its history
    is in the ``history`` table: ``read_history``)."""
    _, id_, key, status, created_at, updated_at, source, destination, body, state, tenant = row
    fields = orjson.loads(body)
    fields.update(orjson.loads(state))
    history = fields.pop("history", None)
    if history is not None:
        fields["history"] = clock_history(history, offset)
        fields["history_saved"] = len(history)
    parts = []
    for p in fields.pop("parts"):
        for name in _PART_TIMES:
            if p.get(name) is not None:
                p[name] -= offset
        p["status"] = Status(p["status"])
        parts.append(PartRecord(**p))
    if fields.get("send_at") is not None:
        fields["send_at"] -= offset
    fields["tags"] = tuple(fields["tags"])
    return MessageRecord(
        id=id_,
        idempotency_key=key,
        status=Status(status),
        created_at=created_at - offset,
        updated_at=updated_at - offset,
        source=source,
        destination=destination,
        parts=parts,
        tenant=tenant,
        **fields,
    )
