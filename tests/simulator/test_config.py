"""Simulator config: shipped profiles, layering, validation errors naming their key, distributions."""

from __future__ import annotations

import math
import random
import re
import statistics
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from simulator.config import (
    Behaviour,
    ConfigError,
    ForceRule,
    SimConfig,
    build_behaviour,
    config_from_dict,
    load_config,
    load_profile,
    profile_names,
)
from simulator.dist import Dist, parse_dist
from smppgw.core.constants import CommandStatus

SHIPPED = {
    "default",
    "shortcode-100tps",
    "longcode-1tps",
    "flaky",
    "hex-ids",
    "dlr-before-resp",
    "strict",
    "uuid-ids",
    "upper-case-receipts",
}


def _acct(**extra: Any) -> dict[str, Any]:
    return {"system_id": "acme", "password": "secret", **extra}


# -- shipped profiles ---------------------------------------------------------------------------


def test_every_expected_profile_is_shipped() -> None:
    assert SHIPPED <= set(profile_names())


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_profile_loads_builds_and_is_described(name: str) -> None:
    raw = load_profile(name)
    assert "description" not in raw
    assert isinstance(build_behaviour(raw, f"profile {name}"), Behaviour)
    # usable as the global profile and as an account's own
    config = config_from_dict({"profile": name, "account": [_acct(profile=name)]})
    assert isinstance(config.behaviour_for(config.accounts[0]), Behaviour)
    text = resources.files("simulator.profiles").joinpath(f"{name}.toml").read_text()
    description = tomllib.loads(text).get("description")
    assert isinstance(description, str)
    assert description.strip()


def test_load_profile_returns_a_fresh_copy() -> None:
    raw = load_profile("flaky")
    raw["tps"] = 12345.0
    assert load_profile("flaky")["tps"] != 12345.0


def _behaviour(name: str) -> Behaviour:
    return build_behaviour(load_profile(name))


def test_shortcode_profile() -> None:
    b = _behaviour("shortcode-100tps")
    assert b.tps == 100
    assert b.bind_tps is not None
    assert b.bind_tps <= b.tps
    assert b.resp_latency == Dist("lognormal", 0.020, 0.150)
    outcomes = dict(b.outcomes)
    assert outcomes["DELIVRD"] > 0.9
    assert {"UNDELIV", "EXPIRED"} <= outcomes.keys()
    assert b.dlr_delay.kind == "lognormal"
    assert b.dlr_delay.a >= 1
    assert b.intermediate == ("ENROUTE",)


def test_longcode_profile() -> None:
    b = _behaviour("longcode-1tps")
    assert b.tps == 1
    assert b.queue_size is not None
    assert b.queue_size <= 5


def test_flaky_profile() -> None:
    b = _behaviour("flaky")
    assert 0 < b.drop_probability <= 0.01
    assert b.nack_probability > 0
    assert b.error_probability > 0
    assert b.error_status == CommandStatus.ESME_RSYSERR
    assert b.response_delay.kind == "lognormal"
    assert b.response_delay.b / b.response_delay.a >= 100  # a heavy tail
    assert b.unbind_after is not None
    assert b.duplicate_receipts > 0


def test_id_and_receipt_format_profiles() -> None:
    hex_ids = _behaviour("hex-ids")
    assert (hex_ids.message_id, hex_ids.receipt_id_base) == ("hex", "decimal")
    uuid_ids = _behaviour("uuid-ids")
    assert uuid_ids.message_id == "uuid"
    assert not uuid_ids.receipt_text
    assert uuid_ids.receipt_tlvs
    upper = _behaviour("upper-case-receipts")
    assert upper.receipt_upper_case
    assert upper.receipt_date_digits == 12
    assert upper.message_id == "padded"


def test_dlr_before_resp_profile() -> None:
    b = _behaviour("dlr-before-resp")
    assert b.dlr_before_resp >= 0.5
    assert b.dlr_delay.is_zero
    assert b.resp_latency.sample(random.Random(1)) > 0


def test_strict_profile() -> None:
    b = _behaviour("strict")
    assert b.strict
    assert b.tps is not None
    assert b.queue_size is not None


def test_unknown_profile_is_named() -> None:
    with pytest.raises(ConfigError, match=r"^profile: unknown profile 'nope'"):
        load_profile("nope")


