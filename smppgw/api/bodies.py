"""The intake's request bodies (``POST /v1/messages`` and ``/batch``): msgspec structs,
what their schema cannot say (``check``), and their decoding into Problems.

Every field has a bound, so a body's size is bounded by more than the HTTP front's
``max_body``: ``to``/``from`` 21 characters, ``text`` 78,030 characters and as many
bytes of UTF-8, ``hex`` 280 digits, ``callback_url`` 2,048 printable ASCII characters,
``idempotency_key`` 128 printable ASCII characters, ``tags`` 16 of 64 characters of
``A-Z a-z 0-9 _ . : -``, ``validity`` a finite number of seconds up to 7 days, a batch
1,000 messages, ``expect`` (``ExpectBody``) 20 choices of 20 synonyms. msgspec's typed decoder stops at the first value of the wrong type, so
deep nesting costs nothing; NaN, Infinity and lone UTF-16 surrogates (``"\\ud800"``),
which msgspec refuses as JSON, are 422s naming their field (``decode_one``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec

from smppgw.api.problems import Problem, field_error, invalid_fields, validation_problem
from smppgw.twoway.conversations import (
    MAX_CHOICES,
    MAX_REPROMPT_TEXT,
    MAX_REPROMPTS,
    MAX_SCORE,
    MAX_TIMEOUT,
)

__all__ = [
    "LENIENT_MAX",
    "MAX_BATCH",
    "MAX_TAG",
    "MAX_TAGS",
    "MAX_TEXT",
    "MAX_TEXT_BYTES",
    "MAX_URL",
    "TAG_PATTERN",
    "BatchBody",
    "MessageBody",
    "check",
    "decode_batch",
    "decode_one",
    "openapi_components",
    "with_key",
]

# text: characters and UTF-8 bytes. Above what 255 parts carry (39,015 GSM 7-bit
# characters, 2 bytes each at most in UTF-8; 17,085 UCS-2 units, 3 bytes); the gateway
# says the exact limit.
MAX_TEXT = 255 * 153 * 2
MAX_TEXT_BYTES = MAX_TEXT
MAX_TAGS, MAX_TAG = 16, 64
TAG_PATTERN = "^[A-Za-z0-9_.:-]+$"  # tags are matched, logged and shown: a safe charset
KEY_PATTERN = "^[!-~]+$"  # idempotency keys: printable ASCII, no spaces
MAX_URL = 2048
MAX_BATCH = 1000
LENIENT_MAX = 256 * 1024  # bodies read again to name a NaN's or a lone surrogate's field

Encoding = Literal["auto", "gsm7", "ucs2", "latin1"]
Address = Annotated[str, msgspec.Meta(min_length=1, max_length=21)]
Tag = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_TAG,
        pattern=TAG_PATTERN,
        description=f"1-{MAX_TAG} of A-Z a-z 0-9 _ . : -",
    ),
]


IdempotencyKey = Annotated[
    str, msgspec.Meta(min_length=1, max_length=128, pattern=KEY_PATTERN, description="Printable ASCII")
]


class ExpectBody(msgspec.Struct, forbid_unknown_fields=True):
    """A reply the message expects (2-way conversations, ``twoway.conversations``): its
    shape; ``twoway.conversations.expect_from`` checks the rest, naming each field."""

    type: Literal["choice", "score", "text"]
    # Names and synonyms are bounded by ``expect_from`` (32 and 64 characters, 20 synonyms
    # each), which names the choice (``expect.choices.YES``); msgspec would say ``[...]``.
    choices: (
        Annotated[
            dict[str, list[str]],
            msgspec.Meta(max_length=MAX_CHOICES, description="choice name -> its synonyms"),
        ]
        | None
    ) = None
    min: Annotated[int, msgspec.Meta(ge=0, le=MAX_SCORE)] | None = None
    max: Annotated[int, msgspec.Meta(ge=0, le=MAX_SCORE)] | None = None
    timeout: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=32, description="24h, 30m, 1h30m, 90s, 2d")]
        | Annotated[float, msgspec.Meta(gt=0, le=MAX_TIMEOUT, description="seconds")]
        | None
    ) = None
    reprompt: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_REPROMPT_TEXT)] | None = None
    max_reprompts: Annotated[int, msgspec.Meta(ge=0, le=MAX_REPROMPTS)] | None = None


class MessageBody(msgspec.Struct, forbid_unknown_fields=True, rename={"from_": "from"}):
    """One message (DESIGN §4.2). Exactly one of ``text`` and ``hex``."""

    to: Annotated[
        str, msgspec.Meta(min_length=1, max_length=21, description="Destination, E.164 (+ optional)")
    ]
    from_: Annotated[
        str,
        msgspec.Meta(min_length=1, max_length=21, description="Sender: E.164, short code or alphanumeric"),
    ]
    text: (
        Annotated[
            str, msgspec.Meta(max_length=MAX_TEXT, description=f"At most {MAX_TEXT_BYTES} bytes of UTF-8")
        ]
        | None
    ) = None
    hex: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=280, pattern="^[0-9a-fA-F]*$", description="Binary body (data_coding 4), one part"
            ),
        ]
        | None
    ) = None
    encoding: Encoding = "auto"
    dlr: bool = True
    callback_url: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=MAX_URL,
                description="http(s), printable ASCII (percent-encode the rest)",
            ),
        ]
        | None
    ) = None
    idempotency_key: IdempotencyKey | None = None
    validity: Annotated[float, msgspec.Meta(gt=0, le=7 * 86400, description="Seconds")] | None = None
    priority: Annotated[int, msgspec.Meta(ge=0, le=3)] = 0
    tags: Annotated[list[Tag], msgspec.Meta(max_length=MAX_TAGS)] = []
    send_at: (
        Annotated[
            datetime,
            msgspec.Meta(
                description="ISO 8601 with an offset: queue the message then (scheduled until)", tz=True
            ),
        ]
        | None
    ) = None
    expect: ExpectBody | None = None  # a reply expected: opens a conversation


class BatchBody(msgspec.Struct, forbid_unknown_fields=True):
    messages: Annotated[list[MessageBody], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


class _KeyOnly(msgspec.Struct):
    idempotency_key: IdempotencyKey


_decode_one = msgspec.json.Decoder(MessageBody).decode
_decode_batch = msgspec.json.Decoder(BatchBody).decode


def check(body: MessageBody, at: str) -> list[dict[str, str]]:
    """What msgspec's schema cannot say: one body, encoding with text only, text bytes,
    the URL, and no final newline in a pattern-checked field (msgspec matches with
    ``re.search``, whose ``$`` also matches before a final newline)."""
    errors = []
    if (body.text is None) == (body.hex is None):
        errors.append(field_error(f"{at}text", "exactly one of text and hex is needed"))
    elif body.hex is not None and body.encoding != "auto":
        errors.append(
            field_error(f"{at}encoding", "encoding applies to text only; hex is sent as 8-bit data")
        )
    elif (
        body.text is not None
        and len(body.text) > MAX_TEXT_BYTES // 4  # shorter cannot be more bytes: no encoding
        and len(body.text.encode()) > MAX_TEXT_BYTES
    ):
        errors.append(field_error(f"{at}text", f"more than {MAX_TEXT_BYTES} bytes of UTF-8"))
    if body.callback_url is not None:
        url = body.callback_url
        if not url.isascii() or not url.isprintable() or " " in url:
            errors.append(
                field_error(
                    f"{at}callback_url", "a URL in printable ASCII without spaces (percent-encode the rest)"
                )
            )
        elif (parts := urlsplit(url)).scheme not in ("http", "https") or not parts.hostname:
            errors.append(field_error(f"{at}callback_url", "an http or https URL with a host is needed"))
    if body.hex is not None and body.hex.endswith("\n"):
        errors.append(field_error(f"{at}hex", "hex digits only"))
    if body.idempotency_key is not None and body.idempotency_key.endswith("\n"):
        errors.append(field_error(f"{at}idempotency_key", "printable ASCII only"))
    for i, tag in enumerate(body.tags):
        if tag.endswith("\n"):
            errors.append(field_error(f"{at}tags[{i}]", f"1-{MAX_TAG} of A-Z a-z 0-9 _ . : -"))
    return errors


def decode_one(raw: bytes) -> MessageBody:
    """One message's body; raises a 400 or 422 Problem."""
    try:
        return _decode_one(raw)
    except msgspec.ValidationError as exc:
        raise validation_problem(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise _not_json(raw, exc) from None


def with_key(body: MessageBody, given: str | None, fallback: str) -> MessageBody:
    """``body`` with the idempotency key given beside it (an input stream entry's
    ``idempotency_key``), else its own, else ``fallback``. Raises a 422 Problem naming
    ``idempotency_key`` for a bad key or one unlike the body's."""
    if given is None:
        return (
            body
            if body.idempotency_key is not None
            else msgspec.structs.replace(body, idempotency_key=fallback)
        )
    try:
        msgspec.convert({"idempotency_key": given}, _KeyOnly)
    except msgspec.ValidationError:
        raise invalid_fields([field_error("idempotency_key", "1-128 printable ASCII characters")]) from None
    if given.endswith("\n"):
        raise invalid_fields([field_error("idempotency_key", "printable ASCII only")])
    if body.idempotency_key not in (None, given):
        raise invalid_fields([field_error("idempotency_key", "differs from the body's idempotency_key")])
    return msgspec.structs.replace(body, idempotency_key=given)


def decode_batch(raw: bytes) -> list[MessageBody]:
    """A batch's messages; raises a 400 or 422 Problem (``check`` is the caller's, per item)."""
    try:
        return _decode_batch(raw).messages
    except msgspec.ValidationError as exc:
        raise validation_problem(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise _not_json(raw, exc) from None


def _not_json(raw: bytes, exc: msgspec.DecodeError) -> Problem:
    """msgspec refused ``raw`` as JSON. Python's json module reads more: NaN, Infinity
    and lone UTF-16 surrogates, which no message can carry. If it reads the body, each
    such value is a 422 naming its field; else the body is not JSON (400). Only on this
    error path, and only for a body of at most ``LENIENT_MAX`` bytes: Python's parser
    holds the event loop about 0.1 s a MiB (more for a body of small numbers), so a
    bigger one is a 400 with msgspec's reason."""
    found: list[tuple[str, str]] = []
    if len(raw) <= LENIENT_MAX:
        try:
            found = list(_unrepresentable(json.loads(raw.decode("utf-8")), ""))
        except (ValueError, RecursionError):  # not UTF-8, not JSON even so, or too deep
            found = []
    if found:
        return invalid_fields([field_error(path, why) for path, why in found])
    return Problem(400, f"body is not JSON: {exc}")


def _unrepresentable(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, float) and not math.isfinite(value):
        yield path, f"{value!r} is not a number JSON has (RFC 8259 §6)"
    elif isinstance(value, str) and not _unicode(value):
        yield path, "a lone UTF-16 surrogate (\\ud800-\\udfff) is not text"
    elif isinstance(value, dict):
        for key, item in value.items():
            name = key.encode("utf-8", "backslashreplace").decode()
            at = f"{path}.{name}" if path else name
            if name != key:
                yield at, "a lone UTF-16 surrogate (\\ud800-\\udfff) in a name"
            yield from _unrepresentable(item, at)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _unrepresentable(item, f"{path}[{i}]")


def _unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def openapi_components() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(single body schema, batch body schema, components) for the OpenAPI document."""
    (one, many), components = msgspec.json.schema_components(
        [MessageBody, BatchBody], ref_template="#/components/schemas/{name}"
    )
    return one, many, components
