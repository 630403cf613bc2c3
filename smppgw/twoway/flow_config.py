"""A flow as written (a ``[[twoway.flow]]`` TOML table, a flow file, or the JSON of
``PUT /v1/flows/{name}``) checked and built into a ``twoway.flows.Flow``.

Every error is a ``FlowError`` whose path names the key (``twoway.flow[0].steps.confirm.on.2``
at config load, ``steps.confirm.on.2`` for the API): a wrong type or value here, and
the checks of the whole flow (``flow_checks``: unreachable steps, a transition to an
unknown step, a cycle with no way out, a timer with no step, an unknown var).

    name = "booking"
    keywords = ["BOOK"]
    vars = { clinic = "Acme Dental" }
    [steps.pick]
    prompt = "Reply with the number of a time:\\n{options}"
    expect = "slot"
    slots = "{slots}"
    var = "slot"
    next = "confirmed"
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Final

from smppgw.support.config import ConfigError, array, key_path, read_toml, string, table, unknown_keys
from smppgw.twoway.conversations import parse_duration
from smppgw.twoway.flow_answers import choice_table
from smppgw.twoway.flow_checks import FlowError, check_flow
from smppgw.twoway.flow_model import (
    END_STATUSES,
    Action,
    Emit,
    End,
    Expect,
    Flow,
    Goto,
    Handoff,
    IssueVoucher,
    Option,
    Send,
    Step,
)
from smppgw.twoway.flow_time import parse_slot, parse_when
from smppgw.twoway.text import words

__all__ = [
    "ACTION_KEYS",
    "EXPECT_KINDS",
    "FLOW_KEYS",
    "LIMITS",
    "RESERVED_EVENTS",
    "STEP_KEYS",
    "FlowError",
    "flows_from_config",
    "parse_flow",
]

EXPECT_KINDS: Final = ("choice", "number", "slot", "text", "none")
FLOW_KEYS: Final = frozenset({"name", "description", "keywords", "campaign", "start", "vars", "steps"})
STEP_KEYS: Final = frozenset(
    {"prompt", "expect", "options", "min", "max", "slots", "var", "on", "next", "reprompt", "attempts"}
    | {"timeout", "on_timeout", "on_invalid", "actions"}
)
# the one key that names an action's kind -> the other keys it takes
ACTION_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "send": frozenset({"at", "late"}),
    "emit": frozenset({"data"}),
    "handoff": frozenset({"note"}),
    "voucher": frozenset({"var", "on_empty"}),
    "end": frozenset(),
    "goto": frozenset({"at", "late"}),
}
LIMITS: Final = {
    "steps": 50,
    "options": 20,
    "slots": 50,
    "actions": 10,
    "keywords": 10,
    "vars": 50,
    "data": 20,
    "text": 1600,
    "attempts": 5,
    "max": 1_000_000,
}
# the first word of the gateway's own event types: a flow's event is none of them
RESERVED_EVENTS: Final = ("message", "consent", "keyword", "conversation", "flow", "thread", "voucher")
NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
STEP_NAME: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,31}")
VAR_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,31}")
KEYWORD: Final = re.compile(r"[A-Za-z0-9]{1,32}(?: [A-Za-z0-9]{1,32}){0,2}")
EVENT_TYPE: Final = re.compile(r"[a-z][a-z0-9_]{0,31}(?:\.[a-z0-9_]{1,32}){0,3}")
QUEUE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def _str(
    v: Any, where: str, *, lo: int = 1, hi: int = LIMITS["text"], pattern: re.Pattern[str] | None = None
) -> str:
    if not isinstance(v, str):
        raise FlowError(where, f"expected a string, got {v!r}")
    if not lo <= len(v) <= hi:
        raise FlowError(where, f"{lo}..{hi} characters, got {len(v)}")
    if pattern is not None and not pattern.fullmatch(v):
        raise FlowError(where, f"{v!r} does not match {pattern.pattern}")
    return v


def _int(v: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise FlowError(where, f"an integer in {lo}..{hi}, got {v!r}")
    return v


def _table(v: Any, where: str, known: frozenset[str] | None = None) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise FlowError(where, f"expected a table, got {v!r}")
    if known is not None:
        extra = sorted(set(v) - known, key=str)
        if extra:
            raise FlowError(key_path(where, extra[0]), f"unknown key (known: {', '.join(sorted(known))})")
    return v


def _list(v: Any, where: str, hi: int) -> list[Any]:
    if not isinstance(v, list):
        raise FlowError(where, f"expected a list, got {v!r}")
    if len(v) > hi:
        raise FlowError(where, f"at most {hi} items, got {len(v)}")
    return v


def _known(t: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    """``support.config.unknown_keys`` (the config reference's test watches it), its
    error as a FlowError."""
    try:
        unknown_keys(t, known, where)
    except ConfigError as exc:
        path = key_path(where, sorted(set(t) - known, key=str)[0])
        raise FlowError(path, str(exc).removeprefix(f"{path}: ")) from None


def _plain(value: Any) -> Any:
    """``value`` with TOML's date-times as ISO 8601 text (``slots = [2027-03-15T09:30:00Z]``
    unquoted), so that a flow is JSON whatever it was written in."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def parse_flow(data: Mapping[str, Any], *, where: str = "", name: str | None = None) -> Flow:
    """The flow ``data`` defines (``name``: the flow's name when ``data`` has none, e.g.
    from the URL). Raises FlowError naming the key."""
    t = _table(_plain(data), where)
    _known(t, FLOW_KEYS, where)
    if "name" in t or name is None:
        flow_name = _str(t.get("name"), key_path(where, "name"), hi=64, pattern=NAME)
        if name is not None and flow_name != name:
            raise FlowError(key_path(where, "name"), f"{flow_name!r} is not the name in the path ({name!r})")
    else:
        flow_name = _str(name, key_path(where, "name"), hi=64, pattern=NAME)
    at = key_path(where, "keywords")
    keywords = tuple(
        _str(k, f"{at}[{i}]", hi=98, pattern=KEYWORD).upper()
        for i, k in enumerate(_list(t.get("keywords", []), at, LIMITS["keywords"]))
    )
    at = key_path(where, "vars")
    raw_vars = _table(t.get("vars", {}), at)
    if len(raw_vars) > LIMITS["vars"]:
        raise FlowError(at, f"at most {LIMITS['vars']} vars")
    flow_vars = {}
    for key, value in raw_vars.items():
        _str(key, key_path(at, key), hi=32, pattern=VAR_NAME)
        if isinstance(value, list):
            value = ",".join(_str(v, f"{key_path(at, key)}[{i}]", hi=64) for i, v in enumerate(value))
        flow_vars[key] = _str(value, key_path(at, key), lo=0, hi=2000)
    at = key_path(where, "steps")
    raw_steps = _table(t.get("steps"), at)
    if not 1 <= len(raw_steps) <= LIMITS["steps"]:
        raise FlowError(at, f"1..{LIMITS['steps']} steps, got {len(raw_steps)}")
    steps = {key: _step(str(key), value, key_path(at, key)) for key, value in raw_steps.items()}
    start = t.get("start", next(iter(steps)))
    flow = Flow(
        name=flow_name,
        start=_str(start, key_path(where, "start"), hi=32),
        steps=steps,
        keywords=keywords,
        description=_str(t.get("description", ""), key_path(where, "description"), lo=0, hi=500),
        campaign=_str(t["campaign"], key_path(where, "campaign"), hi=64, pattern=NAME)
        if "campaign" in t
        else None,
        vars=flow_vars,
        source=dict(t),
    )
    check_flow(flow, where)
    return flow


