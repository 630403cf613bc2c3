"""Reading an MT as a person skims it (simulator.prompts): the lists, keyword options,
scales and questions of flow prompts in many phrasings, and what is none of them."""

from __future__ import annotations

import pytest

from simulator.prompts import Ask, read_prompt

NUMBERED = [
    # one option a line, as a flow renders {options}
    ("Pick a slot:\n1) Tue 15 Dec 10:30\n2) Tue 15 Dec 14:00\n3) Wed 16 Dec 09:15", 3),
    ("Which product?\n1. Router\n2. Phone\n3. TV\n4. Other", 4),
    ("Which product?\r\n1. Router\r\n2. Phone", 2),
    ("What kind of problem?\n1 - Billing\n2 - Connection\n3 - Something else", 3),
    ("Choose one\n1: Billing\n2: Connection", 2),
    # on one line
    ("Pick a slot: 1) Mon 10:00 2) Tue 14:30 3) Wed 09:15. Reply STOP to opt out", 3),
    ("Which product? 1. Router 2. Phone 3. TV", 3),
    ("Choose: (1) Router (2) Phone (3) TV", 3),
    ("Choose: [1] Router [2] Phone", 2),
    ("1 - Billing, 2 - Technical, 3 - Other", 3),
    ("1=Billing 2=Technical 3=Other", 3),
    ("1: Billing; 2: Technical; 3: Other", 3),
    ("Acme:1) yes 2) no 3) maybe", 3),
    # "N for X" phrasings
    ("Reply 1 for Mon 10:00, 2 for Tue 14:30 or 3 for Wed 09:15.", 3),
    ("Text 1 to confirm or 2 to cancel", 2),
    ("Press 1 for sales, 2 for support, 3 for billing", 3),
    ("Reply 1 if you are happy, 2 if not", 2),
    ("Send 1 for English; 2 for Welsh", 2),
]


@pytest.mark.parametrize(("text", "count"), NUMBERED)
def test_a_numbered_list_is_a_choice_of_its_numbers(text: str, count: int) -> None:
    prompt = read_prompt(text)
    assert prompt.ask is Ask.CHOICE and prompt.numbered
    assert prompt.options == tuple(str(i) for i in range(1, count + 1))


def test_the_labels_are_read_too() -> None:
    prompt = read_prompt("Pick a slot: 1) Mon 10:00 2) Tue 14:30 3) Wed 09:15. Reply STOP to opt out")
    assert prompt.labels == ("Mon 10:00", "Tue 14:30", "Wed 09:15")
    assert read_prompt("Reply 1 for Mon 10:00, 2 for Tue 14:30 or 3 for Wed").labels == (
        "Mon 10:00",
        "Tue 14:30",
        "Wed",
    )
    assert read_prompt("Which one?\n1. Router\n2. Phone").labels == ("Router", "Phone")


def test_a_list_from_zero_and_a_lettered_list() -> None:
    assert read_prompt("0) Other 1) Billing 2) Login").options == ("0", "1", "2")
    lettered = read_prompt("What kind of problem? A) Billing B) Login C) Other")
    assert (lettered.ask, lettered.options, lettered.labels) == (
        Ask.CHOICE,
        ("A", "B", "C"),
        ("Billing", "Login", "Other"),
    )


