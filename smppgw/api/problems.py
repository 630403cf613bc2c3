"""Errors of the HTTP API as RFC 9457 problem details, one shape for every error:

    {"type": "urn:smppgw:problem:validation", "title": "Unprocessable Content",
     "status": 422, "detail": "...", "errors": [{"field": "messages[3].to", "message": "..."}]}

served as ``application/problem+json``. ``errors`` comes with validation problems only;
``field`` is the path in the body (``to``, ``messages[3].to``) or the query parameter.
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from typing import Any

__all__ = ["MEDIA_TYPE", "Problem", "validation_problem"]

MEDIA_TYPE = "application/problem+json"

_TYPES = {
    400: "bad-request",
    401: "unauthorized",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    422: "validation",
    429: "queue-full",
    500: "internal",
    503: "unavailable",
}
_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_MISSING = re.compile(r"Object missing required field `(?P<name>[^`]+)`")


class Problem(Exception):
    """An error answer: raise it in a route; the app and the front turn it into JSON."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}

    def item(self) -> dict[str, Any]:
        """The problem as a dict (also one item's error in a batch answer)."""
        body: dict[str, Any] = {
            "type": f"urn:smppgw:problem:{_TYPES.get(self.status, 'error')}",
            "title": _title(self.status),
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        return body

    def body(self) -> bytes:
        return json.dumps(self.item()).encode()


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def validation_problem(message: str, *, prefix: str = "") -> Problem:
    """A 422 from msgspec's ValidationError text ("Expected `int` >= 0 - at `$.priority`")."""
    match = _AT.match(message)
    assert match is not None  # the pattern matches any text
    text, path = match["message"], (match["path"] or "").lstrip(".")
    if (missing := _MISSING.match(text)) is not None:
        path = f"{path}.{missing['name']}" if path else missing["name"]
    field = prefix + path
    return Problem(422, f"{field or 'body'}: {text}", errors=[{"field": field or "body", "message": text}])
