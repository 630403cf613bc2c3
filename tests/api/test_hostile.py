"""Hostile and odd client input over real HTTP: every such request is a 4xx naming what
is wrong, never a 500, and the API carries on. Values JSON has no place for (NaN,
Infinity, lone UTF-16 surrogates), integers SQLite cannot hold, deep and huge bodies,
bytes that are not UTF-8, and each field's bound (tags, text bytes, URL, key charset).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from smppgw.api.bodies import LENIENT_MAX
from smppgw.app import AppConfig
from tests.api.helpers import Api, app_config, assert_problem, serving
from tests.gateway.helpers import simulator, smsc

MSG = {"to": "+447700900001", "from": "12345", "text": "hostile test"}
# A carrier that is never up: what is accepted stays queued (nothing here needs a bind).
DOWN = {"name": "down", "host": "127.0.0.1", "port": 1, "system_id": "x", "password": "y"}
JSON = {"content-type": "application/json"}


def config(tmp_path: Path) -> AppConfig:
    return app_config([DOWN], tmp_path / "db")


async def post_raw(api: Api, path: str, raw: bytes) -> httpx.Response:
    return await api.http.post(api.url + path, content=raw, headers=JSON)


def with_field(name: str, raw_value: str, body: dict[str, Any] = MSG) -> bytes:
    """``body`` as JSON with ``name`` set to ``raw_value`` written as is (not JSON-encoded)."""
    text = json.dumps(body)
    return (text[:-1] + f', "{name}": {raw_value}}}').encode()


# -- values JSON has no place for -----------------------------------------------------------------


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
async def test_a_non_finite_validity_is_422_naming_it(tmp_path: Path, number: str) -> None:
    async with serving(config(tmp_path)) as api:
        problem = assert_problem(
            await post_raw(api, "/v1/messages", with_field("validity", number)), 422, "validation", "validity"
        )
        assert "not a number JSON has" in problem["detail"]
        batch = json.dumps({"messages": [MSG, MSG]}).replace(
            '"text": "hostile test"}]', f'"text": "hostile test", "validity": {number}}}]'
        )
        r = await post_raw(api, "/v1/messages/batch", batch.encode())
        assert_problem(r, 422, "validation", "messages[1].validity")
        # In a body too big to read twice: a 400 (msgspec's reason, no field).
        many = json.dumps({"messages": [{**MSG, "text": "p" * 1000}] * (LENIENT_MAX // 1000)})
        r = await post_raw(api, "/v1/messages/batch", (many[:-3] + f', "validity": {number}}}]}}').encode())
        assert "not JSON" in assert_problem(r, 400, "bad-request")["detail"]
        # Too big for a double: msgspec's own range check, the same shape.
        r = await post_raw(api, "/v1/messages", with_field("validity", "1e400"))
        assert_problem(r, 422, "validation", "validity")
        assert (await api.post("/v1/messages", {**MSG, "validity": 60})).status_code == 202


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (with_field("text", r'"\ud800"', {"to": MSG["to"], "from": MSG["from"]}), "text"),
        (with_field("text", r'"ok \udfff"', {"to": MSG["to"], "from": MSG["from"]}), "text"),
        (with_field("tags", r'["a", "\ud83d"]'), "tags[1]"),
        (with_field("idempotency_key", r'"k\udc00"'), "idempotency_key"),
        (rb'{"to": "+447700900001", "from": "1\ud800", "text": "x"}', "from"),
        (with_field(r"\ud800", "1"), r"\ud800"),  # a name: shown escaped
    ],
)
async def test_a_lone_surrogate_is_422_naming_its_field(tmp_path: Path, raw: bytes, field: str) -> None:
    async with serving(config(tmp_path)) as api:
        problem = assert_problem(await post_raw(api, "/v1/messages", raw), 422, "validation", field)
        assert "surrogate" in problem["detail"]
        batch = b'{"messages": [' + json.dumps(MSG).encode() + b", " + raw + b"]}"
        assert_problem(
            await post_raw(api, "/v1/messages/batch", batch), 422, "validation", f"messages[1].{field}"
        )


async def test_a_surrogate_pair_is_text_and_reaches_the_carrier(tmp_path: Path) -> None:
    """Escaped as a pair (as JSON encoders write astral characters) it is one character."""
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        raw = with_field("text", r'"smile \ud83d\ude00"', {"to": MSG["to"], "from": MSG["from"]})
        r = await post_raw(api, "/v1/messages", raw)
        assert r.status_code == 202, r.text
        await api.wait_status(r.json()["id"], {"delivered"})
        [sent] = sim.store.select(limit=10)
        assert sent.payload.decode("utf-16-be") == "smile \U0001f600"


# -- bodies that are not JSON, deep, or huge --------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe{}",  # not UTF-8
        json.dumps(MSG).encode("utf-16"),  # JSON, but UTF-16 (RFC 8259 §8.1: UTF-8 only)
        b'{"to": "+447700900001", "from": "12345", "text": "\xe9t\xe9"}',  # Latin-1 bytes
        b'{"to": "+447700900001",',  # cut short
        b"[" * 200_000 + b"]" * 200_000,  # deep, and not an object anyway
        b'{"to": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
        b"",
    ],
)
async def test_a_body_that_is_not_utf8_json_is_a_4xx(tmp_path: Path, raw: bytes) -> None:
    async with serving(config(tmp_path)) as api:
        for path in ("/v1/messages", "/v1/messages/batch"):
            r = await post_raw(api, path, raw)
            assert r.status_code in (400, 422), (path, r.status_code, r.text[:300])
            assert_problem(
                r,
                r.status_code,
                "bad-request" if r.status_code == 400 else "validation",
                *([e["field"] for e in r.json().get("errors", [])]),
            )
        assert (await api.post("/v1/messages", MSG)).status_code == 202  # and it carries on


async def test_deep_nesting_inside_a_field_stops_at_the_field(tmp_path: Path) -> None:
    async with serving(config(tmp_path)) as api:
        deep = b"[" * 300_000 + b"]" * 300_000  # 600 kB: under max_body, far past any recursion limit
        assert_problem(await post_raw(api, "/v1/messages", with_field("tags", deep.decode())),
                       422, "validation", "tags[0]")  # fmt: skip
        r = await post_raw(api, "/v1/messages/batch", b'{"messages": ' + deep + b"}")
        assert_problem(r, 422, "validation", "messages[0]")


async def test_the_body_limits_are_per_route(tmp_path: Path) -> None:
    """A single message over [api] max_body is 413; a batch may be bigger, up to
    max_batch_body; the limits come from the config."""
    base = config(tmp_path)
    small = attrs.evolve(base, http=attrs.evolve(base.http, max_body=4096), max_batch_body=300_000)
    async with serving(small) as api:
        big_text = {**MSG, "text": "x" * 5000}
        r = await api.post("/v1/messages", big_text)
        assert r.status_code == 413 and "4096" in r.json()["detail"], r.text
        assert r.headers["x-request-id"]
        batch = {"messages": [{**MSG, "text": "y" * 1000, "to": f"+4477009{i:05d}"} for i in range(100)]}
        r = await api.post("/v1/messages/batch", batch)  # about 110 kB
        assert r.status_code == 202 and r.json()["accepted"] == 100, r.text[:300]
        r = await api.post("/v1/messages/batch", {"messages": [big_text] * 70})  # about 360 kB
        assert r.status_code == 413 and "300000" in r.json()["detail"]
        # Another route keeps max_body.
        r = await api.http.put(api.url + "/v1/optouts/447700900001", json={"reason": "z" * 5000})
        assert r.status_code == 413


# -- query and path parameters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/inbound?after=9223372036854775808", "after"),
        ("/v1/inbound?after=-1", "after"),
        ("/v1/inbound?after=1e3", "after"),
        ("/v1/inbound?limit=100000000000000000000", "limit"),
        ("/v1/events?after=99999999999999999999999999", "after"),
        ("/v1/webhooks/dead?limit=0", "limit"),
        ("/v1/messages?limit=1001", "limit"),
        ("/v1/messages?tag=" + "t" * 65, "tag"),
        ("/v1/messages?tag=a%20b", "tag"),
        ("/v1/messages?tag=a%0A", "tag"),
        ("/v1/messages?since=99999-01-01T00:00:00Z", "since"),
        ("/v1/messages?to=%00", "to"),
    ],
)
async def test_an_out_of_range_parameter_is_422_naming_it(tmp_path: Path, path: str, name: str) -> None:
    async with serving(config(tmp_path)) as api:
        assert_problem(await api.get(path), 422, "validation", name, where="query")


@pytest.mark.parametrize(
    "created",
    ["1e999", "-1e999", "NaN", str(10**400), "[]", '"x"', "true"],
)
async def test_a_forged_cursor_is_422_naming_it(tmp_path: Path, created: str) -> None:
    cursor = base64.urlsafe_b64encode(f'[{created}, "id"]'.encode()).decode().rstrip("=")
    async with serving(config(tmp_path)) as api:
        assert_problem(
            await api.get(f"/v1/messages?cursor={cursor}"), 422, "validation", "cursor", where="query"
        )


async def test_the_largest_sequence_number_is_served(tmp_path: Path) -> None:
    async with serving(config(tmp_path)) as api:
        r = await api.get("/v1/inbound?after=9223372036854775807")
        assert r.status_code == 200 and r.json() == {"messages": [], "next": 9223372036854775807}
        assert (await api.get("/v1/events?after=9223372036854775807")).status_code == 200


async def test_odd_path_parameters_are_404_not_500(tmp_path: Path) -> None:
    async with serving(config(tmp_path)) as api:
        for message_id in ("%00", "%ED%A0%80", "%FF", "x" * 4000, "..%2F..%2Fetc"):
            assert_problem(await api.get(f"/v1/messages/{message_id}"), 404, "not-found")
        r = await api.http.post(api.url + "/v1/webhooks/dead/%ED%A0%80/retry")
        assert_problem(r, 404, "not-found")


# -- the opt-out body (read by FastAPI) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (rb'{"reason": "\ud800"}', 422),
        (b'{"reason": NaN}', 422),
        (b'{"reason": "\xff"}', 400),
        (b'{"reason": "\xed\xa0\x80"}', 422),  # a surrogate written as UTF-8 bytes: not UTF-8
        (b"[" * 200_000 + b"]" * 200_000, 400),  # deeper than Python's json reads
        (b'{"reason": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", 400),
    ],
)
async def test_odd_opt_out_bodies_are_4xx(tmp_path: Path, raw: bytes, status: int) -> None:
    async with serving(config(tmp_path)) as api:
        r = await api.http.put(api.url + "/v1/optouts/447700900001", content=raw, headers=JSON)
        assert r.status_code == status, r.text[:300]
        assert r.headers["content-type"] == "application/problem+json"
        assert (await api.get("/v1/optouts/447700900001")).status_code == 404  # nothing stored


# -- each field's bound ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"tags": ["t" * 65]}, "tags[0]"),
        ({"tags": [""]}, "tags[0]"),
        ({"tags": ["ok", "has space"]}, "tags[1]"),
        ({"tags": ["new\nline"]}, "tags[0]"),
        ({"tags": ["trailing\n"]}, "tags[0]"),
        ({"tags": ["ünï"]}, "tags[0]"),
        ({"tags": [f"t{i}" for i in range(17)]}, "tags"),
        ({"text": "é" * 40_000}, "text"),  # 40,000 characters, 80,000 bytes of UTF-8
        ({"text": "x" * 78_031}, "text"),
        ({"callback_url": "https://example.com/" + "p" * 2048}, "callback_url"),
        ({"callback_url": "https://example.com/a b"}, "callback_url"),
        ({"callback_url": "https://exämple.com/"}, "callback_url"),
        ({"callback_url": "https://example.com/\n"}, "callback_url"),
        ({"idempotency_key": "k" * 129}, "idempotency_key"),
        ({"idempotency_key": "has space"}, "idempotency_key"),
        ({"idempotency_key": "tab\there"}, "idempotency_key"),
        ({"idempotency_key": "end\n"}, "idempotency_key"),
        ({"idempotency_key": "ключ"}, "idempotency_key"),
        ({"text": None, "hex": "0a\n"}, "hex"),
        ({"priority": 10**30}, "priority"),
        ({"send_at": "99999-01-01T00:00:00Z"}, "send_at"),
    ],
)
async def test_each_field_is_bounded(tmp_path: Path, extra: dict[str, Any], field: str) -> None:
    async with serving(config(tmp_path)) as api:
        body = {k: v for k, v in {**MSG, **extra}.items() if v is not None}
        assert_problem(await api.post("/v1/messages", body), 422, "validation", field)
        # In a batch: the item's own problem, or (a value of the wrong shape, which msgspec
        # finds while decoding the whole body) the batch's 422, naming the item's field.
        r = await api.post("/v1/messages/batch", {"messages": [MSG, body]})
        if r.status_code == 202:
            assert r.json()["results"][1]["errors"][0]["field"] == f"messages[1].{field}"
        else:
            assert_problem(r, 422, "validation", f"messages[1].{field}")


async def test_fields_at_their_bounds_are_accepted(tmp_path: Path) -> None:
    async with serving(config(tmp_path)) as api:
        body = {
            **MSG,
            "text": "é" * 39_015,  # 78,030 bytes
            "tags": ["A-z_0.9:" + "t" * 56] * 16,
            "callback_url": "https://example.com/" + "p" * (2048 - 20),
            "idempotency_key": "!" + "~" * 127,
        }
        r = await api.post("/v1/messages", body)
        # Accepted as a body; the gateway then says whether it fits in 255 parts.
        assert r.status_code in (202, 422), r.text[:300]
        if r.status_code == 422:
            assert r.json()["errors"][0]["field"] == "text"
        body["text"], body["idempotency_key"] = "é" * 100, "!" + "-" * 127
        assert (await api.post("/v1/messages", body)).status_code == 202
