"""The simulator's control HTTP API and /metrics (FastAPI on Hypercorn's trio worker).

    GET   /                             the console: a web page over this API (``console``)
    GET   /healthz                      liveness
    GET   /binds                        bound sessions and their counters
    GET   /accounts                     accounts, counters and effective behaviour
    GET   /stats                        totals
    GET   /messages?account=&source_addr=&destination_addr=&state=&limit=
                                        what the SMSC received, newest first (with
                                        its text decoded, state and receipt)
    GET   /mo?account=&limit=           MO messages last sent to the ESMEs, newest first
    GET   /handsets?limit=              the numbers that got MTs lately, newest first
    GET   /handsets/{number}?limit=     a handset's conversation (MTs and MOs, oldest
                                        first), where a reply goes, what its last MT asks
    POST  /inject                       an inbound (MO) message to an account's binds
                                        (the console's "reply as a handset" uses it too)
    PATCH /behaviour                    change behaviour of every account at run time
    PATCH /accounts/{system_id}/behaviour   ... of one account
    POST  /reset                        forget messages, queued deliveries and timers
    GET   /metrics                      Prometheus text format (smppsim_ prefix)

Bad input gets 422 with a ``detail`` that names the problem; nothing is half-applied.

Access: a request that changes anything (every method but GET and HEAD: inject, reset,
behaviour) must carry the token, as ``Authorization: Bearer TOKEN`` or ``X-Token: TOKEN``;
with ``guard_reads`` (the API listens beyond loopback) every request must, but for the
console's own files (no data in them: the page asks for the token). Without it the
answer is 401, an RFC 9457 problem, before the body is read. The token is compared in
constant time.

Every endpoint is ``async def``: FastAPI runs a plain ``def`` endpoint in a worker thread,
and the simulator's state (trio clock, scheduler, connections) belongs to the trio loop.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Final

import trio
from fastapi import FastAPI, HTTPException, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from simulator.config import ConfigError
from simulator.console import ASSETS, add_console
from simulator.smsc import Simulator
from smppgw.net.listeners import bind_error, listen_error

__all__ = ["TokenGuard", "build_app", "serve_control"]

_READS: Final = frozenset({"GET", "HEAD"})
_PUBLIC: Final = frozenset(ASSETS)  # the console's files: readable without the token
_UNAUTHORIZED: Final = json.dumps(
    {
        "type": "urn:smppsim:problem:unauthorized",
        "title": "Unauthorized",
        "status": 401,
        "detail": "missing or wrong token (Authorization: Bearer TOKEN, or X-Token: TOKEN)",
    }
).encode()
_UNAUTHORIZED_HEADERS: Final = [
    (b"content-type", b"application/problem+json"),
    (b"content-length", str(len(_UNAUTHORIZED)).encode()),
    (b"www-authenticate", b"Bearer"),
]


class TokenGuard:
    """ASGI middleware: the token for every request but reads (for all with ``guard_reads``)."""

    def __init__(self, app: Any, token: str, *, guard_reads: bool) -> None:
        self.app = app
        self._token = token.encode("ascii")
        self._guard_reads = guard_reads

    def _allowed(self, scope: dict[str, Any]) -> bool:
        if scope["method"] in _READS and (not self._guard_reads or scope["path"] in _PUBLIC):
            return True
        given = b""
        for name, value in scope["headers"]:
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                given = value[7:].strip()
            elif name == b"x-token":
                given = value.strip()
        return secrets.compare_digest(given, self._token)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 401, "headers": _UNAUTHORIZED_HEADERS})
        await send({"type": "http.response.body", "body": _UNAUTHORIZED})


class Inject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str | None = Field(default=None, description="system_id; default: the first account")
    source_addr: str = Field(min_length=1, max_length=20)
    destination_addr: str = Field(min_length=1, max_length=20)
    text: str = Field(min_length=1, max_length=10_000)


def build_app(sim: Simulator) -> FastAPI:
    app = FastAPI(title="smppsim control API", version="1")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/binds")
    async def binds() -> list[dict[str, Any]]:
        return sim.binds_info()

    @app.get("/accounts")
    async def accounts() -> list[dict[str, Any]]:
        return sim.accounts_info()

    @app.get("/stats")
    async def stats() -> dict[str, Any]:
        return sim.stats()

    @app.get("/messages")
    async def messages(
        account: str | None = None,
        source_addr: str | None = None,
        destination_addr: str | None = None,
        state: str | None = None,
        limit: int = Query(default=1000, ge=1, le=100_000),
    ) -> list[dict[str, Any]]:
        return sim.messages(
            account=account,
            source_addr=source_addr,
            destination_addr=destination_addr,
            state=state,
            limit=limit,
        )

    @app.get("/mo")
    async def mo(
        account: str | None = None, limit: int = Query(default=50, ge=1, le=10_000)
    ) -> list[dict[str, Any]]:
        try:
            return sim.recent_mo(account=account, limit=limit)
        except ConfigError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None

    @app.get("/handsets")
    async def handsets(limit: int = Query(default=20, ge=1, le=1000)) -> list[dict[str, Any]]:
        return sim.handsets_info(limit=limit)

    @app.get("/handsets/{number}")
    async def handset(
        number: str = Path(min_length=1, max_length=20), limit: int = Query(default=50, ge=1, le=1000)
    ) -> dict[str, Any]:
        return sim.handset_info(number, limit=limit)

    @app.post("/inject", status_code=202)
    async def inject(body: Inject) -> dict[str, int]:
        try:
            parts = sim.inject_mo(
                system_id=body.account,
                source_addr=body.source_addr,
                destination_addr=body.destination_addr,
                text=body.text,
            )
        except ConfigError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        return {"parts": parts}

    def _patch(system_id: str | None, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return sim.set_behaviour(system_id, body)
        except ConfigError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None

    @app.patch("/behaviour")
    async def patch_all(body: dict[str, Any]) -> dict[str, Any]:
        return _patch(None, body)

    @app.patch("/accounts/{system_id}/behaviour")
    async def patch_one(system_id: str, body: dict[str, Any]) -> dict[str, Any]:
        if system_id not in sim.accounts:
            raise HTTPException(status_code=404, detail=f"no account {system_id!r}")
        return _patch(system_id, body)

    @app.post("/reset")
    async def reset() -> dict[str, str]:
        sim.reset()
        return {"status": "reset"}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(sim.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    add_console(app)
    return app


async def serve_control(
    sim: Simulator,
    host: str,
    port: int,
    *,
    token: str,
    guard_reads: bool,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the control API behind ``TokenGuard``; ``task_status.started`` gets the bound
    port. ``guard_reads``: the token for reads too (``run_simulator``: beyond loopback)."""
    from hypercorn.config import Config
    from hypercorn.trio import serve

    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 1.0

    async def run(*, task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
        app = TokenGuard(build_app(sim), token, guard_reads=guard_reads)
        try:
            await serve(app, config, task_status=task_status)  # type: ignore[arg-type]
        except (OSError, BaseExceptionGroup) as exc:  # the port taken: say which address
            failed = bind_error(exc)
            if failed is None:
                raise
            raise listen_error(failed, host, port) from None

    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(run)
        task_status.started(int(binds[0].rsplit(":", 1)[1]))
