"""Check a result document against schema ``smpp-loadtest/1`` (``loadtest/SCHEMA.md``).

    python -m loadtest.schema result.json     # prints the problems; exit 1 if any

``validate(doc)`` returns a list of problems, each naming the JSON path
(``summary.latency_ms.submit_resp.p99: expected a number or null``); empty means valid.
With ``strict=True`` (what our own tests use) keys the schema does not list are
problems too; readers should use the default, since the schema may grow keys.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, Final

__all__ = ["validate"]

Spec = Callable[[Any, str, list[str], bool], None]


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def num(nullable: bool = False) -> Spec:
    def check(v: Any, path: str, errs: list[str], strict: bool) -> None:
        if not (_is_num(v) or (nullable and v is None)):
            errs.append(f"{path}: expected a number{' or null' if nullable else ''}, got {v!r}")

    return check


def count(nullable: bool = False) -> Spec:
    def check(v: Any, path: str, errs: list[str], strict: bool) -> None:
        if nullable and v is None:
            return
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            errs.append(f"{path}: expected a count (integer >= 0){' or null' if nullable else ''}, got {v!r}")

    return check


def text(nullable: bool = False, choices: tuple[str, ...] | None = None) -> Spec:
    def check(v: Any, path: str, errs: list[str], strict: bool) -> None:
        if nullable and v is None:
            return
        if not isinstance(v, str) or (choices is not None and v not in choices):
            want = f"one of {', '.join(choices)}" if choices else "a string"
            errs.append(f"{path}: expected {want}{' or null' if nullable else ''}, got {v!r}")

    return check


def boolean() -> Spec:
    def check(v: Any, path: str, errs: list[str], strict: bool) -> None:
        if not isinstance(v, bool):
            errs.append(f"{path}: expected true or false, got {v!r}")

    return check


def obj(fields: dict[str, Spec], nullable: bool = False, added: dict[str, Spec] | None = None) -> Spec:
    """``added``: keys added within ``smpp-loadtest/1`` (checked when present; older
    documents lack them)."""
    later = added or {}

    def check(v: Any, path: str, errs: list[str], strict: bool) -> None:
        if nullable and v is None:
            return
        if not isinstance(v, dict):
            errs.append(f"{path}: expected an object{' or null' if nullable else ''}, got {type(v).__name__}")
            return
        for key, spec in fields.items():
            if key not in v:
                errs.append(f"{path}.{key}: missing")
            else:
                spec(v[key], f"{path}.{key}", errs, strict)
        for key, spec in later.items():
            if key in v:
                spec(v[key], f"{path}.{key}", errs, strict)
        if strict:
            errs.extend(
                f"{path}.{key}: not in the schema" for key in v if key not in fields and key not in later
            )

    return check


def mapping(values: Spec) -> Spec:
    def check(v: Any, path: str, errs: list[str], strict: bool) -> None:
        if not isinstance(v, dict):
            errs.append(f"{path}: expected an object, got {type(v).__name__}")
            return
        for key, value in v.items():
            values(value, f"{path}.{key}", errs, strict)

    return check


def array(items: Spec, nullable: bool = False, length: int | None = None) -> Spec:
    def check(v: Any, path: str, errs: list[str], strict: bool) -> None:
        if nullable and v is None:
            return
        if not isinstance(v, list) or (length is not None and len(v) != length):
            size = f" of {length}" if length is not None else ""
            errs.append(f"{path}: expected an array{size}{' or null' if nullable else ''}, got {v!r}"[:200])
            return
        for i, item in enumerate(v):
            items(item, f"{path}[{i}]", errs, strict)

    return check


def const(value: str) -> Spec:
    def check(v: Any, path: str, errs: list[str], strict: bool) -> None:
        if v != value:
            errs.append(f"{path}: expected {value!r}, got {v!r}")

    return check


_LATENCY: Final = {k: num(nullable=True) for k in ("mean", "p50", "p90", "p99", "p999", "max")}
_LATENCY_BLOCK: Final = {"count": count(), **_LATENCY}

SCHEMA_SPEC: Final = obj(
    {
        "schema": const("smpp-loadtest/1"),
        "params": obj(
            {
                "target": text(choices=("sim", "smsc", "http")),
                "address": text(nullable=True),
                "profile": text(nullable=True),
                "system_id": text(),
                "workload": text(choices=("constant", "ramp", "steps", "poisson", "closed")),
                "rate": num(nullable=True),
                "ramp": array(num(), nullable=True, length=2),
                "steps": array(array(num(), length=2), nullable=True),
                "duration_s": num(nullable=True),
                "count": count(nullable=True),
                "binds": count(),
                "window": count(),
                "mix": mapping(num()),
                "destinations": text(),
                "wait_dlr_s": num(),
                "scenario": text(nullable=True),
                "started_at": text(),
                "host": text(),
                "version": text(),
            }
        ),
        "summary": obj(
            {
                "duration_s": num(),
                **{
                    k: count()
                    for k in (
                        "offered",
                        "sent",
                        "acked",
                        "errors",
                        "throttled",
                        "timeouts",
                        "receipts",
                        "receipts_expected",
                    )
                },
                "throughput_per_s": obj({k: num() for k in ("offered", "sent", "acked", "receipts")}),
                "latency_ms": obj(
                    {"submit_resp": obj(_LATENCY_BLOCK), "submit_receipt": obj(_LATENCY_BLOCK, nullable=True)}
                ),
                "errors_by_status": mapping(count()),
                "binds_lost": count(),
                "binds_reestablished": count(),
                "client": obj(
                    {
                        "cpu_percent": num(),
                        "max_rss_mb": num(),
                        "saturated": boolean(),
                        "lag_ms_p99": num(),
                    }
                ),
            },
            added={"unsent": count()},
        ),
        "timeline": array(
            obj(
                {
                    "t": count(),
                    **{k: count() for k in ("offered", "sent", "acked", "receipts", "errors", "throttled")},
                    **{k: num(nullable=True) for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")},
                    "cpu_percent": num(),
                },
                added={"inflight": count(), "backlog": count(), "span_s": num()},
            )
        ),
        "histogram": obj(
            {
                "submit_resp": array(array(num(), length=2)),
                "submit_receipt": array(array(num(), length=2)),
            }
        ),
        "checks": array(
            obj(
                {
                    "name": text(),
                    "metric": text(),
                    "op": text(choices=("<", "<=", ">", ">=", "==", "!=")),
                    "threshold": num(),
                    "value": num(nullable=True),
                    "passed": boolean(),
                }
            )
        ),
        "passed": boolean(),
    }
)


def validate(doc: Any, *, strict: bool = False) -> list[str]:
    """Problems with ``doc`` as a ``smpp-loadtest/1`` result (empty: valid)."""
    errs: list[str] = []
    SCHEMA_SPEC(doc, "$", errs, strict)
    if not errs:
        errs.extend(_consistency(doc))
    return errs


def _consistency(doc: dict[str, Any]) -> list[str]:
    """Invariants the types alone cannot say."""
    s, errs = doc["summary"], []
    if sum(s["errors_by_status"].values()) != s["errors"]:
        errs.append("$.summary.errors_by_status: does not add up to errors")
    if s["errors_by_status"].get("timeout", 0) != s["timeouts"]:
        errs.append("$.summary.timeouts: differs from errors_by_status.timeout")
    if s["throttled"] > s["errors"]:
        errs.append("$.summary.throttled: more than errors")
    if [e["t"] for e in doc["timeline"]] != list(range(len(doc["timeline"]))):
        errs.append("$.timeline: t must count 0, 1, 2, ...")
    if doc["passed"] != all(c["passed"] for c in doc["checks"]):
        errs.append("$.passed: disagrees with checks")
    return errs


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m loadtest.schema RESULT.json", file=sys.stderr)
        return 2
    try:
        with open(args[0], encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as exc:
        print(f"{args[0]}: {exc}", file=sys.stderr)
        return 2
    problems = validate(doc)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
