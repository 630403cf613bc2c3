"""The reference of ``smppgw serve``'s TOML config: every key with its type, default and
meaning, as data, rendered to Markdown (``python -m smppgw.configref > docs/config.md``).

Each ``Key`` has a path as the user writes it: a list of tables is written ``smsc[]``, a
key whose name the user chooses is ``<name>`` (``limits.senders.<sender>``). Its
``example`` is a value the parser accepts; ``tests/docs/test_configref.py`` builds a
config holding every documented key from these examples, loads it (no documented key is
refused) and records the keys each parser accepts (no accepted key is undocumented).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import attrs

__all__ = ["KEYS", "Key", "render", "sections"]


@attrs.frozen(kw_only=True)
class Key:
    path: str  # "smsc[].window"; a chosen name as "<name>"
    type: str  # what the parser accepts, in words
    default: str  # "required", "none" or the value
    meaning: str
    example: Any = None  # a value the parser accepts; None for a table (its keys have theirs)
    example_name: str = ""  # for a "<name>" key: the name used in the example config

    @property
    def section(self) -> str:
        """The table this key is in: ``smsc[]`` for ``smsc[].window``, "" at the top."""
        return self.path.rpartition(".")[0]

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2]


def _all() -> tuple[Key, ...]:
    from smppgw.configref.app_keys import APP_KEYS
    from smppgw.configref.gateway_keys import GATEWAY_KEYS
    from smppgw.configref.stream_keys import STREAM_KEYS
    from smppgw.configref.twoway_keys import TWOWAY_KEYS

    return (*GATEWAY_KEYS, *APP_KEYS, *TWOWAY_KEYS, *STREAM_KEYS)


KEYS: tuple[Key, ...] = _all()

_INTRO = """\
# `smppgw serve` configuration reference

Generated from `smppgw/configref/` by `python -m smppgw.configref > docs/config.md`;
`tests/docs/test_configref.py` fails when a key the parsers accept is missing here, or
when a key here is refused. `smppgw serve --config FILE` reads one UTF-8 TOML file. An
unknown key or a bad value stops the start with one line naming the key
(`smsc[0].window: an integer in 1..10000, got 0`), exit 2.

`smsc[]` is a list of tables, written `[[smsc]]` once per item; `<name>` is a key whose
name you choose. Sizes in bytes, times in seconds unless said otherwise. Secrets (the
SMSC's password, API keys, webhook secrets) are best read from the environment
(`password_env`, `keys_env`, `secret_env`), never committed.

Any key of a table (not of a list of tables such as `[[smsc]]`) can be set from the
environment as `SMPPGW_<SECTION>__<KEY>`, a double underscore for each dot, in any case:
`SMPPGW_API__LISTEN=0.0.0.0:8080` is `[api] listen`, `SMPPGW_STORE__FLUSH_INTERVAL=0.1`
is `[store] flush_interval`. The value is read as TOML when it parses (`5000`, `true`,
`["a", "b"]`), else as a string; it wins over the file and is checked the same way.
"""


def sections(keys: Sequence[Key] = KEYS) -> Iterator[tuple[str, list[Key]]]:
    """The keys grouped by their table, in the order the tables first appear."""
    order: dict[str, list[Key]] = {}
    for key in keys:
        order.setdefault(key.section, []).append(key)
    yield from order.items()


def _heading(section: str) -> str:
    if not section:
        return "Top level"
    if section.endswith("[]"):
        return f"`[[{section[:-2].replace('[]', '')}]]`"
    return f"`[{section.replace('[]', '')}]`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(keys: Sequence[Key] = KEYS, intro: str = _INTRO) -> str:
    """The reference as Markdown: ``intro``, then one table per config table."""
    lines = [intro]
    for section, items in sections(keys):
        lines += [f"## {_heading(section)}", "", "| key | type | default | meaning |", "|---|---|---|---|"]
        lines += [
            f"| `{_cell(k.name)}` | {_cell(k.type)} | {_cell(k.default)} | {_cell(k.meaning)} |"
            for k in items
        ]
        lines.append("")
    return "\n".join(lines)
