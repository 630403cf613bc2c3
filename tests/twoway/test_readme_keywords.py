"""The README's Keywords section runs as written: each of its TOML blocks is a valid
``[twoway]`` config that does what the text around it says."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from smppgw.twoway.config import twoway_from_dict
from smppgw.twoway.keywords import Keywords, Kind

README = Path(__file__).parents[2] / "README.md"


def _blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index("### Keywords")
    end = re.compile(r"^#{2,5} ", re.M).search(text, start + 1)
    section = text[start : end.start() if end else len(text)]
    return re.findall(r"```toml\n(.*?)```", section, re.S)


def test_the_readme_keyword_examples_load_and_do_what_they_say() -> None:
    blocks = [twoway_from_dict(tomllib.loads(b)["twoway"]).keywords for b in _blocks()]
    assert len(blocks) == 3
    sets, custom, rules = (Keywords(c) for c in blocks)
    assert [(m.kind, m.keyword) if m else None for m in map(sets.classify, ["stoppromo!", "yes", "menu", "end"])] == [
        (Kind.OPT_OUT, "STOPPROMO"), (Kind.OPT_IN, "YES"), (Kind.HELP, "MENU"), None,
    ]  # fmt: skip
    assert sets.classify("ARRÊT SVP") is not None and sets.classify("ABMELDEN") is None  # fr chosen, de not
    stop = custom.classify("Please STOP 42 thanks")
    assert stop is not None and (stop.kind, stop.argument) == (Kind.OPT_OUT, "42")
    assert custom.classify("I wish to unsubscribe") is not None and custom.classify("stop texting me") is None
    join = rules.classify("join", sender="+447700900001")
    assert join is not None and rules.rule(join.rule or "").event
    assert rules.classify("Prices", sender="447700900100") is not None
    assert rules.classify("Prices", sender="447700900001") is None
    voucher = rules.classify("WIN 1234", sender="12345")
    assert voucher is not None and (voucher.rule, voucher.argument) == ("voucher", "1234")
    assert rules.classify("WIN 1234", sender="447700900001") is None  # not a sender of promo
    promo = rules.classify("stop promo")
    assert promo is not None and (promo.kind, promo.programme) == (Kind.OPT_OUT, "promo")


def test_the_readme_matching_examples_hold() -> None:
    keywords = Keywords(programmes=["promo"])
    opt_outs = ["Stop.", "STOP!!", " stop 🛑", "arrêt", "Opt-Out", "stop please", "Stop. Thank you",
                "please stop texting me", "pls stop", "remove me from your list", "ARRÊT SVP",
                "I want to unsubscribe", "can you please stop texting me", "stpo", "sotp", "unsubscibe",
                "STOP 12345", "CANCEL PROMO", "STOP ALL", "STOPALL", "Wrong number. Stop", "No thanks, STOP"]  # fmt: skip
    for text in opt_outs:
        match = keywords.classify(text)
        assert match is not None and match.kind is Kind.OPT_OUT, text
    for text in ["don't stop the reminders", "we have got to STOP this bill", "stop by the office at 5",
                 "cancel my appointment", "cancel friday", "yes"]:  # fmt: skip
        assert keywords.classify(text) is None, text
    promo = keywords.classify("CANCEL PROMO")
    assert promo is not None and promo.programme == "promo"