def _step(name: str, data: Any, where: str) -> Step:
    _str(name, where, hi=32, pattern=STEP_NAME)
    t = _table(data, where, STEP_KEYS)
    at = lambda key: key_path(where, key)  # noqa: E731
    kind = _str(t.get("expect", "none"), at("expect"), hi=8)
    if kind not in EXPECT_KINDS:
        raise FlowError(at("expect"), f"one of {', '.join(EXPECT_KINDS)}, got {kind!r}")
    expect = _expect(kind, t, where)
    fields: dict[str, Any] = {"name": name, "expect": expect}
    fields["prompt"] = _str(t.get("prompt", ""), at("prompt"), lo=0)
    if "var" in t:
        fields["var"] = _str(t["var"], at("var"), hi=32, pattern=VAR_NAME)
    for key in ("next", "on_timeout", "on_invalid"):
        if key in t:
            fields[key] = _str(t[key], at(key), hi=32)
    on = _table(t.get("on", {}), at("on"))
    fields["on"] = {str(k): _str(v, key_path(at("on"), k), hi=32) for k, v in on.items()}
    keys = {o.key for o in expect.options}
    if kind == "choice":  # "confirm" names the keyword option CONFIRM
        fields["on"] = {k.upper() if k.upper() in keys else k: v for k, v in fields["on"].items()}
    if "reprompt" in t:
        fields["reprompt"] = _str(t["reprompt"], at("reprompt"))
    if "attempts" in t:
        fields["attempts"] = _int(t["attempts"], at("attempts"), 0, LIMITS["attempts"])
    if "timeout" in t:
        try:
            fields["timeout"] = parse_duration(t["timeout"])
        except ValueError as exc:
            raise FlowError(at("timeout"), str(exc)) from None
    actions = _list(t.get("actions", []), at("actions"), LIMITS["actions"])
    fields["actions"] = tuple(_action(a, f"{at('actions')}[{i}]") for i, a in enumerate(actions))
    return Step(**fields)