# -- layering: profile < [behaviour] < [account.behaviour] --------------------------------------


def test_layering_order() -> None:
    config = config_from_dict(
        {
            "profile": "flaky",
            "behaviour": {"tps": 5.0, "nack_probability": 0.25},
            "account": [
                _acct(behaviour={"nack_probability": 0.5}),
                {"system_id": "other", "password": "pw", "profile": "hex-ids"},
            ],
        }
    )
    acme, other = config.accounts
    b = config.behaviour_for(acme)
    flaky = _behaviour("flaky")
    assert b.error_probability == flaky.error_probability  # from the profile
    assert b.tps == 5.0  # [behaviour] beats the profile
    assert b.nack_probability == 0.5  # [account.behaviour] beats [behaviour]
    # an account's own profile replaces the global one; [behaviour] still applies on top
    o = config.behaviour_for(other)
    assert o.message_id == "hex"
    assert o.error_probability == 0.0
    assert o.tps == 5.0
    assert o.nack_probability == 0.25


def test_patch_is_applied_last() -> None:
    config = config_from_dict({"account": [_acct(behaviour={"tps": 3.0})]})
    assert config.behaviour_for(config.accounts[0], {"tps": 9.0}).tps == 9.0
    assert config.behaviour_for(config.accounts[0]).tps == 3.0


def test_defaults() -> None:
    config = config_from_dict({})
    assert config == SimConfig()
    assert [a.system_id for a in config.accounts] == ["smppclient1"]
    assert config.port == 2775
    assert config.behaviour_for(config.accounts[0]).outcomes == (("DELIVRD", 1.0),)


def test_outcomes_accept_string_and_table() -> None:
    s = build_behaviour({"outcomes": "DELIVRD=0.9, undeliv=0.1"})
    t = build_behaviour({"outcomes": {"DELIVRD": 0.9, "UNDELIV": 0.1}})
    assert s.outcomes == t.outcomes == (("DELIVRD", 0.9), ("UNDELIV", 0.1))


def test_force_and_handset_rules_build() -> None:
    b = build_behaviour(
        {
            "force": [
                {"destination_suffix": "13", "outcome": "undeliv"},
                {"destination_prefix": "1555", "submit_status": "ESME_RINVDSTADR"},
            ],
            "handsets": [{"match": "survey", "replies": ["7", "score"], "weights": [1, 3], "delay": 2}],
        }
    )
    assert b.force[0] == ForceRule(destination_suffix="13", outcome="UNDELIV")
    assert b.force[1].submit_status == CommandStatus.ESME_RINVDSTADR
    assert b.handsets[0].replies == (("7", 1.0), ("score", 3.0))
    assert b.handsets[0].delay == Dist("const", 2.0)


# -- every validation error names its key --------------------------------------------------------

