"""The HTTP front's bridge to an ASGI app (``net/http.py``): one whole request in, one
whole answer out.

The front has read the body before the app runs (it is bounded by the front's limits),
so ``receive`` hands it over in one message; the app's answer is collected whole, and
the front writes it with its own ``content-length``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import trio

if TYPE_CHECKING:
    from smppgw.net.http import Request, Response

__all__ = ["ASGIApp", "call_asgi"]

log = logging.getLogger("smppgw.net.http")

Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]


async def call_asgi(
    app: ASGIApp,
    request: Request,
    *,
    client: tuple[str, int],
    server: tuple[str, int],
    scheme: str,
    request_id: str,
) -> Response | None:
    """The app's answer to ``request``; None when it failed before a whole answer (the
    failure is logged with ``request_id``: the front answers 500 with it)."""
    path = request.path.decode("latin-1")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": request.http_version,
        "method": request.method.decode("ascii"),
        "scheme": scheme,
        "path": unquote(path),
        "raw_path": request.path,
        "query_string": request.query,
        "root_path": "",
        "headers": list(request.headers.items()),
        "client": client,
        "server": server,
        "state": {"admitted": request.state},  # Starlette's request.state.admitted (http.Admit)
    }
    sent = trio.Event()
    delivered = False
    started: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": request.body, "more_body": False}
        await sent.wait()  # a second read waits for the end, as a disconnect would
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                sent.set()

    try:
        await app(scope, receive, send)
    except Exception:
        log.exception("request %s: API error on %s %s", request_id, scope["method"], _loggable(path))
        if not sent.is_set():  # a response cut short is not passed off as whole
            return None
    if not sent.is_set():
        sent.set()
        log.error("request %s: the API gave no answer to %s %s", request_id, scope["method"], _loggable(path))
        return None
    # content-length is the front's to write (the whole body is here); the app's is
    # dropped, except for a HEAD without a body (the length a GET would get). The
    # request id is the front's too.
    body = b"".join(chunks)
    keep = request.method == b"HEAD" and not body
    headers = [
        (n.lower(), v)
        for n, v in started.get("headers", [])
        if (keep or n.lower() != b"content-length") and n.lower() != b"x-request-id"
    ]
    return started["status"], headers, body


def _loggable(path: str) -> str:
    """The path as it came (still percent-encoded), escaped if it has anything unprintable
    (httptools refuses CR and LF in it already: no forged log lines either way)."""
    return path if path.isprintable() else ascii(path)