def _expect(kind: str, t: Mapping[str, Any], where: str) -> Expect:
    at = lambda key: key_path(where, key)  # noqa: E731
    allowed = {"choice": {"options"}, "number": {"min", "max"}, "slot": {"slots"}}.get(kind, set())
    for key in ("options", "min", "max", "slots"):
        if key in t and key not in allowed:
            raise FlowError(at(key), f"not a key of an expect = {kind!r} step")
    if kind == "choice":
        options, numbered = _options(t.get("options"), at("options"))
        return Expect(
            kind=kind, options=options, numbered=numbered, table=choice_table(options, numbered=numbered)
        )
    if kind == "number":
        lo = _int(t.get("min", 0), at("min"), 0, 9999)
        hi = _int(t.get("max", 10), at("max"), 0, 9999)
        if lo >= hi:
            raise FlowError(at("min"), f"must be less than max ({hi}), got {lo}")
        return Expect(kind=kind, min=lo, max=hi)
    if kind == "slot":
        slots = t.get("slots")
        if isinstance(slots, str):
            m = re.fullmatch(r"\{([a-z_][a-z0-9_]{0,31})\}", slots.strip())
            if m is None:
                raise FlowError(at("slots"), f'a list of ISO 8601 date-times or "{{var}}", got {slots!r}')
            return Expect(kind=kind, slots_var=m.group(1))
        items = _list(slots, at("slots"), LIMITS["slots"])
        if not items:
            raise FlowError(at("slots"), "at least one slot")
        for i, s in enumerate(items):
            if not isinstance(s, str) or parse_slot(s) is None:
                raise FlowError(f"{at('slots')}[{i}]", f"an ISO 8601 date-time with its zone, got {s!r}")
        return Expect(kind=kind, slots=tuple(items))
    return Expect(kind=kind)


def _options(value: Any, where: str) -> tuple[tuple[Option, ...], bool]:
    """The options (numbered when none has a ``key``: "1", "2", ...)."""
    items = _list(value, where, LIMITS["options"])
    if not items:
        raise FlowError(where, "at least one option")
    keyed = [isinstance(o, Mapping) and "key" in o for o in items]
    if any(keyed) and not all(keyed):
        i = keyed.index(False)
        raise FlowError(
            f"{where}[{i}]", "every option needs a key when one has (keyword options), or none (numbered)"
        )
    out: list[Option] = []
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if isinstance(item, str):
            out.append(Option(key=str(i + 1), label=_str(item, at, hi=160)))
            continue
        t = _table(item, at, frozenset({"key", "label", "words"}))
        words = tuple(
            _str(w, f"{at}.words[{j}]", hi=64)
            for j, w in enumerate(_list(t.get("words", []), f"{at}.words", 20))
        )
        key = _str(t["key"], f"{at}.key", hi=32, pattern=STEP_NAME).upper() if "key" in t else str(i + 1)
        label = _str(t.get("label", ""), f"{at}.label", lo=0 if "key" in t else 1, hi=160)
        out.append(Option(key=key, label=label, words=words))
    keys = [o.key for o in out]
    for i, key in enumerate(keys):
        if key in keys[:i]:
            raise FlowError(f"{where}[{i}].key", f"{key!r} is the key of another option")
    return tuple(out), not any(keyed)