BAD: list[tuple[str, dict[str, Any], str]] = [
    ("unknown top-level key", {"bogus": 1}, "bogus"),
    ("unknown behaviour key", {"behaviour": {"bogus": 1}}, "behaviour.bogus"),
    ("unknown account key", {"account": [_acct(bogus=1)]}, "account[0]"),
    (
        "unknown account behaviour key",
        {"account": [_acct(behaviour={"bogus": 1})]},
        "account[0].behaviour.bogus",
    ),
    ("unknown session key", {"session": {"bogus": 1}}, "session"),
    ("port as a string", {"port": "2775"}, "port"),
    ("port out of range", {"port": 70000}, "port"),
    ("http_port out of range", {"http_port": -1}, "http_port"),
    ("negative seed", {"seed": -1}, "seed"),
    ("unknown global profile", {"profile": "nope"}, "profile"),
    ("tps as a string", {"behaviour": {"tps": "fast"}}, "behaviour.tps"),
    ("tps zero", {"behaviour": {"tps": 0}}, "behaviour.tps"),
    ("queue_size zero", {"behaviour": {"queue_size": 0}}, "behaviour.queue_size"),
    ("probability above 1", {"behaviour": {"drop_probability": 1.5}}, "behaviour.drop_probability"),
    ("negative probability", {"behaviour": {"dlr_before_resp": -0.1}}, "behaviour.dlr_before_resp"),
    ("boolean as a string", {"behaviour": {"strict": "yes"}}, "behaviour.strict"),
    ("bool as a number", {"behaviour": {"tps": True}}, "behaviour.tps"),
    ("negative delay", {"behaviour": {"dlr_delay": -1}}, "behaviour.dlr_delay"),
    ("unknown dist kind", {"behaviour": {"resp_latency": {"kind": "gamma"}}}, "behaviour.resp_latency.kind"),
    (
        "lognormal p99 below p50",
        {"behaviour": {"resp_latency": {"kind": "lognormal", "p50": 0.2, "p99": 0.1}}},
        "behaviour.resp_latency",
    ),
    (
        "dist missing key",
        {"behaviour": {"dlr_delay": {"kind": "uniform", "low": 1}}},
        "behaviour.dlr_delay.high",
    ),
    (
        "dist extra key",
        {"behaviour": {"dlr_delay": {"kind": "exponential", "mean": 1, "sd": 2}}},
        "behaviour.dlr_delay",
    ),
    ("unknown outcome", {"behaviour": {"outcomes": "DELIVRD=0.9,FOO=0.1"}}, "behaviour.outcomes"),
    ("outcome without weight", {"behaviour": {"outcomes": "DELIVRD"}}, "behaviour.outcomes"),
    ("outcome weight not a number", {"behaviour": {"outcomes": "DELIVRD=x"}}, "behaviour.outcomes.DELIVRD"),
    ("all outcome weights zero", {"behaviour": {"outcomes": {"DELIVRD": 0}}}, "behaviour.outcomes"),
    ("interim state unknown", {"behaviour": {"intermediate": ["BUFFRED"]}}, "behaviour.intermediate[0]"),
    ("message_id format", {"behaviour": {"message_id": "base64"}}, "behaviour.message_id"),
    ("receipt date digits", {"behaviour": {"receipt_date_digits": 14}}, "behaviour.receipt_date_digits"),
    ("unknown error_status", {"behaviour": {"error_status": "ESME_RNOPE"}}, "behaviour.error_status"),
    ("deliver_retry zero", {"behaviour": {"deliver_retry": [1, 0]}}, "behaviour.deliver_retry[1]"),
    ("behaviour not a table", {"behaviour": 3}, "behaviour"),
    (
        "force with outcome and submit_status",
        {"behaviour": {"force": [{"destination": "1", "outcome": "UNDELIV", "submit_status": 11}]}},
        "behaviour.force[0]",
    ),
    (
        "force with neither outcome nor submit_status",
        {"behaviour": {"force": [{"destination": "1"}]}},
        "behaviour.force[0]",
    ),
    ("force without destination", {"behaviour": {"force": [{"outcome": "UNDELIV"}]}}, "behaviour.force[0]"),
    (
        "force with a bad outcome",
        {"behaviour": {"force": [{"destination": "1", "outcome": "DELIVERED"}]}},
        "behaviour.force[0].outcome",
    ),
    (
        "force with an unknown key",
        {"behaviour": {"force": [{"destination": "1", "outcome": "UNDELIV", "when": 1}]}},
        "behaviour.force[0]",
    ),
    ("handset without reply", {"behaviour": {"handsets": [{"match": "x"}]}}, "behaviour.handsets[0]"),
    (
        "handset with reply and replies",
        {"behaviour": {"handsets": [{"reply": "a", "replies": ["b"]}]}},
        "behaviour.handsets[0]",
    ),
    (
        "handset weights mismatch",
        {"behaviour": {"handsets": [{"replies": ["a", "b"], "weights": [1]}]}},
        "behaviour.handsets[0].weights",
    ),
    (
        "handset probability above 1",
        {"behaviour": {"handsets": [{"reply": "a", "probability": 2}]}},
        "behaviour.handsets[0].probability",
    ),
    ("handset empty reply", {"behaviour": {"handset": [{"reply": ""}]}}, "behaviour.handset[0]"),
    ("duplicate accounts", {"account": [_acct(), _acct()]}, "account"),
    ("no accounts", {"account": []}, "account"),
    ("account not a list", {"account": {"system_id": "a"}}, "account"),
    ("system_id too long (C-Octet 16)", {"account": [_acct(system_id="x" * 16)]}, "account[0].system_id"),
    ("system_id empty", {"account": [_acct(system_id="")]}, "account[0].system_id"),
    ("password too long (C-Octet 9)", {"account": [_acct(password="x" * 9)]}, "account[0].password"),
    ("password missing", {"account": [{"system_id": "acme"}]}, "account[0].password"),
    ("bind type unknown", {"account": [_acct(bind_types=["tx", "bogus"])]}, "account[0].bind_types[1]"),
    ("no bind types", {"account": [_acct(bind_types=[])]}, "account[0].bind_types"),
    ("max_binds zero", {"account": [_acct(max_binds=0)]}, "account[0].max_binds"),
    ("account behaviour value", {"account": [_acct(behaviour={"tps": -1})]}, "account[0].behaviour.tps"),
    ("global system_id too long", {"system_id": "x" * 16}, "system_id"),
    ("session window zero", {"session": {"window": 0}}, "session.window"),
    ("session bind_timeout zero", {"session": {"bind_timeout": 0}}, "session.bind_timeout"),
    ("session timer as a string", {"session": {"response_timeout": "30s"}}, "session.response_timeout"),
    ("session max_command_length", {"session": {"max_command_length": 8}}, "session.max_command_length"),
]