@pytest.mark.parametrize(
    ("text", "options"),
    [
        ("Reply CONFIRM or RESCHEDULE", ("CONFIRM", "RESCHEDULE")),
        (
            "Reminder: your appointment is Tue 10:00. Reply CONFIRM to keep it or RESCHEDULE to change it.",
            ("CONFIRM", "RESCHEDULE"),
        ),
        ("Text BOOK, CANCEL or MOVE", ("BOOK", "CANCEL", "MOVE")),
        ("Reply 'confirm' or 'change'", ("CONFIRM", "CHANGE")),
        ("Please answer \u201cKEEP\u201d or \u201cMOVE\u201d", ("KEEP", "MOVE")),
        ("Reply YES to confirm, NO to cancel or CHANGE to rebook", ("YES", "NO", "CHANGE")),
        ("Tue 10:00. Reply:\nCONFIRM - keep it\nRESCHEDULE - pick another time", ("CONFIRM", "RESCHEDULE")),
        ("ACME: Pick one\nCONFIRM\nRESCHEDULE\nReply STOP to opt out", ("CONFIRM", "RESCHEDULE")),
        ("Reply GOLD or SILVER. Reply STOP to opt out, HELP for help", ("GOLD", "SILVER")),
    ],
)
def test_keyword_options_are_a_choice_of_those_words(text: str, options: tuple[str, ...]) -> None:
    prompt = read_prompt(text)
    assert (prompt.ask, prompt.options, prompt.numbered) == (Ask.CHOICE, options, False)


@pytest.mark.parametrize(
    ("text", "scale"),
    [
        ("How likely are you to recommend us, 0 to 10?", (0, 10)),
        ("Rate your visit 0-10", (0, 10)),
        ("Rate us 1-10", (1, 10)),
        ("How was it? Reply with a score out of 10", (0, 10)),
        ("Score us \u2013 8/10?", (0, 10)),
        ("How would you rate us, 1 to 5?", (1, 5)),
        ("On a scale of 1-5, how satisfied were you?", (1, 5)),
        ("How many stars, 1 to 5?", (1, 5)),
    ],
)
def test_a_scale_is_read_with_its_ends(text: str, scale: tuple[int, int]) -> None:
    prompt = read_prompt(text)
    assert (prompt.ask, (prompt.low, prompt.high)) == (Ask.SCORE, scale)


@pytest.mark.parametrize(
    "text",
    [
        "Sorry to hear that. Why did you give that score?",
        "What went wrong?",
        "Please describe the problem in a few words",
        "Tell us what we could do better",
        "Thanks. Is there anything else we should know?",
        "Reply with your postcode",
    ],
)
def test_a_question_wanting_words(text: str) -> None:
    assert read_prompt(text).ask is Ask.QUESTION


@pytest.mark.parametrize(
    ("text", "ask"),
    [
        ("Your appointment is on Tue 10:00. Reply YES to confirm or NO to cancel.", Ask.YES_NO),
        ("Please reply YES or NO", Ask.YES_NO),
        ("Please confirm: Y/N", Ask.YES_NO),
        ("Reply Y or N", Ask.YES_NO),
        ("20% off all week with voucher SPRING. Reply STOP to opt out", Ask.OFFER),
        ("Thanks! You're booked for Tue 15 Dec 10:30.", Ask.OTHER),
        ("Delivery in 1-2 days", Ask.OTHER),  # a range without a rating word: no scale
        ("Your slot is at 10:30 on 1.5.2027", Ask.OTHER),  # times and dates: no list
        ("Acme: Reply STOP to opt out, HELP for help.", Ask.OTHER),  # a consent footer: no options
        ("Text BOOK to book a visit", Ask.OTHER),  # one keyword: nothing to choose from
        ("Your code is 4821", Ask.OTHER),
        ("Step 1. Call us", Ask.OTHER),  # a lone number: no list
        ("Open Mon 1:30-5:00 and Tue 2:00-6:00", Ask.OTHER),  # times: no list
        ("It takes 1.5 or 2.5 hours", Ask.OTHER),
        ("Your appointment: Tue 15 Dec 10:30", Ask.OTHER),
    ],
)
def test_what_is_not_a_list(text: str, ask: Ask) -> None:
    prompt = read_prompt(text)
    assert prompt.ask is ask
    if ask is not Ask.YES_NO:
        assert prompt.options == ()


def test_a_list_wins_over_a_scale_and_yes_no() -> None:
    # A rating asked as a list: pick an option, not a score.
    assert read_prompt("Rate us 1-5:\n1) poor\n2) ok\n3) good").options == ("1", "2", "3")
    # "Reply YES or NO" among other keywords: those words are options.
    assert read_prompt("Reply YES, NO or LATER").options == ("YES", "NO", "LATER")
