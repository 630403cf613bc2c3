"""Keyword matching (``twoway.keywords``): the checked-in corpus of real-world texts in
``standard`` mode, ``strict`` and ``custom`` modes, custom rules, and properties of the
tolerance rule (a wrapped keyword is still one; a keyword inside a sentence is not)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppgw.twoway import wordsets
from smppgw.twoway.keyword_config import KeywordConfig, keywords_from_dict
from smppgw.twoway.keywords import MAX_CHARS, KeywordMatch, Keywords, Kind

CORPUS = Path(__file__).with_name("corpus.tsv")
PROGRAMMES = ("promo", "alerts")


def _corpus() -> list[tuple[int, str, str, dict[str, str]]]:
    """(line number, text, class, notes) of every line of the corpus."""
    out = []
    for n, line in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        text, kind, *rest = line.split("\t")
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1]
        notes = dict(n.partition("=")[::2] for n in " ".join(rest).split())
        out.append((n, text, kind, notes))
    return out


def _seen(match: KeywordMatch | None) -> tuple[str, dict[str, str]]:
    if match is None:
        return "none", {}
    notes = {
        "argument": match.argument,
        "programme": match.programme,
        "all": "" if match.all_senders else None,
    }
    return match.kind.value, {k: v for k, v in notes.items() if v is not None}


def test_the_corpus_is_classified_as_expected_in_standard_mode() -> None:
    """Every line is checked; all the mismatches are reported at once."""
    corpus = _corpus()
    assert len(corpus) >= 150
    assert {kind for _, _, kind, _ in corpus} == {"opt_out", "opt_in", "help", "none"}
    keywords = Keywords(programmes=PROGRAMMES)
    wrong = []
    for n, text, kind, notes in corpus:
        got = _seen(keywords.classify(text, sender="12345"))
        if got != (kind, notes):
            wrong.append(f"corpus.tsv:{n}: {text!r}: expected {kind} {notes}, got {got[0]} {got[1]}")
    assert not wrong, f"{len(wrong)} of {len(corpus)} misclassified:\n" + "\n".join(wrong)


@pytest.mark.parametrize("lang", wordsets.LANGUAGES)
@pytest.mark.parametrize("matching", ["strict", "standard"])
def test_every_built_in_word_is_its_kind_alone(lang: str, matching: str) -> None:
    keywords = Keywords(KeywordConfig(matching=matching, languages=(lang,)))
    strong, weak = wordsets.OPT_OUT[lang]
    sets = {Kind.OPT_OUT: strong + weak, Kind.OPT_IN: wordsets.OPT_IN[lang], Kind.HELP: wordsets.HELP[lang]}
    for kind, words in sets.items():
        for word in words:
            match = keywords.classify(f" {word.lower()}! ")
            assert match is not None and match.kind is kind and match.keyword == word, (word, match)


def test_languages_choose_the_built_in_sets() -> None:
    english = Keywords(KeywordConfig(languages=("en",)))
    assert english.classify("ARRÊT") is None and english.classify("STOP") is not None
    french = Keywords(KeywordConfig(languages=("fr",)))
    assert french.classify("arret") is not None and french.classify("unsubscribe") is None
    assert Keywords(KeywordConfig(languages=())).classify("STOP") is None


def test_strict_is_the_keyword_alone_or_with_a_programme() -> None:
    strict = Keywords(KeywordConfig(matching="strict"), programmes=PROGRAMMES)
    for text in ("STOP", " stop. ", "Opt-Out!", "ARRÊT", "stop all", "HELP?"):
        assert strict.classify(text) is not None, text
    for text in (
        "stop please",
        "please stop",
        "stpo",
        "STOP 12345",
        "I want to unsubscribe",
        "stop texting me",
    ):
        assert strict.classify(text) is None, text
    promo = strict.classify("STOP promo")
    assert promo is not None and (promo.argument, promo.programme) == ("PROMO", "promo")


def test_custom_patterns_say_where_the_keyword_is() -> None:
    config = keywords_from_dict(
        {
            "matching": "custom",
            "patterns": [
                r"(?:please )?(?P<keyword>\w+)(?: (?P<argument>\d+))?(?: please| thanks)?",
                r"i (?:want|wish) to (?P<keyword>\w+)",
            ],
        }
    )
    keywords = Keywords(config, programmes=PROGRAMMES)
    assert _seen(keywords.classify("Please STOP!")) == ("opt_out", {})
    assert _seen(keywords.classify("stop 42 thanks")) == ("opt_out", {"argument": "42"})
    assert _seen(keywords.classify("I wish to unsubscribe")) == ("opt_out", {})
    assert _seen(keywords.classify("STOP promo")) == ("opt_out", {"argument": "PROMO", "programme": "promo"})
    for text in ("stop texting me", "please help me", "I want to know", "stpo please", "please nothing"):
        assert keywords.classify(text) is None, text


def test_stop_all_and_programme_arguments() -> None:
    keywords = Keywords(programmes={"Promo": ["12345"]})
    stop_all = keywords.classify("STOPALL")
    assert stop_all is not None and stop_all.all_senders and stop_all.keyword == "STOPALL"
    promo = keywords.classify("stop PROMO please")
    assert promo is not None and (promo.argument, promo.programme, promo.all_senders) == (
        "PROMO",
        "Promo",
        False,
    )
    other = keywords.classify("STOP DEALS")  # not a programme: a plain STOP for the whole sender
    assert other is not None and (other.kind, other.argument, other.programme) == (
        Kind.OPT_OUT,
        "DEALS",
        None,
    )
    weak = keywords.classify("cancel deals")  # a weak word takes a programme only
    assert weak is None


def test_added_words_and_excluded_ones() -> None:
    config = keywords_from_dict(
        {
            "opt_out": ["STOPPIT", "no thanks ever"],
            "opt_in": ["YES"],
            "help": ["?!menu"],
            "exclude": ["CANCEL"],
        }
    )
    keywords = Keywords(config)
    assert _seen(keywords.classify("stoppit please")) == ("opt_out", {})
    assert _seen(keywords.classify("No thanks, ever!")) == ("opt_out", {})
    assert _seen(keywords.classify("Yes")) == ("opt_in", {})
    assert _seen(keywords.classify("MENU")) == ("help", {})
    assert keywords.classify("cancel") is None and keywords.classify("STOP") is not None


def test_rules_match_by_keyword_or_pattern_per_sender_and_programme() -> None:
    config = keywords_from_dict(
        None,
        [
            {"keyword": "JOIN", "reply": "Welcome!", "tag": "join", "event": True},
            {"name": "PRICES", "pattern": "^PRICES?$", "reply": "Prices: ...", "senders": ["+447700900100"]},
            {"name": "voucher", "pattern": r"^WIN\s+(?P<argument>\d{4})$", "programme": "promo"},
            {"name": "JOIN2", "keyword": "JOIN", "senders": ["999"], "reply": "Other"},
        ],
    )
    keywords = Keywords(config, programmes={"promo": ["+12345"]})
    join = keywords.classify("join please", sender="447700900100")
    assert join == KeywordMatch(kind=Kind.CUSTOM, keyword="JOIN", rule="JOIN")
    assert keywords.rule("JOIN").reply == "Welcome!"
    assert _rule(keywords.classify("JOIN 42", sender="1")) == ("JOIN", "42")
    assert _rule(keywords.classify(" prices ", sender="+447700900100")) == ("PRICES", None)
    assert keywords.classify("prices", sender="447700900999") is None  # not this rule's number
    assert _rule(keywords.classify("win 1234", sender="12345")) == ("voucher", "1234")
    assert keywords.classify("win 1234", sender="54321") is None
    assert keywords.classify("STOP", sender="12345") == KeywordMatch(kind=Kind.OPT_OUT, keyword="STOP")


def _rule(match: KeywordMatch | None) -> tuple[str | None, str | None]:
    assert match is not None and match.kind is Kind.CUSTOM
    return match.rule, match.argument


def test_long_texts_are_never_keywords() -> None:
    keywords = Keywords()
    assert keywords.classify("stop " + " " * MAX_CHARS) is None
    assert keywords.classify("please " * 12 + "stop") is None  # more than 12 words


# -- properties ---------------------------------------------------------------------------

_OPT_OUT = ["STOP", "Stop", "unsubscribe", "UNSUBSCRIBE", "cancel", "END", "quit", "OPT OUT", "Opt-out", "REVOKE",
            "arrêt", "BAJA", "stopall"]  # fmt: skip
_WRAP = st.text(alphabet=" \t.,!?;:-*()\"'🛑🙏😡", max_size=6)
_KEYWORDS = Keywords()


def _random_case(word: str, flips: list[bool]) -> str:
    return "".join(
        c.upper() if flip else c.lower() for c, flip in zip(word, flips + [False] * len(word), strict=False)
    )


@given(word=st.sampled_from(_OPT_OUT), flips=st.lists(st.booleans(), max_size=12), before=_WRAP, after=_WRAP)
def test_an_opt_out_word_in_any_case_and_punctuation_is_an_opt_out(
    word: str, flips: list[bool], before: str, after: str
) -> None:
    match = _KEYWORDS.classify(before + _random_case(word, flips) + after)
    assert match is not None and match.kind is Kind.OPT_OUT


@given(
    word=st.sampled_from(_OPT_OUT),
    before=st.lists(st.sampled_from(["please", "pls", "Ok", "hi", "PLEASE"]), max_size=2),
    after=st.lists(
        st.sampled_from(["please", "pls", "thanks", "thank you", "now", "Ok", "texting me"]), max_size=3
    ),
    sep=st.sampled_from([" ", ", ", ". ", "! ", " - "]),
)
def test_polite_words_around_an_opt_out_keep_it_one(
    word: str, before: list[str], after: list[str], sep: str
) -> None:
    match = _KEYWORDS.classify(sep.join([*before, word, *after]))
    assert match is not None and match.kind is Kind.OPT_OUT


_SENTENCE = ["we", "have", "got", "to", "the", "bus", "will", "never", "dont", "office", "tomorrow", "by", "at",
             "reminders", "this", "bill", "car", "my", "appointment"]  # fmt: skip


@given(
    head=st.lists(st.sampled_from(_SENTENCE), min_size=1, max_size=4).filter(
        lambda ws: any(w not in wordsets.REQUEST_PREFIX for w in ws)
    ),
    word=st.sampled_from(_OPT_OUT + ["help", "start", "HELP"]),
    tail=st.lists(st.sampled_from(_SENTENCE), max_size=4),
)
def test_a_keyword_mid_sentence_after_other_words_is_not_one(
    head: list[str], word: str, tail: list[str]
) -> None:
    assert _KEYWORDS.classify(" ".join([*head, word, *tail])) is None


@given(text=st.text(max_size=200))
def test_any_text_is_classified_without_error(text: str) -> None:
    match = _KEYWORDS.classify(text)
    assert match is None or match.kind in (Kind.OPT_OUT, Kind.OPT_IN, Kind.HELP)
