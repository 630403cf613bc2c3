"""The simulator console: a web page at ``/`` of the control port (issue 17).

People coming from SMPPSim expect a page with the binds, the messages and an MO form. The
page is three bundled files (``simulator/static``: HTML, a small vanilla script and a
stylesheet; nothing from a CDN) that poll the control API's JSON endpoints (``/binds``,
``/accounts``, ``/messages``, ``/mo``) and send its forms to ``/inject``, ``/behaviour``
and ``/reset``, with the same token as every other client.

The files hold no data, so they are served without the token even when reads need it
(``TokenGuard``): the page loads, then asks for the token (kept in the tab's
sessionStorage and sent as ``Authorization: Bearer``; ``/#token=...`` fills it in).
A strict Content-Security-Policy allows nothing but these files and the API itself.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Final

from fastapi import FastAPI, Response

__all__ = ["ASSETS", "add_console"]

# path -> (file in simulator/static, media type)
ASSETS: Final = {
    "/": ("console.html", "text/html; charset=utf-8"),
    "/console.js": ("console.js", "text/javascript; charset=utf-8"),
    "/console.css": ("console.css", "text/css; charset=utf-8"),
}
_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@functools.cache
def _asset(name: str) -> bytes:
    return resources.files("simulator").joinpath("static", name).read_bytes()


def add_console(app: FastAPI) -> None:
    """Serve the console's files at ``ASSETS``' paths (left out of the OpenAPI schema)."""
    for path, (name, media_type) in ASSETS.items():
        app.add_api_route(path, _endpoint(name, media_type), methods=["GET"], include_in_schema=False)


def _endpoint(name: str, media_type: str) -> Callable[[], Awaitable[Response]]:
    # A closure, not default arguments: FastAPI would make those query parameters.
    async def asset() -> Response:
        return Response(_asset(name), media_type=media_type, headers=_HEADERS)

    return asset
