"""``[[twoway.rule]] voucher = "POOL"``: the reply carries the code; every mistake is a
ConfigError naming its key."""

from __future__ import annotations

from typing import Any

import pytest

from smppgw.support.config import ConfigError
from smppgw.twoway.config import twoway_from_dict


@pytest.mark.parametrize(
    ("rule", "starts"),
    [
        ({"voucher": "bad pool"}, "twoway.rule[0].voucher: 1-64 of A-Z a-z 0-9 _ . -"),
        ({"voucher": "-x"}, "twoway.rule[0].voucher: 1-64 of"),
        ({"voucher": 7}, "twoway.rule[0].voucher: expected a string"),
        (
            {"voucher": "SPRING", "reply": "Here you go"},
            "twoway.rule[0].reply: a voucher rule's reply carries",
        ),
        ({"exhausted": "none left"}, "twoway.rule[0].exhausted: only with voucher"),
        ({"voucher": "SPRING", "exhausted": ""}, "twoway.rule[0].exhausted:"),
    ],
)
def test_a_bad_voucher_setting_names_its_key(rule: dict[str, Any], starts: str) -> None:
    with pytest.raises(ConfigError) as info:
        twoway_from_dict({"rule": [{"keyword": "VOUCHER", **rule}]})
    assert str(info.value).startswith(starts), str(info.value)


def test_a_voucher_rule_has_a_reply_with_the_code_and_an_exhausted_text() -> None:
    [plain, own] = twoway_from_dict(
        {"rule": [{"keyword": "VOUCHER", "voucher": "SPRING"},
                  {"keyword": "GIFT", "voucher": "gifts", "reply": "Gift: {code}!", "exhausted": "All gone."}]}
    ).keywords.rules  # fmt: skip
    assert (plain.voucher, plain.reply, plain.exhausted) == (
        "SPRING",
        "Your code: {code}",
        "Sorry, there are no codes left.",
    )
    assert (own.voucher, own.reply, own.exhausted) == ("gifts", "Gift: {code}!", "All gone.")
