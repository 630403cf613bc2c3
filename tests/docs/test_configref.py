"""The config references are complete and true: ``smppgw.configref`` (``smppgw serve``,
docs/config.md) and ``simulator.configref`` (``smppsim``, docs/simulator-config.md).

For each, a config holding every documented key, each set to its example, loads (no
documented key is refused), and the keys every parser accepts on the way (each call of
``support.config.unknown_keys``, its ``known`` set per table, list indices as ``[]``)
are exactly the documented ones (no accepted key is undocumented). The checked-in
Markdown is the rendered reference."""

from __future__ import annotations

import base64
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
import trustme

import simulator.configref as sim_ref
import smppgw.configref as gw_ref
import smppgw.support.config as support_config
from simulator.config import check_control
from simulator.config import config_from_dict as sim_config_from_dict
from smppgw.app import app_config_from_dict
from smppgw.configref import Key

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_" + base64.b64encode(b"k" * 24).decode()
ENV = {
    "CARRIER_A_PASSWORD": "secret",
    "SMPPGW_API_KEYS": "docs-key-1,docs-key-2",
    "SMPPGW_WEBHOOK_SECRET": SECRET,
    "PLATFORM_WEBHOOK_SECRET": SECRET,
}


@attrs.frozen
class Reference:
    keys: Sequence[Key]
    load: Callable[[dict[str, Any], Path], object]
    # Keys that exclude another documented key of their table: set in a second item of
    # the list, with the table's required keys and (if the table has one) its own name.
    second_item: frozenset[str] = frozenset()
    second_name: dict[str, str] = attrs.field(factory=dict)
    # Tables the parsers name otherwise than the reference: a pattern -> its section.
    aliases: tuple[tuple[str, str], ...] = ()

    @property
    def chosen(self) -> dict[str, str]:
        """A table whose name the user chooses -> the name it has in the example config."""
        return {k.path: k.example_name for k in self.keys if k.name.startswith("<")}

    def concrete(self, path: str) -> str:
        """``twoway.texts.<programme or sender>`` -> ``twoway.texts.reminders``."""
        parts, chosen = path.split("."), self.chosen
        return ".".join(
            chosen[".".join(parts[: i + 1])] if p.startswith("<") else p for i, p in enumerate(parts)
        )

    def _container(self, root: dict[str, Any], parts: list[str], item: int) -> dict[str, Any]:
        node: Any = root
        for i, part in enumerate(parts):
            if part.startswith("<"):
                part = self.chosen[".".join(parts[: i + 1])]
            if part.endswith("[]"):
                items = node.setdefault(part[:-2], [])
                while len(items) <= item:
                    items.append({})
                node = items[item]
            else:
                node = node.setdefault(part, {})
        return node

    def _set(self, root: dict[str, Any], key: Key, item: int = 0) -> None:
        *parts, name = key.path.split(".")
        node = self._container(root, parts, item)
        if name.startswith("<"):
            name = key.example_name
        if key.example is not None:
            node[name] = key.example
        elif key.type == "table":
            node.setdefault(name, {})

    def full_config(self) -> dict[str, Any]:
        """Every documented key at its example; exclusive keys in a second list item."""
        data: dict[str, Any] = {}
        for key in self.keys:
            if key.path not in self.second_item:
                self._set(data, key)
        for key in self.keys:
            if key.path in self.second_item:
                for required in self.keys:
                    if required.section == key.section and required.default.startswith("required"):
                        self._set(data, required, item=1)
                self._set(data, key, item=1)
                if key.section in self.second_name:
                    self._container(data, key.section.split("."), 1)["name"] = self.second_name[key.section]
        return data

    def section(self, where: str) -> str:
        section = re.sub(r"\[\d+\]", "[]", where)
        for pattern, name in self.aliases:
            section = re.sub(pattern, name, section)
        return {self.concrete(path): path for path in self.chosen}.get(section, section)


def _load_serve(data: dict[str, Any], base: Path) -> object:
    return app_config_from_dict(data, environ=dict(ENV), base=base)


def _load_sim(data: dict[str, Any], base: Path) -> object:
    config = sim_config_from_dict(data)
    check_control(config)
    return config


