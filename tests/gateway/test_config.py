"""Gateway configuration: every bad key is named (DESIGN §4.3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smppgw.core.receipt import IdBase
from smppgw.core.states import BindMode
from smppgw.gateway.config import ConfigError, config_from_dict, load_config
from smppgw.policy.addressing import AddressKind

A: dict[str, Any] = {"name": "a", "host": "127.0.0.1", "port": 2775, "system_id": "id", "password": "pw"}
B: dict[str, Any] = {**A, "name": "b"}


def smsc(**changes: Any) -> dict[str, Any]:
    table = {**A, **changes}
    return {k: v for k, v in table.items() if v is not None}


BAD: list[tuple[dict[str, Any], str]] = [
    ({"smsc": []}, "smsc: at least one"),
    ({"smsc": [A], "bogus": 1}, "bogus: unknown key (known: gateway, inbound, limits"),
    ({"smsc": {"name": "a"}}, "smsc: expected a list"),
    ({"smsc": [smsc(host=None)]}, "smsc[0].host: missing"),
    ({"smsc": [smsc(colour="red")]}, "smsc[0].colour: unknown key"),
    ({"smsc": [smsc(port=70000)]}, "smsc[0].port"),
    ({"smsc": [smsc(window=0)]}, "smsc[0].window"),
    ({"smsc": [smsc(binds=True)]}, "smsc[0].binds"),
    ({"smsc": [smsc(tps=-5)]}, "smsc[0].tps"),
    ({"smsc": [smsc(bind_tps="fast")]}, "smsc[0].bind_tps"),
    ({"smsc": [smsc(password="123456789")]}, "smsc[0].password"),
    ({"smsc": [smsc(system_id="x" * 16)]}, "smsc[0].system_id"),
    ({"smsc": [smsc(bind="rx")]}, "smsc[0].bind"),
    ({"smsc": [smsc(concat="udh32")]}, "smsc[0].concat"),
    ({"smsc": [smsc(receipt_id_base="octal")]}, "smsc[0].receipt_id_base"),
    ({"smsc": [smsc(ton_npi={"robot": [1, 1]})]}, "smsc[0].ton_npi.robot"),
    ({"smsc": [smsc(ton_npi={"e164": [1]})]}, "smsc[0].ton_npi.e164"),
    ({"smsc": [smsc(tls="yes")]}, "smsc[0].tls"),
    ({"smsc": [smsc(password=None, password_env="SMPPGW_TEST_UNSET_VARIABLE")]}, "smsc[0].password_env"),
    ({"smsc": [smsc(password_env="X")]}, "smsc[0]: give exactly one of password or password_env"),
    ({"smsc": [A, A]}, "smsc: duplicate name"),
    ({"smsc": [A], "route": [{"smscs": ["zz"]}]}, "route[0].smscs[0]: no smsc named 'zz'"),
    ({"smsc": [A], "route": [{"smscs": ["a:x"]}]}, "route[0].smscs[0]: weight"),
    ({"smsc": [A], "route": [{"smscs": ["a:-1"]}]}, "route[0].smscs[0]"),
    ({"smsc": [A], "route": [{"smscs": []}]}, "route[0].smscs: needs at least one"),
    ({"smsc": [A], "route": [{"smscs": [[]]}]}, "route[0].smscs[0]: an empty tier"),
    ({"smsc": [A], "route": [{"name": "r"}]}, "route[0].smscs: missing"),
    ({"smsc": [A], "route": [{"smscs": ["a"], "prefixes": ["44a"]}]}, "route[0].prefixes[0]"),
    ({"smsc": [A], "route": [{"smscs": ["a"], "sender_kinds": ["robot"]}]}, "route[0].sender_kinds[0]"),
    ({"smsc": [A], "route": [{"smscs": ["a"], "tps": 0}]}, "route[0].tps"),
    (
        {"smsc": [A], "route": [{"smscs": ["a"], "via": "x"}]},
        "route[0].via: unknown key (known: name, pool, prefixes",
    ),
    ({"smsc": [A], "retry": {"jitter": 1.5}}, "retry.jitter"),
    ({"smsc": [A], "retry": {"max_attempts": 0}}, "retry.max_attempts"),
    ({"smsc": [A], "retry": {"initial": 0}}, "retry.initial"),
    ({"smsc": [A], "retry": {"tries": 3}}, "retry.tries: unknown key"),
    ({"smsc": [A], "limits": {"routes": {"nope": 5}}}, "limits.routes.nope"),
    ({"smsc": [A], "limits": {"long_code_tps": 0}}, "limits.long_code_tps"),
    ({"smsc": [A], "limits": {"senders": {"12345": "fast"}}}, "limits.senders.12345"),
    ({"smsc": [A], "limits": {"senders": {"+12": 1}}}, "limits.senders.+12"),
    ({"smsc": [A], "receipts": {"hold": -1}}, "receipts.hold"),
    ({"smsc": [A], "gateway": {"shutdown_timeout": "x"}}, "gateway.shutdown_timeout"),
    ({"smsc": [A], "gateway": {"drain": True}}, "gateway.drain: unknown key (known: shutdown_timeout)"),
]


@pytest.mark.parametrize(("data", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_config_names_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_full_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CARRIER_B_PASSWORD", "secret")
    path = tmp_path / "gw.toml"
    path.write_text(
        """