@pytest.mark.parametrize(("data", "key"), [(d, k) for _, d, k in BAD], ids=[n for n, _, _ in BAD])
def test_validation_error_names_its_key(data: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    message = str(info.value)
    assert re.search(rf"(^|\s){re.escape(key)}($|[:.\[\s])", message), message
    assert "\n" not in message


def test_accounts_own_unknown_profile_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"profile.*'nope'"):
        config_from_dict({"account": [_acct(profile="nope")]})


def test_load_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[behaviour\n")
    with pytest.raises(ConfigError, match=r"broken\.toml"):
        load_config(broken)
    utf16 = tmp_path / "utf16.toml"
    utf16.write_text("port = 2775\n", encoding="utf-16")
    with pytest.raises(ConfigError, match=r"^config .*utf16\.toml: not UTF-8 text"):
        load_config(utf16)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[[account]]\nsystem_id = 'a'\npassword = 'b'\nflavour = 1\n")
    with pytest.raises(ConfigError, match=r"account\[0\].*flavour"):
        load_config(unknown)


def test_load_config_reads_a_full_file(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text(
        """
port = 0
seed = 7
profile = "shortcode-100tps"

[session]
window = 4
enquire_link_interval = 30

[behaviour]
dlr_delay = { kind = "exponential", mean = 2.0 }

[[account]]
system_id = "acme"
password = "secret"
max_binds = 2
bind_types = ["tx", "rx"]

[account.behaviour]
outcomes = "DELIVRD=0.5,UNDELIV=0.5"
force = [{ destination_suffix = "13", outcome = "UNDELIV" }]
"""
    )
    config = load_config(path)
    assert (config.port, config.seed, config.session.window) == (0, 7, 4)
    (acme,) = config.accounts
    assert acme.max_binds == 2
    assert acme.bind_types == frozenset({"tx", "rx"})
    b = config.behaviour_for(acme)
    assert b.tps == 100
    assert b.dlr_delay == Dist("exponential", 2.0)
    assert b.outcomes == (("DELIVRD", 0.5), ("UNDELIV", 0.5))
    assert b.force[0].matches("15550100013")


# -- ForceRule.matches -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "destination", "expected"),
    [
        (ForceRule(destination="15550100", outcome="UNDELIV"), "15550100", True),
        (ForceRule(destination="15550100", outcome="UNDELIV"), "155501000", False),
        (ForceRule(destination_prefix="1555", outcome="UNDELIV"), "15550100", True),
        (ForceRule(destination_prefix="1555", outcome="UNDELIV"), "4415550100", False),
        (ForceRule(destination_suffix="13", outcome="UNDELIV"), "15550113", True),
        (ForceRule(destination_suffix="13", outcome="UNDELIV"), "15550131", False),
        (ForceRule(destination_prefix="1", destination_suffix="13", submit_status=11), "1555013", True),
        (ForceRule(destination_prefix="1", destination_suffix="13", submit_status=11), "4455513", False),
        (ForceRule(destination_prefix="1", destination_suffix="13", submit_status=11), "1555014", False),
        (ForceRule(destination="13", destination_suffix="13", outcome="EXPIRED"), "13", True),
        (ForceRule(destination="13", destination_suffix="13", outcome="EXPIRED"), "113", False),
    ],
)
def test_force_rule_matches(rule: ForceRule, destination: str, expected: bool) -> None:
    assert rule.matches(destination) is expected


# -- distributions ---------------------------------------------------------------------------------

N = 20_000


def _samples(dist: Dist, seed: int = 20240) -> list[float]:
    rng = random.Random(seed)
    return [dist.sample(rng) for _ in range(N)]


def test_const_dist() -> None:
    assert set(_samples(parse_dist(0.25, "d"))) == {0.25}
    assert parse_dist(0, "d").is_zero
    assert parse_dist({"kind": "const", "value": 1.5}, "d") == Dist("const", 1.5)


def test_uniform_dist() -> None:
    xs = _samples(parse_dist({"kind": "uniform", "low": 0.1, "high": 2.0}, "d"))
    assert min(xs) >= 0.1
    assert max(xs) <= 2.0
    assert statistics.fmean(xs) == pytest.approx(1.05, rel=0.02)


def test_exponential_dist() -> None:
    xs = _samples(parse_dist({"kind": "exponential", "mean": 1.5}, "d"))
    assert min(xs) >= 0
    assert statistics.fmean(xs) == pytest.approx(1.5, rel=0.05)
    assert statistics.median(xs) == pytest.approx(1.5 * math.log(2), rel=0.05)
    assert set(_samples(Dist("exponential", 0.0))) == {0.0}


@pytest.mark.parametrize(("p50", "p99"), [(0.020, 0.150), (3.0, 30.0), (0.005, 1.0)])
def test_lognormal_dist_hits_its_percentiles(p50: float, p99: float) -> None:
    xs = sorted(_samples(parse_dist({"kind": "lognormal", "p50": p50, "p99": p99}, "d")))
    assert min(xs) > 0
    assert xs[N // 2] == pytest.approx(p50, rel=0.10)
    assert xs[int(N * 0.99)] == pytest.approx(p99, rel=0.15)


def test_lognormal_with_equal_percentiles_is_constant() -> None:
    assert set(_samples(parse_dist({"kind": "lognormal", "p50": 0.5, "p99": 0.5}, "d"))) == {0.5}


def test_sampling_is_reproducible_with_a_seed() -> None:
    d = Dist("lognormal", 0.02, 0.15)
    assert _samples(d, seed=1)[:100] == _samples(d, seed=1)[:100]
    assert _samples(d, seed=1)[:100] != _samples(d, seed=2)[:100]


@pytest.mark.parametrize(
    "table",
    [
        {"kind": "uniform", "low": 0.1, "high": 2.0},
        {"kind": "lognormal", "p50": 0.05, "p99": 0.8},
        {"kind": "exponential", "mean": 1.5},
    ],
)
def test_dist_describe_round_trips(table: dict[str, Any]) -> None:
    d = parse_dist(table, "d")
    assert d.describe() == table
    assert parse_dist(d.describe(), "d") == d
    assert parse_dist(Dist("const", 2.5).describe(), "d") == Dist("const", 2.5)


@pytest.mark.parametrize(
    ("value", "where"),
    [
        (True, "x.delay"),
        (-0.5, "x.delay"),
        (math.inf, "x.delay"),
        (math.nan, "x.delay"),
        ("1s", "x.delay"),
        ([1, 2], "x.delay"),
        ({}, "x.delay.kind"),
        ({"kind": "normal"}, "x.delay.kind"),
        ({"kind": "const"}, "x.delay.value"),
        ({"kind": "uniform", "low": 2, "high": 1}, "x.delay"),
        ({"kind": "uniform", "low": -1, "high": 1}, "x.delay.low"),
        ({"kind": "lognormal", "p50": 0, "p99": 1}, "x.delay"),
        ({"kind": "lognormal", "p50": 1}, "x.delay.p99"),
        ({"kind": "lognormal", "p50": "1", "p99": 2}, "x.delay.p50"),
        ({"kind": "exponential", "mean": False}, "x.delay.mean"),
        ({"kind": "exponential", "mean": 1, "low": 0}, "x.delay"),
    ],
)
def test_parse_dist_errors_name_where(value: Any, where: str) -> None:
    with pytest.raises(ValueError, match=r"^" + where.replace(".", r"\.") + ":") as info:
        parse_dist(value, "x.delay")
    assert not isinstance(info.value, ConfigError)  # parse_dist itself is config-agnostic
