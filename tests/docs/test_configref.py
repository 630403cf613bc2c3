"""The config reference (``smppgw.configref``, rendered to docs/config.md) is complete
and true: a config holding every documented key, each set to its example, loads (no
documented key is refused), and the keys every parser accepts on the way (each call of
``support.config.unknown_keys``, its ``known`` set per table) are exactly the documented
ones (no accepted key is undocumented)."""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import trustme

import smppgw.support.config as support_config
from smppgw.app import app_config_from_dict
from smppgw.configref import KEYS, Key, render

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_" + base64.b64encode(b"k" * 24).decode()
ENV = {
    "CARRIER_A_PASSWORD": "secret",
    "SMPPGW_API_KEYS": "docs-key-1,docs-key-2",
    "SMPPGW_WEBHOOK_SECRET": SECRET,
    "PLATFORM_WEBHOOK_SECRET": SECRET,
}
# Keys that exclude another documented key of their table go in a second item of the
# list, with the section's required keys and its own name.
SECOND_ITEM = {"smsc[].password_env", "twoway.rule[].pattern", "twoway.rule[].programme"}
SECOND_NAME = {"smsc[]": "carrier-b", "twoway.rule[]": "voucher"}


# A table whose name the user chooses -> the name used for it in the example config.
CHOSEN = {k.path: k.example_name for k in KEYS if k.name.startswith("<")}


def _concrete(path: str) -> str:
    """``twoway.texts.<programme or sender>`` -> ``twoway.texts.reminders``."""
    parts = path.split(".")
    return ".".join(CHOSEN[".".join(parts[: i + 1])] if p.startswith("<") else p for i, p in enumerate(parts))


def _container(root: dict[str, Any], parts: list[str], item: int) -> dict[str, Any]:
    node: Any = root
    for i, part in enumerate(parts):
        if part.startswith("<"):
            part = CHOSEN[".".join(parts[: i + 1])]
        if part.endswith("[]"):
            items = node.setdefault(part[:-2], [])
            while len(items) <= item:
                items.append({})
            node = items[item]
        else:
            node = node.setdefault(part, {})
    return node


def _set(root: dict[str, Any], key: Key, item: int = 0) -> None:
    *parts, name = key.path.split(".")
    node = _container(root, parts, item)
    if name.startswith("<"):
        name = key.example_name
    if key.example is not None:
        node[name] = key.example
    elif key.type == "table":
        node.setdefault(name, {})


def full_config() -> dict[str, Any]:
    """Every documented key at its example; exclusive keys in a second list item."""
    data: dict[str, Any] = {}
    for key in KEYS:
        if key.path not in SECOND_ITEM:
            _set(data, key)
    for key in KEYS:
        if key.path in SECOND_ITEM:
            for required in KEYS:
                if required.section == key.section and required.default == "required":
                    _set(data, required, item=1)
            _set(data, key, item=1)
            _container(data, key.section.split("."), 1)["name"] = SECOND_NAME[key.section]
    return data


@pytest.fixture
def tls_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The PEM files the examples name, in a fresh working directory."""
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "carrier-ca.pem"))
    client = ca.issue_cert("client.example")
    client.cert_chain_pems[0].write_to_path(str(tmp_path / "client-cert.pem"))
    client.private_key_pem.write_to_path(str(tmp_path / "client-key.pem"))
    (tmp_path / "tls").mkdir()
    server = ca.issue_cert("127.0.0.1")
    server.cert_chain_pems[0].write_to_path(str(tmp_path / "tls" / "api-cert.pem"))
    server.private_key_pem.write_to_path(str(tmp_path / "tls" / "api-key.pem"))
    monkeypatch.chdir(tmp_path)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def _accepted_keys(monkeypatch: pytest.MonkeyPatch, data: dict[str, Any], base: Path) -> set[str]:
    """Loads ``data``; returns each key the parsers accepted, as a reference path."""
    original = support_config.unknown_keys
    seen: set[str] = set()

    chosen_tables = {_concrete(path): path for path in CHOSEN}

    def spy(t: Any, known: Any, where: str) -> None:
        section = re.sub(r"\[\d+\]", "[]", where)
        section = chosen_tables.get(section, section)
        seen.update(f"{section}.{k}" if section else str(k) for k in known)
        original(t, known, where)

    # Every module that imported the function by name gets the spy.
    for module in list(sys.modules.values()):
        if getattr(module, "unknown_keys", None) is original:
            monkeypatch.setattr(module, "unknown_keys", spy)
    app_config_from_dict(data, environ=dict(ENV), base=base)
    return seen


def test_every_documented_key_loads_and_every_accepted_key_is_documented(
    tls_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    accepted = _accepted_keys(monkeypatch, full_config(), tls_files)
    documented = {k.path for k in KEYS if not k.name.startswith("<")}
    assert sorted(accepted - documented) == [], "accepted by the parsers, not in smppgw/configref"
    assert sorted(documented - accepted) == [], "documented, unknown to the parsers"


def test_a_key_the_reference_does_not_have_is_refused(tls_files: Path) -> None:
    """The check above could fail: an undocumented key stops the load, naming it."""
    data = full_config()
    data["api"]["no_such_key"] = 1
    with pytest.raises(support_config.ConfigError, match=r"^api\.no_such_key: unknown key"):
        app_config_from_dict(data, environ=dict(ENV), base=tls_files)


def test_every_key_is_described_and_chosen_names_sit_in_tables() -> None:
    paths = [k.path for k in KEYS]
    assert len(paths) == len(set(paths)), "a key documented twice"
    tables = {k.path for k in KEYS if k.example is None}
    for key in KEYS:
        assert key.type and key.default and key.meaning.endswith((".", "...")), key.path
        if key.example is None:
            assert "table" in key.type, f"{key.path}: a value needs an example"
        if key.section:
            assert key.section.removesuffix("[]") in tables, f"{key.path}: its table is not documented"
        if key.name.startswith("<"):
            assert key.example_name, f"{key.path}: an example name"


def test_docs_config_md_is_the_rendered_reference() -> None:
    text = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    assert text == render(), "regenerate: python -m smppgw.configref > docs/config.md"