[[smsc]]
name = "a"
host = "127.0.0.1"
port = 2775
system_id = "id"
password = "pw"
binds = 3
bind = "tx+rx"
window = 20
tps = 30
receipt_id_base = "hex"
ton_npi = { short_code = [0, 1] }

[[smsc]]
name = "b"
host = "127.0.0.1"
port = 2776
system_id = "id"
password_env = "CARRIER_B_PASSWORD"

[[route]]
name = "uk"
prefixes = ["+44"]
smscs = [["a:3", "b"], "b"]
tps = 12

[retry]
max_attempts = 7
jitter = 0.1

[limits]
long_code_tps = 1
senders = { "+14155550100" = 2 }
routes = { uk = 10 }

[receipts]
hold = 90
"""
    )
    config = load_config(path)
    a, b = config.smscs
    assert a.modes == (BindMode.TX,) * 3 + (BindMode.RX,) * 3
    assert (a.window, a.tps, a.receipt_id_base) == (20, 30.0, IdBase.HEX)
    assert a.ton_npi == {AddressKind.SHORT_CODE: (0, 1)}
    assert b.password == "secret" and "secret" not in repr(b)
    [route] = config.routes
    assert route.prefixes == ("44",)
    assert [[(t.smsc, t.weight) for t in tier] for tier in route.tiers] == [
        [("a", 3.0), ("b", 1.0)],
        [("b", 1.0)],
    ]
    assert config.retry.max_attempts == 7 and config.retry.backoff.jitter == 0.1
    assert config.long_code_tps == 1.0
    assert config.sender_tps == {"14155550100": 2.0}  # as messages carry it: no '+'
    assert config.route_tps == {"uk": 10.0}  # [limits.routes] wins over the route's own tps
    assert config.receipt_hold == 90.0


def test_route_tps_and_default_route() -> None:
    config = config_from_dict({"smsc": [A, B], "route": [{"smscs": ["b"], "tps": 4}]})
    [route] = config.routes
    assert route.name == "route[0]"
    assert config.route_tps == {"route[0]": 4.0}
    default = config_from_dict({"smsc": [A, B]})
    assert [r.smscs for r in default.routes] == [("a",)]


def test_load_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config .*missing\.toml"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[[smsc]\n")
    with pytest.raises(ConfigError, match=r"broken\.toml"):
        load_config(broken)
    utf16 = tmp_path / "utf16.toml"
    utf16.write_text("[[smsc]]\n", encoding="utf-16")
    with pytest.raises(ConfigError, match=r"^config .*utf16\.toml: not UTF-8 text"):
        load_config(utf16)


def test_receipts_policy_is_part_or_message() -> None:
    base = {"name": "a", "host": "127.0.0.1", "port": 2775, "system_id": "x", "password": "y"}
    config = config_from_dict({"smsc": [{**base, "receipts": "message"}]})
    assert config.smscs[0].receipts == "message"
    assert config_from_dict({"smsc": [base]}).smscs[0].receipts == "part"
    with pytest.raises(ConfigError, match=r"smsc\[0\]\.receipts"):
        config_from_dict({"smsc": [{**base, "receipts": "sometimes"}]})
