"""Pass/fail thresholds (``--check 'p99 < 200ms'``, scenario ``[thresholds]``) for CI.

An expression is ``METRIC OP VALUE[UNIT]``; OP is one of ``< <= > >= == !=``. METRIC
is a short name or any dotted path into the result's ``summary``:

===================  ==============================================  ==========
short name           metric                                          unit
===================  ==============================================  ==========
p50 p90 p99 p999     latency_ms.submit_resp.<p>                      ms, s, us
max mean             latency_ms.submit_resp.<max|mean>               ms, s, us
dlr_p50 ... dlr_max  latency_ms.submit_receipt.<p>                   ms, s, us
error_rate           errors / sent                                   fraction, %
throttle_rate        throttled / sent                                fraction, %
receipt_ratio        receipts / receipts_expected                    fraction, %
unsent_rate          unsent / offered                                fraction, %
unsent               offered but never sent (see below)              count
rate (= acked_rate)  throughput_per_s.acked                          /s
sent_rate            throughput_per_s.sent                           /s
===================  ==============================================  ==========

A dotted path (``binds_lost``, ``client.cpu_percent``, ``errors_by_status.ESME_RSYSERR``)
takes the number as it stands; a missing ``errors_by_status`` entry is 0. A metric
without a value (no receipts awaited, say) fails its check.

``unsent`` counts the messages whose send time came but which still waited for a window
when the load phase ended: they have no latency, so the percentiles leave them out;
``--check 'unsent == 0'`` fails a run that could not offer its whole load.

Ratios are fractions in the JSON (``threshold`` 0.001 for ``< 0.1%``); reports show them
as percentages (``is_ratio``, ``shown``).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from loadtest.params import UsageError

__all__ = ["Check", "evaluate", "is_ratio", "parse_check", "shown"]

_OPS: Final[dict[str, Callable[[float, float], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_EXPR: Final = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][\w.]*)\s*(?P<op><=|>=|==|!=|<|>)\s*"
    r"(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<unit>ms|us|s|%|/s)?\s*$"
)
_LAT: Final = ("p50", "p90", "p99", "p999", "max", "mean")
_RATIOS: Final = {
    "error_rate": ("errors", "sent"),
    "throttle_rate": ("throttled", "sent"),
    "receipt_ratio": ("receipts", "receipts_expected"),
    "unsent_rate": ("unsent", "offered"),
}
_ALIASES: Final = {
    **{k: f"latency_ms.submit_resp.{k}" for k in _LAT},
    **{f"dlr_{k}": f"latency_ms.submit_receipt.{k}" for k in _LAT},
    "rate": "throughput_per_s.acked",
    "acked_rate": "throughput_per_s.acked",
    "sent_rate": "throughput_per_s.sent",
}


@attrs.frozen(kw_only=True)
class Check:
    name: str
    metric: str
    op: str
    threshold: float

    def evaluate(self, summary: Mapping[str, Any]) -> dict[str, Any]:
        value = metric_value(summary, self.metric)
        passed = value is not None and _OPS[self.op](value, self.threshold)
        return {
            "name": self.name,
            "metric": self.metric,
            "op": self.op,
            "threshold": _num(self.threshold),
            "value": None if value is None else round(value, 6),
            "passed": bool(passed),
        }


def _num(v: float) -> float | int:
    return int(v) if float(v).is_integer() else v


def parse_check(text: str, where: str = "--check") -> Check:
    """Raises UsageError naming ``where`` for an expression it cannot read."""
    m = _EXPR.match(text)
    if m is None:
        raise UsageError(f"{where}: expected 'METRIC OP VALUE' such as 'p99 < 200ms', got {text!r}")
    name, op, unit = m["metric"], m["op"], m["unit"]
    value = float(m["value"])
    metric = _ALIASES.get(name, name)
    if metric.startswith("latency_ms."):
        if unit not in (None, "ms", "s", "us"):
            raise UsageError(f"{where}: {name} is a latency: use ms, s or us, got {unit!r}")
        value *= {"s": 1000.0, "us": 0.001}.get(unit or "ms", 1.0)
    elif metric in _RATIOS:
        if unit not in (None, "%"):
            raise UsageError(f"{where}: {name} is a ratio: give a fraction or a percentage, got {unit!r}")
        value = value / 100.0 if unit == "%" else value
    elif unit in ("ms", "s", "us"):
        raise UsageError(f"{where}: {name} is not a latency, so {unit!r} does not apply")
    elif unit == "%" and metric != "client.cpu_percent":
        raise UsageError(f"{where}: {name} is not a ratio, so '%' does not apply")
    if "." not in metric and metric not in _RATIOS and metric not in _TOP_LEVEL:
        known = ", ".join(sorted({*_ALIASES, *_RATIOS, *_TOP_LEVEL}))
        raise UsageError(f"{where}: unknown metric {name!r} (one of {known}, or a dotted summary path)")
    return Check(name=" ".join(text.split()), metric=metric, op=op, threshold=value)


_TOP_LEVEL: Final = (
    "offered",
    "sent",
    "acked",
    "errors",
    "throttled",
    "timeouts",
    "unsent",
    "receipts",
    "receipts_expected",
    "binds_lost",
    "binds_reestablished",
    "duration_s",
)


def metric_value(summary: Mapping[str, Any], metric: str) -> float | None:
    if metric in _RATIOS:
        num, den = (summary.get(k) for k in _RATIOS[metric])
        if not isinstance(num, int | float) or not isinstance(den, int | float) or den <= 0:
            return None
        return num / den
    node: Any = summary
    parts = metric.split(".")
    for i, key in enumerate(parts):
        if not isinstance(node, Mapping):
            return None
        if key not in node:
            return 0.0 if i == len(parts) - 1 and parts[0] == "errors_by_status" else None
        node = node[key]
    if isinstance(node, bool) or not isinstance(node, int | float):
        return None
    return float(node)


def is_ratio(metric: str) -> bool:
    """A derived ratio, kept as a fraction in the JSON and shown as a percentage."""
    return metric in _RATIOS


def shown(metric: str, value: Any) -> str:
    """A check's threshold or value as people read it: ratios in percent, latencies in ms."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—"
    if is_ratio(metric):
        return f"{100 * value:.4g}%"
    if metric.startswith("latency_ms."):
        return f"{value:,.4g} ms"
    return f"{value:,.4g}"


def evaluate(checks: list[Check], summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [check.evaluate(summary) for check in checks]
