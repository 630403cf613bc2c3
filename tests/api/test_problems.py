"""Every error of the HTTP API is one RFC 9457 shape; the OpenAPI document says so, with
the key schemes; /docs works offline. Over real HTTP, in front of the real gateway.

The 401, 404 (unknown id), 409 (idempotency, cancel) and 422 (pydantic, gateway, query
parameters) paths are checked where those features are tested (test_api, test_listing);
this file has the others and the document.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import attrs
import httpx
import pytest
import trio

from smppgw.store.base import MessageRecord, StoreError
from smppgw.store.memory import MemoryStore
from tests.api.helpers import KEY, app_config, assert_problem, serving
from tests.gateway.helpers import simulator, smsc

MSG = {"to": "+447700900001", "from": "12345", "text": "problem test"}
DOWN = {
    "name": "down",
    "host": "127.0.0.1",
    "port": 1,
    "system_id": "x",
    "password": "y",
    "connect_timeout": 0.2,
}


class FaultyStore(MemoryStore):
    """A memory store that fails on demand: ``add`` as a full disk would (StoreError),
    ``get`` of id "boom" with a bug's exception whose text must not reach the caller."""

    def __init__(self) -> None:
        super().__init__()
        self.full = False

    def add(self, messages: Sequence[MessageRecord]) -> None:
        if self.full:
            raise StoreError("disk full")
        super().add(messages)

    def get(self, message_id: str) -> MessageRecord | None:
        if message_id == "boom":
            raise RuntimeError("secret internals: /var/lib/smppgw/db row 17")
        return super().get(message_id)


async def test_routing_errors_are_problems(tmp_path: Path) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        assert_problem(await api.get("/v1/no-such-thing"), 404, "not-found")
        assert_problem(await api.get("/nothing/here"), 404, "not-found")
        r = await api.http.delete(api.url + "/v1/messages/batch")
        assert_problem(r, 405, "method-not-allowed")
        assert r.headers["allow"] == "POST"
        assert_problem(await api.http.put(api.url + "/healthz"), 405, "method-not-allowed")


async def test_queue_full_is_429_with_retry_after(tmp_path: Path) -> None:
    config = attrs.evolve(app_config([DOWN], tmp_path / "db"), max_queued=1)
    async with serving(config) as api:  # the carrier is down: the first message stays queued
        assert (await api.post("/v1/messages", MSG)).status_code == 202
        for r in (
            await api.post("/v1/messages", MSG),
            await api.post("/v1/messages/batch", {"messages": [MSG]}),
        ):
            assert "1 parts waiting" in assert_problem(r, 429, "queue-full")["detail"]
            assert r.headers["retry-after"] == "1"


async def test_store_failure_and_a_stopped_gateway_are_503(tmp_path: Path) -> None:
    store = FaultyStore()
    async with serving(app_config([DOWN], tmp_path / "db"), store) as api:
        store.full = True
        problem = assert_problem(await api.post("/v1/messages", MSG), 503, "unavailable")
        assert problem["detail"] == "not accepted: disk full"
        batch = await api.post("/v1/messages/batch", {"messages": [MSG, MSG]})
        assert_problem(batch, 503, "unavailable")
        store.full = False
        await api.gateway.aclose()
        problem = assert_problem(await api.post("/v1/messages", MSG), 503, "unavailable")
        assert "not running" in problem["detail"]
    assert store.counts() == {}


async def test_an_unexpected_error_is_a_500_that_tells_nothing_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="smppgw.net.http")
    async with serving(app_config([DOWN], tmp_path / "db"), FaultyStore()) as api:
        r = await api.get("/v1/messages/boom")
        problem = assert_problem(r, 500, "internal")
        assert "secret" not in r.text and "RuntimeError" not in r.text and "Traceback" not in r.text
        assert problem["detail"] == "an unexpected error; it has been logged"
        # The API still answers afterwards.
        assert_problem(await api.get("/v1/messages/other"), 404, "not-found")
    [logged] = [rec for rec in caplog.records if rec.name == "smppgw.net.http"]  # the HTTP front's log
    assert "GET /v1/messages/boom" in logged.getMessage()
    # The 500 names its log line: the same request id in the body, the header and the log.
    assert f"request {r.headers['x-request-id']}:" in logged.getMessage()
    assert logged.exc_info is not None and "secret internals" in str(logged.exc_info[1])


