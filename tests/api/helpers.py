"""Helpers for the queue API tests: the real app (gateway + SQLite + the HTTP front) on a free
loopback port, in front of a real simulator, and an httpx client that speaks to it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Final

import attrs
import httpx
import trio

from smppgw.app import AppConfig, run_app
from smppgw.gateway.config import config_from_dict
from smppgw.gateway.engine import Gateway
from smppgw.store.base import Store

__all__ = ["KEY", "Api", "assert_problem", "serving", "wall"]

KEY: Final = "test-key-0123456789"


def assert_problem(
    r: httpx.Response, status: int, kind: str, *fields: str, where: str = "body"
) -> dict[str, Any]:
    """``r`` is an RFC 9457 problem of ``kind`` (urn:smppgw:problem:KIND); a 422's
    ``errors`` name exactly ``fields`` (in ``where``); a 5xx carries its ``request_id``.
    Returns the problem (without ``request_id``)."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json", r.headers
    body: dict[str, Any] = r.json()
    assert body["type"] == f"urn:smppgw:problem:{kind}", body
    assert body["status"] == status and body["title"] and body["detail"], body
    if status >= 500:  # the id of the log line, also every answer's X-Request-Id
        assert body.pop("request_id") == r.headers["x-request-id"], (body, r.headers)
    assert set(body) <= {"type", "title", "status", "detail", "errors"}, body
    if status == 422:
        assert [e["field"] for e in body["errors"]] == list(fields), body
        assert all(e["in"] == where and e["message"] for e in body["errors"]), body
    else:
        assert "errors" not in body and not fields, body
    return body


def wall(iso: str) -> float:
    """An API time (ISO 8601 UTC, milliseconds, Z) as Unix seconds; checks the format."""
    assert len(iso) == 24 and iso.endswith("Z") and iso[10] == "T" and iso[19] == ".", iso
    return datetime.fromisoformat(iso).timestamp()


@attrs.define
class Api:
    gateway: Gateway
    store: Store
    url: str
    http: httpx.AsyncClient

    async def post(self, path: str, body: Any, **kw: Any) -> httpx.Response:
        return await self.http.post(self.url + path, json=body, **kw)

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.get(self.url + path, **kw)

    async def wait_ready(self, timeout: float = 5.0) -> None:
        """Poll ``/readyz`` until a bind is up (the app answers before its binds are)."""
        with trio.fail_after(timeout):
            while not bound(await self.get("/readyz")):
                await trio.sleep(0.01)

    async def wait_status(self, message_id: str, statuses: set[str], timeout: float = 5.0) -> dict[str, Any]:
        """Poll ``GET /v1/messages/{id}`` until its status is one of ``statuses``."""
        body: dict[str, Any] = {}
        with trio.move_on_after(timeout):
            while True:
                body = (await self.get(f"/v1/messages/{message_id}")).json()
                if body.get("status") in statuses:
                    return body
                await trio.sleep(0.02)
        raise AssertionError(f"{message_id} still {body.get('status')} after {timeout}s: {body}")


def app_config(smscs: list[dict[str, Any]], db: Path, **tables: Any) -> AppConfig:
    return AppConfig(
        gateway=config_from_dict({"smsc": smscs, **tables}),
        store_path=db,
        flush_interval=0.02,
        listen_port=0,
        api_keys=(KEY,),
    )


@contextlib.asynccontextmanager
async def serving(config: AppConfig, store: Store | None = None) -> AsyncIterator[Api]:
    """The app on ``config``; on ``store`` if given, else on SQLite at ``config.store_path``."""
    async with trio.open_nursery() as nursery:
        gateway, store, port = await nursery.start(partial(run_app, config, store=store))
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}, timeout=10) as http:
            try:
                yield Api(gateway, store, f"http://127.0.0.1:{port}", http)
            finally:
                with trio.CancelScope(shield=True):
                    await gateway.aclose()
                nursery.cancel_scope.cancel()


def bound(readyz: httpx.Response) -> bool:
    """``/readyz`` says ready and a bind is up (with the shared work queue a gateway is
    ready without one: README "The shared work queue")."""
    return readyz.status_code == 200 and any(readyz.json()["smscs"].values())
