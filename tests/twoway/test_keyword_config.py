"""``[twoway.keywords]`` and ``[[twoway.rule]]``: every mistake is a ConfigError naming its
key, found when the config is read."""

from __future__ import annotations

from typing import Any

import pytest

from smppgw.support.config import ConfigError
from smppgw.twoway.config import twoway_from_dict
from smppgw.twoway.keyword_config import KeywordConfig, Rule, keywords_from_dict
from smppgw.twoway.keywords import KeywordMatch, Keywords, Kind


def _error(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        twoway_from_dict(data)
    return str(info.value)


@pytest.mark.parametrize(
    ("data", "starts"),
    [
        ({"keywords": {"matching": "loose"}}, "twoway.keywords.matching: one of strict, standard, custom"),
        ({"keywords": {"languages": ["en", "xx"]}}, "twoway.keywords.languages[1]: one of"),
        ({"keywords": {"opt_out": "STOP"}}, "twoway.keywords.opt_out: expected a list"),
        ({"keywords": {"opt_out": ["OK", "!!"]}}, "twoway.keywords.opt_out[1]: 1 to 4 words"),
        ({"keywords": {"help": ["one two three four five"]}}, "twoway.keywords.help[0]: 1 to 4 words"),
        (
            {"keywords": {"help": ["MENU", "STOP"]}},
            "twoway.keywords.help[1]: 'STOP' is already an opt-out keyword",
        ),
        ({"keywords": {"opt_in": ["Arrêt"]}}, "twoway.keywords.opt_in[0]: 'ARRÊT' is already an opt-out"),
        (
            {"keywords": {"opt_out": ["MENU"], "help": ["menu!"]}},
            "twoway.keywords.help[0]: 'MENU!' is already",
        ),
        ({"keywords": {"exclude": ["STOPIT"]}}, "twoway.keywords.exclude[0]: 'STOPIT' is not a built-in"),
        ({"keywords": {"languages": ["en"], "exclude": ["ARRET"]}}, "twoway.keywords.exclude[0]:"),
        (
            {"keywords": {"matching": "custom", "patterns": ["(?P<keyword>\\w+)", "x", "(unclosed"]}},
            "twoway.keywords.patterns[1]: needs a (?P<keyword>...) group",
        ),
        (
            {
                "keywords": {
                    "matching": "custom",
                    "patterns": ["(?P<keyword>\\w+)", "(?P<keyword>\\w+) x", "(?P<keyword>x"],
                }
            },
            "twoway.keywords.patterns[2]: invalid regular expression",
        ),
        (
            {"keywords": {"patterns": ["(?P<keyword>stop)"]}},
            'twoway.keywords.patterns: only with matching = "custom"',
        ),
        ({"keywords": {"matching": "custom"}}, "twoway.keywords.patterns: missing"),
        ({"keywords": {"opt_outs": []}}, "twoway.keywords.opt_outs: unknown key"),
        ({"rule": {"keyword": "JOIN"}}, "twoway.rule: expected a list"),
        ({"rule": [{"keyword": "JOIN", "pattern": "x"}]}, "twoway.rule[0]: a keyword or a pattern"),
        ({"rule": [{"reply": "hi"}]}, "twoway.rule[0]: a keyword or a pattern"),
        (
            {"rule": [{"keyword": "JOIN"}, {"keyword": "STOP"}]},
            "twoway.rule[1].keyword: 'STOP' is already an opt-out keyword",
        ),
        ({"rule": [{"keyword": "Help"}]}, "twoway.rule[0].keyword: 'HELP' is already a help keyword"),
        ({"rule": [{"pattern": "^PRICES?$"}]}, "twoway.rule[0].name: missing (a pattern rule needs a name)"),
        ({"rule": [{"name": "p", "pattern": "(["}]}, "twoway.rule[0].pattern: invalid regular expression"),
        ({"rule": [{"keyword": "JOIN", "tag": "no spaces"}]}, "twoway.rule[0].tag: 1-64 of"),
        ({"rule": [{"keyword": "JOIN", "event": "yes"}]}, "twoway.rule[0].event: expected true or false"),
        ({"rule": [{"keyword": "JOIN", "reply": ""}]}, "twoway.rule[0].reply:"),
        ({"rule": [{"keyword": "JOIN", "senders": []}]}, "twoway.rule[0].senders: at least one number"),
        (
            {"rule": [{"keyword": "JOIN", "senders": ["1"], "programme": "p"}]},
            "twoway.rule[0].programme: senders",
        ),
        ({"rule": [{"keyword": "JOIN"}, {"keyword": "join"}]}, "twoway.rule[1].name: 'JOIN' is taken"),
        (
            {"rule": [{"keyword": "JOIN"}, {"name": "again", "keyword": "join"}]},
            "twoway.rule[1].keyword: 'join' for the same senders",
        ),
        ({"rule": [{"keyword": "JOIN", "replies": "x"}]}, "twoway.rule[0].replies: unknown key"),
    ],
)
def test_a_bad_setting_names_its_key(data: dict[str, Any], starts: str) -> None:
    assert _error(data).startswith(starts), _error(data)


def test_a_rule_naming_an_unknown_programme_is_refused_once_programmes_are_known() -> None:
    config = KeywordConfig(rules=(Rule(name="deal", keyword="DEAL", programme="promo"),))
    with pytest.raises(
        ConfigError, match=r"twoway\.rule\[0\]\.programme: unknown programme 'promo' \(alerts\)"
    ):
        Keywords(config, programmes=["alerts"])
    assert Keywords(config, programmes={"promo": ["+12345"]}).classify("deal", sender="12345") is not None


def test_a_good_config_is_read() -> None:
    config = twoway_from_dict(
        {
            "keywords": {
                "matching": "strict",
                "languages": ["en", "es"],
                "opt_in": ["YES"],
                "exclude": ["END"],
            },
            "rule": [
                {"keyword": "JOIN", "reply": "Welcome", "tag": "join", "event": True, "senders": ["+12345"]}
            ],
        }
    ).keywords
    assert (config.matching, config.languages, config.opt_in, config.exclude) == (
        "strict",
        ("en", "es"),
        ("YES",),
        ("END",),
    )
    assert config.rules == (
        Rule(name="JOIN", keyword="JOIN", reply="Welcome", tag="join", event=True, senders=("12345",)),
    )
    assert twoway_from_dict(None).keywords == KeywordConfig()


def test_rule_programmes_are_checked_when_read_if_the_programmes_are_given() -> None:
    rules = [{"keyword": "DEAL", "programme": "promo"}]
    assert keywords_from_dict(None, rules).rules[0].programme == "promo"  # checked later, by Keywords
    with pytest.raises(
        ConfigError, match=r"^twoway\.rule\[0\]\.programme: unknown programme 'promo' \(none configured\)"
    ):
        keywords_from_dict(None, rules, programmes={})


def test_one_keyword_in_rules_for_different_programmes() -> None:
    rules = [
        {"name": "a", "keyword": "DEAL", "programme": "promo"},
        {"name": "b", "keyword": "deal", "programme": "vip"},
    ]
    config = keywords_from_dict(None, rules)
    keywords = Keywords(config, programmes={"promo": ["111"], "vip": ["+222"]})
    assert [keywords.classify("deal", sender=s) for s in ("111", "222", "333")] == [
        KeywordMatch(kind=Kind.CUSTOM, keyword="DEAL", rule="a"),
        KeywordMatch(kind=Kind.CUSTOM, keyword="DEAL", rule="b"),
        None,
    ]


def test_programmes_come_from_twoway_programmes() -> None:
    config = twoway_from_dict(
        {
            "programmes": {"promo": ["+12345"]},
            "rule": [{"name": "deal", "keyword": "DEAL", "programme": "promo"}],
        }
    ).keywords
    keywords = Keywords(config)  # the programmes of the config
    stop = keywords.classify("STOP Promo")
    assert stop is not None and stop.programme == "promo"
    assert (
        keywords.classify("deal", sender="12345") is not None
        and keywords.classify("deal", sender="1") is None
    )
    assert _error({"rule": [{"name": "d", "keyword": "DEAL", "programme": "vip"}]}).startswith(
        "twoway.rule[0].programme: unknown programme 'vip' (none configured)"
    )
    assert _error({"programmes": {"promo": "12345"}}).startswith("twoway.programmes.promo: expected a list")