async def test_openapi_declares_the_key_schemes_and_every_error(tmp_path: Path) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        doc = (await httpx.AsyncClient().get(api.url + "/openapi.json")).json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "Authorization: Bearer KEY",
    }
    assert schemes["apiKeyHeader"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    problem = doc["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert "HTTPValidationError" not in doc["components"]["schemas"]  # FastAPI's 422, replaced
    problem_ref = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    operations = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]
    v1 = [(path, method, op) for path, method, op in operations if path.startswith("/v1/")]
    assert len(v1) >= 9
    for path, method, op in v1:
        # Either key scheme (a list of alternatives, OpenAPI 3.1 §4.8.10.3).
        assert op["security"] == [{"bearerAuth": []}, {"apiKeyHeader": []}], (method, path)
        assert {"401", "500"} <= set(op["responses"]), (method, path)
    for path, method, op in operations:
        for code, answer in op["responses"].items():
            if code[0] in "45" and not (path == "/readyz" and code == "503"):
                assert answer["content"] == problem_ref, (method, path, code)
        if path.startswith(("/healthz", "/readyz", "/metrics")):
            assert "security" not in op
    declared = {(m, p): set(op["responses"]) for p, m, op in operations}
    assert {"409", "422", "429", "503"} <= declared["post", "/v1/messages"]
    assert {"422", "429", "503"} <= declared["post", "/v1/messages/batch"]
    assert "404" in declared["get", "/v1/messages/{message_id}"]
    assert {"404", "409"} <= declared["post", "/v1/messages/{message_id}/cancel"]
    assert "422" in declared["get", "/v1/messages"]
    # What an API fuzzer found undocumented (make fuzz): a body that is not JSON, an
    # unknown dead letter, and /metrics in the Prometheus text format.
    assert "400" in declared["put", "/v1/optouts/{number}"]
    assert "404" in declared["post", "/v1/webhooks/dead/{event_id}/retry"]
    assert set(doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain"}


async def test_docs_load_from_the_app_with_no_external_url(tmp_path: Path) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        async with httpx.AsyncClient(base_url=api.url) as browser:  # no key: the docs are public
            for page in ("/docs", "/redoc"):
                r = await browser.get(page)
                assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
                assert not re.search(r"https?://|//[a-z]", r.text), r.text  # no CDN, no other host
                links = re.findall(r'(?:src|href|url|spec-url)\s*[=:]\s*["\']([^"\']+)["\']', r.text)
                assert any(link.endswith(".js") for link in links), links
                for link in links:
                    loaded = await browser.get(link)
                    assert loaded.status_code == 200 and loaded.content, (page, link)
            bundle = await browser.get("/docs/assets/swagger-ui-bundle.js")
            assert b"SwaggerUIBundle" in bundle.content and len(bundle.content) > 100_000
            assert_problem(await browser.get("/docs/assets/missing.js"), 404, "not-found")


async def test_a_body_over_the_limit_is_413_before_it_is_read(tmp_path: Path) -> None:
    """The HTTP front refuses it on its Content-Length; the same shape, type about:blank
    (the front sits below the API layer and names no kind)."""
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        port = int(api.url.rsplit(":", 1)[1])
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(
                b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                b"authorization: Bearer " + KEY.encode() + b"\r\ncontent-length: 100000000\r\n\r\n"
            )
            answer = b""
            with trio.fail_after(5):
                while chunk := await stream.receive_some(65536):
                    answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ") and b"content-type: application/problem+json" in head.lower()
    problem = json.loads(body)
    assert (
        problem["type"] == "about:blank"
        and problem["status"] == 413
        and problem["title"] == "Content Too Large"
    )
    assert "body over" in problem["detail"]
