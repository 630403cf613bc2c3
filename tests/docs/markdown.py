"""The fenced code blocks of a Markdown file, with the markers written just before them.

A marker is an HTML comment on the lines right above a fence (blank lines between are
allowed), invisible when the file is rendered:

- ``<!-- illustration: REASON -->``: not run (a real carrier, a placeholder id, ...);
  the reason is required;
- ``<!-- file: NAME -->``: the block is also written to NAME in the run's directory, for
  the commands after it (``--config gateway.toml``);
- ``<!-- fragment -->``: a ``toml`` block that is part of a config: merged into a
  minimal one before it is loaded;
- ``<!-- simulator -->``: a ``toml`` block that is ``smppsim``'s config, not the
  gateway's.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import attrs

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*(?P<kind>[\w-]+)\s*(?::\s*(?P<arg>.*?))?\s*-->\s*$")
MARKERS = ("illustration", "file", "fragment", "simulator")


@attrs.frozen
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    markers: dict[str, str] = attrs.field(factory=dict)

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


def _markers(lines: list[str], fence_index: int) -> dict[str, str]:
    found: dict[str, str] = {}
    i = fence_index - 1
    while i >= 0 and not lines[i].strip():
        i -= 1
    while i >= 0 and (m := _MARKER.match(lines[i])):
        found[m["kind"]] = m["arg"] or ""
        i -= 1
    return found


def blocks(path: Path) -> list[Block]:
    """Every fenced block of the file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        close = re.compile(rf"^ *{re.escape(m['fence'][0])}{{{len(m['fence'])},}}\s*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        body = textwrap.dedent("\n".join(lines[i + 1 : j])) + "\n"
        out.append(Block(path, i + 1, m["lang"].lower(), body, _markers(lines, i)))
        i = j + 1
    return out