SERVE = Reference(
    gw_ref.KEYS,
    _load_serve,
    frozenset({"smsc[].password_env", "twoway.rule[].pattern", "twoway.rule[].programme"}),
    {"smsc[]": "carrier-b", "twoway.rule[]": "voucher"},
)
SIMULATOR = Reference(
    sim_ref.KEYS,
    _load_sim,
    frozenset(
        {"behaviour.force[].submit_status", "behaviour.handsets[].replies", "behaviour.handsets[].weights"}
    ),
    aliases=(
        (r"^account\[\]\.behaviour", "behaviour"),  # [account.behaviour] takes [behaviour]'s keys
        (r"^account \S+ behaviour", "behaviour"),  # the layers merged, checked per account
        (r"^profile \S+", "behaviour"),  # a shipped profile is a behaviour table
        (r"^behaviour\.handset\[\]", "behaviour.handsets[]"),
        (
            r"^behaviour\.personas\.number\[\]\.(?=yes_no|score|choice|question|offer|other)",
            "behaviour.personas.",
        ),
    ),
)
REFERENCES = {"serve": SERVE, "simulator": SIMULATOR}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The PEM files and environment variables the examples name; a fresh working directory."""
    ca = trustme.CA()
    for name in ("carrier-ca.pem", "client-ca.pem"):
        ca.cert_pem.write_to_path(str(tmp_path / name))
    client = ca.issue_cert("client.example")
    client.cert_chain_pems[0].write_to_path(str(tmp_path / "client-cert.pem"))
    client.private_key_pem.write_to_path(str(tmp_path / "client-key.pem"))
    (tmp_path / "tls").mkdir()
    server = ca.issue_cert("127.0.0.1")
    for cert, key in (("tls/api-cert.pem", "tls/api-key.pem"), ("sim-cert.pem", "sim-key.pem")):
        server.cert_chain_pems[0].write_to_path(str(tmp_path / cert))
        server.private_key_pem.write_to_path(str(tmp_path / key))
    monkeypatch.chdir(tmp_path)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def _accepted_keys(
    monkeypatch: pytest.MonkeyPatch, ref: Reference, data: dict[str, Any], base: Path
) -> set[str]:
    """Loads ``data``; returns each key the parsers accepted, as a reference path."""
    original = support_config.unknown_keys
    seen: set[str] = set()

    def spy(t: Any, known: Any, where: str) -> None:
        section = ref.section(where)
        seen.update(f"{section}.{k}" if section else str(k) for k in known)
        original(t, known, where)

    # Every module that imported the function by name gets the spy.
    for module in list(sys.modules.values()):
        if getattr(module, "unknown_keys", None) is original:
            monkeypatch.setattr(module, "unknown_keys", spy)
    ref.load(data, base)
    return seen


@pytest.mark.parametrize("name", REFERENCES)
def test_every_documented_key_loads_and_every_accepted_key_is_documented(
    name: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = REFERENCES[name]
    accepted = _accepted_keys(monkeypatch, ref, ref.full_config(), workdir)
    documented = {k.path for k in ref.keys if not k.name.startswith("<")}
    assert sorted(accepted - documented) == [], "accepted by the parsers, not in the reference"
    assert sorted(documented - accepted) == [], "documented, unknown to the parsers"


@pytest.mark.parametrize(("name", "table"), [("serve", "api"), ("simulator", "session")])
def test_a_key_the_reference_does_not_have_is_refused(name: str, table: str, workdir: Path) -> None:
    """The check above could fail: an undocumented key stops the load, naming it."""
    ref = REFERENCES[name]
    data = ref.full_config()
    data[table]["no_such_key"] = 1
    with pytest.raises(support_config.ConfigError, match=rf"^{table}\.no_such_key: unknown key"):
        ref.load(data, workdir)


@pytest.mark.parametrize("name", REFERENCES)
def test_every_key_is_described_and_chosen_names_sit_in_tables(name: str) -> None:
    keys = REFERENCES[name].keys
    paths = [k.path for k in keys]
    assert len(paths) == len(set(paths)), "a key documented twice"
    tables = {k.path for k in keys if k.example is None}
    for key in keys:
        assert key.type and key.default and key.meaning.endswith((".", "...")), key.path
        if key.example is None:
            assert "table" in key.type, f"{key.path}: a value needs an example"
        if key.section:
            assert key.section.removesuffix("[]") in tables, f"{key.path}: its table is not documented"
        if key.name.startswith("<"):
            assert key.example_name, f"{key.path}: an example name"


@pytest.mark.parametrize(
    ("path", "render", "command"),
    [
        ("docs/config.md", gw_ref.render, "python -m smppgw.configref > docs/config.md"),
        (
            "docs/simulator-config.md",
            sim_ref.render_simulator,
            "python -m simulator.configref > docs/simulator-config.md",
        ),
    ],
)
def test_the_checked_in_reference_is_the_rendered_one(
    path: str, render: Callable[[], str], command: str
) -> None:
    assert (ROOT / path).read_text(encoding="utf-8") == render(), f"regenerate: {command}"
