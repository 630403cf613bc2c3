"""Chart primitives for the HTML load-test report: inline SVG built as plain strings.

No JavaScript and no external resources: a chart is one ``<svg>`` element that renders in
any browser (and in print). Every text that ends up in the markup goes through
:func:`html.escape`. Numbers are the caller's: a point's ``y`` may be ``None`` (a gap in the
line, e.g. a second without any response).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Point = tuple[float, float | None]
Formatter = Callable[[float], str]

WIDTH = 900
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 80, 40, 34, 44
MAX_POINTS = 1500  # longer series are min/max decimated: peaks survive, the file stays small
MAX_BANDS = 400  # hover bands (native SVG tooltips) per chart


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    points: Sequence[Point]
    dash: str | None = None  # SVG stroke-dasharray, e.g. "6 4"
    area: bool = False  # fill the area under the line (linear scales only)
    width: float = 2.0


@dataclass(frozen=True)
class HLine:
    y: float
    label: str
    color: str = "#c62828"


@dataclass(frozen=True)
class Axis:
    label: str
    fmt: Formatter
    log: bool = False
    lo: float | None = None  # None: from the data (0 for linear scales)
    hi: float | None = None
    ticks: Sequence[tuple[float, str]] | None = None  # fixed ticks instead of computed ones


@dataclass
class _Scale:
    lo: float
    hi: float
    a: float  # pixel range
    b: float
    log: bool = False
    ticks: list[tuple[float, str]] = field(default_factory=list)

    def __call__(self, v: float) -> float:
        if self.log:
            v, lo, hi = math.log10(max(v, self.lo)), math.log10(self.lo), math.log10(self.hi)
        else:
            lo, hi = self.lo, self.hi
        frac = 0.0 if hi == lo else (v - lo) / (hi - lo)
        return round(self.a + frac * (self.b - self.a), 1)


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None


def fmt_int(v: Any) -> str:
    n = num(v)
    return "—" if n is None else f"{round(n):,}"


def fmt_float(v: Any, unit: str = "") -> str:
    """Up to 4 significant digits; thousands separators above 1000."""
    n = num(v)
    if n is None:
        return "—"
    text = f"{n:,.0f}" if abs(n) >= 1000 else f"{n:.4g}"
    return f"{text}{unit}"


def fmt_ms(v: float) -> str:
    return f"{v / 1000:g} s" if v >= 1000 else f"{v:g} ms"


def fmt_rate(v: float) -> str:
    return f"{v / 1000:g}k" if v >= 1000 else f"{v:g}"


def fmt_secs(v: float) -> str:
    return f"{int(v) // 60}:{int(v) % 60:02d}" if v >= 600 else f"{v:g}s"


def percentile_points(buckets: Sequence[Any], max_nines: float) -> list[Point]:
    """HDR ``[[value_ms, count], ...]`` → (nines, value_ms) staircase, nines = -log10(1 - percentile)."""
    pairs = [(num(b[0]), num(b[1])) for b in buckets if isinstance(b, list | tuple) and len(b) >= 2]
    data = sorted((v, c) for v, c in pairs if v is not None and c is not None and c > 0)
    total = sum(c for _, c in data)
    pts: list[Point] = []
    cum = 0.0
    for v, c in data:
        x0 = -math.log10(max(1 - cum / total, 10**-max_nines))
        cum += c
        x1 = -math.log10(max(1 - cum / total, 10**-max_nines))
        pts += [(x0, v), (x1, v)]
    return pts


def wants_log(values: Sequence[float | None], ratio: float = 50.0) -> bool:
    """True when the positive values span more than ``ratio`` (a log axis reads better)."""
    pos = [v for v in values if v is not None and v > 0]
    return bool(pos) and max(pos) / min(pos) > ratio


def nice_step(span: float, count: int = 5) -> float:
    raw = span / max(count, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def linear_ticks(lo: float, hi: float, count: int = 5) -> tuple[float, float, list[float]]:
    """A rounded domain covering [lo, hi] and the ticks in it."""
    if hi <= lo:
        hi = lo + 1
    step = nice_step(hi - lo, count)
    lo2, hi2 = math.floor(lo / step) * step, math.ceil(hi / step) * step
    n = round((hi2 - lo2) / step)
    return lo2, hi2, [round(lo2 + i * step, 10) for i in range(n + 1)]


def log_ticks(lo: float, hi: float) -> tuple[float, float, list[float]]:
    """Whole decades covering [lo, hi]; ticks at 1-2-5 steps when there are few decades."""
    lo_e, hi_e = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    if hi_e == lo_e:
        hi_e += 1
    mults = (1, 2, 5) if hi_e - lo_e <= 3 else (1,)
    ticks = [m * 10.0**e for e in range(lo_e, hi_e) for m in mults] + [10.0**hi_e]
    return 10.0**lo_e, 10.0**hi_e, ticks


def _decimate(points: Sequence[Point], limit: int = MAX_POINTS) -> list[Point]:
    if len(points) <= limit:
        return list(points)
    k = math.ceil(len(points) / (limit // 2))
    out: list[Point] = []
    for i in range(0, len(points), k):
        chunk = [p for p in points[i : i + k] if p[1] is not None]
        if not chunk:
            out.append((points[i][0], None))
            continue
        lo = min(chunk, key=lambda p: p[1] or 0.0)
        hi = max(chunk, key=lambda p: p[1] or 0.0)
        out.extend(sorted({lo, hi}, key=lambda p: p[0]))
    return out


def _scale(axis: Axis, values: list[float], a: float, b: float) -> _Scale:
    if axis.log:
        pos = [v for v in values if v > 0] or [1.0]
        lo, hi, ticks = log_ticks(axis.lo or min(pos), axis.hi or max(pos))
    else:
        lo0 = 0.0 if axis.lo is None else axis.lo
        hi0 = max(values, default=lo0) if axis.hi is None else axis.hi
        hi0 = hi0 if hi0 > lo0 else lo0 + 1  # all zero (no errors at all): a 0..1 axis
        lo, hi, ticks = linear_ticks(lo0, hi0)
        if axis.hi is not None:
            hi, ticks = axis.hi, [t for t in ticks if t <= axis.hi]
    if axis.ticks is not None:
        fixed = list(axis.ticks)
        return _Scale(lo if axis.lo is None else axis.lo, hi, a, b, axis.log, fixed)
    return _Scale(lo, hi, a, b, axis.log, [(t, axis.fmt(t)) for t in ticks])


def _path(points: list[Point], sx: _Scale, sy: _Scale) -> list[str]:
    """SVG path data, one segment per run of non-None (and, on log axes, positive) values."""
    segs: list[str] = []
    cur: list[str] = []
    for x, y in points:
        if y is None or (sy.log and y <= 0):
            if cur:
                segs.append("M" + "L".join(cur))
            cur = []
            continue
        cur.append(f"{sx(x)},{sy(min(max(y, sy.lo), sy.hi))}")
    if cur:
        segs.append("M" + "L".join(cur))
    return segs


def _legend(series: Sequence[Series], hlines: Sequence[HLine], width: int) -> tuple[list[str], int]:
    """Legend items laid out in rows above the plot; returns (markup, rows)."""
    out, x, y, rows = [], float(MARGIN_L), 14.0, 1
    items = [(s.name, s.color, s.dash) for s in series] + [(h.label, h.color, "4 3") for h in hlines]
    for name, color, dash in items:
        w = 28 + 6.6 * len(name)
        if x + w > width - MARGIN_R and x > MARGIN_L:
            x, y, rows = float(MARGIN_L), y + 16, rows + 1
        d = f' stroke-dasharray="{esc(dash)}"' if dash else ""
        out.append(
            f'<g class="legend-item"><line x1="{x}" y1="{y}" x2="{x + 18}" y2="{y}" stroke="{esc(color)}"'
            f' stroke-width="3"{d}/><text x="{x + 23}" y="{y + 4}">{esc(name)}</text></g>'
        )
        x += w + 12
    return out, rows


def line_chart(
    series: Sequence[Series],
    *,
    x: Axis,
    y: Axis,
    title: str,
    height: int = 300,
    hlines: Sequence[HLine] = (),
    hover: Sequence[tuple[float, float, str]] = (),
    width: int = WIDTH,
) -> str:
    """One SVG line chart. ``hover``: (x_from, x_to, text) bands that show ``text`` as a tooltip."""
    pts = {s.name: _decimate(s.points) for s in series}
    xs = [p[0] for ps in pts.values() for p in ps]
    ys = [p[1] for ps in pts.values() for p in ps if p[1] is not None] + [h.y for h in hlines]
    if not xs or not ys:
        return empty_chart(title, height, width)
    legend, rows = _legend(series, hlines, width)
    top = MARGIN_T + 16 * (rows - 1)
    height += 16 * (rows - 1)
    sx = _scale(x, xs, MARGIN_L, width - MARGIN_R)
    if x.lo is None and not x.log:  # the x domain is the data's, not a rounded one
        sx.lo, sx.hi = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
        sx.ticks = [(t, lb) for t, lb in sx.ticks if sx.lo <= t <= sx.hi]
    sy = _scale(y, ys, height - MARGIN_B, top)
    out = [
        f'<svg class="chart-svg" viewBox="0 0 {width} {height}" width="100%" role="img"'
        f' aria-label="{esc(title)}" font-size="12">',
        f"<title>{esc(title)}</title>",
        '<g class="legend">',
        *legend,
        "</g>",
        f'<rect class="plot-bg" x="{MARGIN_L}" y="{top}" width="{width - MARGIN_L - MARGIN_R}"'
        f' height="{height - MARGIN_B - top}" fill="#fafbfc"/>',
    ]
    for t, label in sy.ticks:
        py = sy(t)
        out.append(
            f'<line class="grid" x1="{MARGIN_L}" x2="{width - MARGIN_R}" y1="{py}" y2="{py}" stroke="#e3e6ea"/>'
            f'<text class="tick" x="{MARGIN_L - 6}" y="{py + 4}" text-anchor="end">{esc(label)}</text>'
        )
    for t, label in sx.ticks:
        px = sx(t)
        out.append(
            f'<line class="grid" x1="{px}" x2="{px}" y1="{top}" y2="{height - MARGIN_B}" stroke="#eef0f2"/>'
            f'<text class="tick" x="{px}" y="{height - MARGIN_B + 16}" text-anchor="middle">{esc(label)}</text>'
        )
    for s in series:
        segs = _path(pts[s.name], sx, sy)
        if s.area and not sy.log:
            base = sy(max(sy.lo, 0.0))
            for seg in segs:
                first, last = seg[1:].split("L")[0], seg.rsplit("L", 1)[-1].lstrip("M")
                out.append(
                    f'<path class="area" d="M{first.split(",")[0]},{base}L{seg[1:]}L{last.split(",")[0]},{base}Z"'
                    f' fill="{esc(s.color)}" fill-opacity="0.10" stroke="none"/>'
                )
        dash = f' stroke-dasharray="{esc(s.dash)}"' if s.dash else ""
        out.extend(
            f'<path class="series" data-series="{esc(s.name)}" d="{seg}" fill="none" stroke="{esc(s.color)}"'
            f' stroke-width="{s.width}" stroke-linejoin="round" stroke-linecap="round"{dash}/>'
            for seg in segs
        )
    for h in hlines:
        if sy.lo <= h.y <= sy.hi:
            py = sy(h.y)
            out.append(
                f'<line class="threshold" x1="{MARGIN_L}" x2="{width - MARGIN_R}" y1="{py}" y2="{py}"'
                f' stroke="{esc(h.color)}" stroke-width="1.5" stroke-dasharray="4 3"/>'
            )
    out.append(
        f'<line class="axis" x1="{MARGIN_L}" x2="{width - MARGIN_R}" y1="{height - MARGIN_B}"'
        f' y2="{height - MARGIN_B}" stroke="#8a939c"/>'
        f'<line class="axis" x1="{MARGIN_L}" x2="{MARGIN_L}" y1="{top}" y2="{height - MARGIN_B}" stroke="#8a939c"/>'
        f'<text class="axis-label" x="{(MARGIN_L + width - MARGIN_R) / 2}" y="{height - 6}"'
        f' text-anchor="middle">{esc(x.label)}</text>'
        f'<text class="axis-label" transform="translate(16,{(top + height - MARGIN_B) / 2}) rotate(-90)"'
        f' text-anchor="middle">{esc(y.label)}</text>'
    )
    step = max(1, math.ceil(len(hover) / MAX_BANDS))
    bands = list(hover)[::step]
    for i, (x0, x1, text) in enumerate(bands):
        x1 = bands[i + 1][0] if step > 1 and i + 1 < len(bands) else x1
        a, b = sx(max(x0, sx.lo)), sx(min(x1, sx.hi))
        if b > a:
            out.append(
                f'<rect class="hover" x="{a}" y="{top}" width="{round(b - a, 1)}" height="{height - MARGIN_B - top}"'
                f' fill="#000" fill-opacity="0"><title>{esc(text)}</title></rect>'
            )
    out.append("</svg>")
    return "".join(out)


def empty_chart(title: str, height: int = 120, width: int = WIDTH) -> str:
    return (
        f'<svg class="chart-svg empty" viewBox="0 0 {width} {height}" width="100%" role="img"'
        f' aria-label="{esc(title)}" font-size="13">'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fafbfc"/>'
        f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="#6b7580">No data</text></svg>'
    )
