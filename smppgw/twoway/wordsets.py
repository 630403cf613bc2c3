"""The built-in keyword sets, per language, and the polite words around a keyword.

Words are written as a subscriber would type them; the matcher folds them (case,
accents, punctuation: ``twoway.text``), so ``ARRÊT`` and ``ARRET`` are one word and
``OPT-OUT`` is ``OPT OUT``.

*Strong* opt-out words mean nothing but "stop texting me" (STOP, UNSUBSCRIBE, OPT OUT):
they take request wordings ("I want to unsubscribe") and any one-word argument ("STOP
PROMO", "STOP 12345"). The others (CANCEL, END, QUIT, REMOVE, phrases, help and opt-in
words, the operator's own words) are *weak*: ordinary words in a conversation ("cancel
my appointment", "quit smoking", "start date?"), so around them only polite words are
allowed and an argument must name a configured programme.

Typo tolerance (the FCC's 2024 order counts misspellings as revocations) is given only
to the opt-out words in ``TYPO_TOLERANT``, whose near misses are not other words people
send; a typo matches as a weak word ("stoop by" is not an opt-out).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = [
    "HELP",
    "LANGUAGES",
    "NOT_ARGUMENT",
    "OPT_IN",
    "OPT_OUT",
    "POLITE_PREFIX",
    "REQUEST_PREFIX",
    "SUFFIX",
    "TYPO_TOLERANT",
]

#: Opt-out words by language: (strong, weak).
OPT_OUT: Final[Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "en": (
        ("STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "UNSUB", "OPTOUT", "OPT OUT", "REVOKE"),
        ("CANCEL", "END", "QUIT", "REMOVE", "OPT ME OUT", "TAKE ME OFF", "LEAVE ME ALONE",
         "DONT TEXT", "DO NOT TEXT", "DONT MESSAGE", "DO NOT MESSAGE", "DONT CONTACT",
         "DO NOT CONTACT", "NO MORE TEXTS", "NO MORE MESSAGES"),
    ),
    "fr": (
        ("ARRÊT", "DÉSABONNER", "DÉSINSCRIRE", "SE DÉSINSCRIRE", "ME DÉSINSCRIRE", "ME DÉSABONNER"),
        ("ARRÊTER", "ANNULER", "DÉSINSCRIPTION", "FIN")),
    "es": (
        ("BAJA", "DARSE DE BAJA", "DESUSCRIBIR", "DESUSCRIBIRME"),
        ("CANCELAR", "PARAR", "ALTO", "DETENER", "NO MÁS"),
    ),
    "de": (("STOPP", "ABMELDEN", "ABBESTELLEN", "AUSTRAGEN"), ("KÜNDIGEN", "KUENDIGEN", "ENDE", "BEENDEN")),
    "pt": (("DESCADASTRAR", "DESCADASTRE"), ("CANCELAR", "PARAR", "PARE", "SAIR", "REMOVER")),
    "it": (("DISISCRIVI", "DISISCRIVIMI"), ("BASTA", "ANNULLA", "CANCELLA", "ESCI")),
    "nl": (("AFMELDEN", "UITSCHRIJVEN", "STOPPEN"), ("OPZEGGEN",)),
}  # fmt: skip

OPT_IN: Final[Mapping[str, tuple[str, ...]]] = {
    "en": ("START", "UNSTOP", "RESUME", "OPT IN", "OPTIN"),
    "fr": ("DÉMARRER", "REPRENDRE"),
    "es": ("ALTA", "REANUDAR"),
    "de": ("ANMELDEN",),
    "pt": ("RETOMAR",),
    "it": ("ISCRIVI", "RIPRENDI"),
    "nl": ("AANMELDEN",),
}

HELP: Final[Mapping[str, tuple[str, ...]]] = {
    "en": ("HELP", "INFO"),
    "fr": ("AIDE",),
    "es": ("AYUDA",),
    "de": ("HILFE",),
    "pt": ("AJUDA",),
    "it": ("AIUTO",),
    "nl": ("HULP",),
}

LANGUAGES: Final = tuple(OPT_OUT)


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


#: Opt-out words with typo tolerance (folded): "swap" allows one swap of neighbouring
#: letters or one doubled letter ("stpo", "sotp", "stopp"); "edit" also one letter
#: missing, wrong or extra ("unsubscibe", "unsuscribe"), for long words only.
TYPO_TOLERANT: Final[Mapping[str, str]] = {
    "stop": "swap", "stopall": "swap", "quit": "swap", "cancel": "swap", "optout": "swap",
    "revoke": "swap", "remove": "swap", "unsubscribe": "edit", "desabonner": "edit",
    "abbestellen": "edit", "descadastrar": "edit", "uitschrijven": "edit",
}  # fmt: skip

#: Please and thank you in the built-in languages ("ARRÊT SVP", "baja por favor",
#: "Stopp bitte"): allowed before and after any keyword.
_POLITE_WORLD: Final = (
    " svp stp merci bonjour por favor gracias hola bitte danke hallo obrigado obrigada"
    " ola per favore grazie ciao alstublieft aub dank bedankt"
)

#: Polite words allowed before any keyword ("please stop", "ok stop", "hi, HELP").
POLITE_PREFIX: Final = _set(
    "please pls plz plez plse pleas kindly ok okay k hi hello hey sorry just oh so" + _POLITE_WORLD
)

#: Request wordings allowed before a strong word only ("I want to unsubscribe", "can
#: you please stop", "I would like to opt out", "I said STOP", "I told you to stop").
REQUEST_PREFIX: Final = POLITE_PREFIX | _set(
    "i id want wanna would like wish need to can could you u will said told"
)

#: Words allowed after a keyword: politeness and what to stop ("stop please", "Stop.
#: Thank you", "stop texting me", "remove me from your list", "start again").
SUFFIX: Final = _set(
    """please pls plz plez plse thanks thank thankyou you thx ty tks now asap immediately
    right away already again anymore ok okay k bye goodbye sorry me us my number from
    this that these the your list lists all any more further messages message msgs msg
    texts text texting txt txts txting sms smss messaging sending send contacting
    contact spam spamming marketing subscription subscriptions notifications alerts
    updates stuff off for good ever forever permanently consent"""
    + _POLITE_WORLD
)

#: Words that start a sentence rather than name a programme or a code: never an argument
#: ("stop by the office", "stop at 5", "I would like to stop by").
NOT_ARGUMENT: Final = _set(
    "a an the by at in on and or but to of with when if so over is was are be here there up down then"
)