def _action(data: Any, where: str) -> Action:
    if not isinstance(data, Mapping):
        raise FlowError(where, f"expected a table such as {{send = ...}}, got {data!r}")
    kinds = [k for k in ACTION_KEYS if k in data]
    if len(kinds) != 1:
        raise FlowError(where, f"exactly one of {', '.join(ACTION_KEYS)}, got {sorted(map(str, data))}")
    kind = kinds[0]
    t = _table(data, where, ACTION_KEYS[kind] | {kind})
    at = lambda key: key_path(where, key)  # noqa: E731
    value = t[kind]
    if kind in ("send", "goto"):
        when, late = None, _str(t.get("late", "skip"), at("late"), hi=16)
        if late not in ("skip", "now"):
            raise FlowError(at("late"), f"skip or now, got {late!r}")
        if "at" in t:
            try:
                when = parse_when(t["at"])
            except ValueError as exc:
                raise FlowError(at("at"), str(exc)) from None
        if kind == "send":
            return Send(text=_str(value, at("send")), at=when, late=late)
        return Goto(step=_str(value, at("goto"), hi=32), at=when, late=late)
    if kind == "emit":
        raw = _table(t.get("data", {}), at("data"))
        if len(raw) > LIMITS["data"]:
            raise FlowError(at("data"), f"at most {LIMITS['data']} keys")
        data_ = {str(k): _str(v, key_path(at("data"), k), lo=0, hi=500) for k, v in raw.items()}
        kind_ = _str(value, at("emit"), hi=128, pattern=EVENT_TYPE)
        if kind_.split(".")[0] in RESERVED_EVENTS:
            raise FlowError(
                at("emit"),
                f"{kind_!r} is one of the gateway's own event types ({', '.join(RESERVED_EVENTS)}.*)",
            )
        return Emit(type=kind_, data=data_)
    if kind == "handoff":
        return Handoff(
            queue=_str(value, at("handoff"), hi=64, pattern=QUEUE),
            note=_str(t.get("note", ""), at("note"), lo=0),
        )
    if kind == "voucher":
        var = _str(t.get("var", "code"), at("var"), hi=32, pattern=VAR_NAME)
        on_empty = _str(t["on_empty"], at("on_empty"), hi=32) if "on_empty" in t else None
        return IssueVoucher(pool=_str(value, at("voucher"), hi=64, pattern=NAME), var=var, on_empty=on_empty)
    status = _str(value, at("end"), hi=16)
    if status not in END_STATUSES:
        raise FlowError(at("end"), f"one of {', '.join(END_STATUSES)}, got {status!r}")
    return End(status=status)


def flows_from_config(
    flows: Any, flows_dir: Any, *, taken: Mapping[str, str] | None = None, base: Path | None = None
) -> tuple[Flow, ...]:
    """``[[twoway.flow]]`` (``flows``, a list of tables) and the ``*.toml`` files of
    ``flows_dir`` (one flow each, in name order). ``taken``: keywords already in use
    (folded keyword -> what uses it: the opt-out and opt-in words, the rules' keywords);
    ``base``: the directory a relative ``flows_dir`` is in (the config file's).
    Raises ConfigError naming the key (``twoway.flow[0].steps.confirm.on.2``, or
    ``twoway.flows_dir: booking.toml: steps...``)."""
    found: list[tuple[str, Flow]] = []
    for i, item in enumerate(array(flows if flows is not None else [], "twoway.flow")):
        where = f"twoway.flow[{i}]"
        found.append((where, parse_flow(table(item, where), where=where)))
    if flows_dir is not None:
        folder = (base or Path(".")) / string(flows_dir, "twoway.flows_dir", min_len=1)
        if not folder.is_dir():
            raise ConfigError(f"twoway.flows_dir: {str(folder)!r} is not a directory")
        for path in sorted(folder.glob("*.toml")):
            data = read_toml(path, "twoway.flows_dir: flow file")
            try:
                found.append((f"twoway.flows_dir: {path.name}", parse_flow(data)))
            except FlowError as exc:
                raise ConfigError(f"twoway.flows_dir: {path.name}: {exc}") from None
    names: dict[str, str] = {}
    starts: dict[str, str] = dict(taken or {})
    for where, flow in found:
        if flow.name in names:
            raise ConfigError(f"{where}.name: flow {flow.name!r} is already defined ({names[flow.name]})")
        names[flow.name] = where
        for j, keyword in enumerate(flow.keywords):
            folded = " ".join(words(keyword))
            if folded in starts:
                raise ConfigError(f"{where}.keywords[{j}]: {keyword!r} is already {starts[folded]}")
            starts[folded] = f"the keyword of flow {flow.name!r}"
    return tuple(flow for _, flow in found)
