"""The demo's view of the product: its HTTP API (httpx), what this build offers of it,
and bounded waits that say what they waited for."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Final

import attrs
import httpx
import trio

from smppgw.twoway.keywords import Keywords

__all__ = ["Api", "DemoTimeout", "detect_waiting", "percentile", "seconds_between", "wait_until"]

POLL: Final = 0.1  # seconds between two looks at the API


class DemoTimeout(Exception):
    """A wait ran out; the message says what was waited for and what was seen."""


async def wait_until(what: str, timeout: float, check: Callable[[], Awaitable[str | None]]) -> None:
    """Look with ``check`` (None: done; otherwise what is still missing) every ``POLL``
    seconds for ``timeout`` seconds; a look itself is bounded by the client's timeout.

    Raises:
        DemoTimeout: naming ``what`` and what the last look found missing.
    """
    deadline = trio.current_time() + timeout
    while (missing := await check()) is not None:
        left = deadline - trio.current_time()
        if left <= 0:
            raise DemoTimeout(f"waited {timeout:g} s for {what}: {missing}")
        await trio.sleep(min(POLL, left))


@attrs.define(eq=False)
class Api:
    http: httpx.AsyncClient

    async def post_message(self, body: dict[str, Any]) -> httpx.Response:
        return await self.http.post("/v1/messages", json=body)

    async def messages(self) -> list[dict[str, Any]]:
        """Every message (the demo sends well under a page of 1,000)."""
        r = await self.http.get("/v1/messages", params={"limit": 1000})
        r.raise_for_status()
        items: list[dict[str, Any]] = r.json()["messages"]
        return items

    async def message(self, message_id: str) -> dict[str, Any]:
        r = await self.http.get(f"/v1/messages/{message_id}")
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    async def inbound(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        after = 0
        for _ in range(100):  # 100 pages of 1,000: far more than the demo receives
            r = await self.http.get("/v1/inbound", params={"after": after, "limit": 1000})
            r.raise_for_status()
            page = r.json()
            out += page["messages"]
            if not page["messages"]:
                break
            after = page["next"]
        return out

    async def consent(self, number: str, sender: str) -> dict[str, Any] | None:
        r = await self.http.get(f"/v1/consent/{number}", params={"sender": sender})
        if r.status_code == 404:
            return None
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    async def cancel(self, message_id: str) -> dict[str, Any]:
        r = await self.http.post(f"/v1/messages/{message_id}/cancel")
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    async def ready(self) -> str | None:
        r = await self.http.get("/readyz")
        return None if r.status_code == 200 else f"/readyz answers {r.status_code}: {r.text}"


async def detect_waiting(api: Api, twoway_missing: dict[str, str]) -> dict[str, str]:
    """The 2-way features this build does not have yet: step -> how the demo can tell.
    Their demo steps are shown as waiting instead of run."""
    doc = (await api.http.get("/openapi.json")).json()
    paths = doc.get("paths", {})
    body = doc.get("components", {}).get("schemas", {}).get("MessageBody", {}).get("properties", {})
    if not body:
        raise DemoTimeout("the OpenAPI document has no MessageBody: cannot tell what this build offers")
    waiting: dict[str, str] = {}
    if Keywords().classify("stop please") is None:
        waiting["keywords"] = 'tolerant matching: "stop please" is not an opt-out in this build'
    if "/v1/consent/{number}" not in paths:
        waiting["consent"] = "GET /v1/consent/{number} is not in the API"
    if "expect" not in body:
        waiting["conversations"] = 'POST /v1/messages has no "expect"'
    if "quiet_hours" in twoway_missing:
        waiting["quiet hours"] = f"[[twoway.quiet_hours]] refused: {twoway_missing['quiet_hours']}"
    if "/v1/flows/{name}" not in paths or "/v1/threads" not in paths:
        waiting["flows"] = "PUT /v1/flows/{name} or GET /v1/threads is not in the API"
    if "pool" in twoway_missing:
        waiting["pools"] = f"[[twoway.pool]] refused: {twoway_missing['pool']}"
    return waiting


def seconds_between(start: str | None, end: str | None) -> float | None:
    """Seconds from one API time (ISO 8601) to another."""
    if start is None or end is None:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` percentile (0-100) of ``values``; nan for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]
