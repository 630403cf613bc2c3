"""Phone numbers over real HTTP: normalised at the edge with the configured default
region, so the carrier (the real simulator) gets E.164 digits with TON 1; an impossible
destination is a 422 naming ``to``; short codes and alphanumeric senders go as given."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from smppgw.app import app_config_from_dict
from smppgw.support.config import ConfigError
from tests.api.helpers import app_config, assert_problem, serving
from tests.gateway.helpers import simulator, smsc

SMSC = {"name": "a", "host": "127.0.0.1", "port": 2775, "system_id": "s", "password": "p"}


async def test_national_and_spaced_numbers_reach_the_carrier_as_e164(tmp_path: Path) -> None:
    async with simulator() as sim:
        config = attrs.evolve(app_config([smsc(sim)], tmp_path / "db"), default_region="GB")
        async with serving(config) as api:
            sent = []
            for to, sender in [
                ("07700 900001", "12345"),  # national, region GB; a short code sender
                ("+44 7700 900002", "ACME"),  # '+' with spaces; an alphanumeric sender
                ("447700900003", "+44 (0)7700 900009"),  # the fast path; a sender that is a number
            ]:
                r = await api.post("/v1/messages", {"to": to, "from": sender, "text": "hi"})
                assert r.status_code == 202, r.text
                sent.append(r.json()["id"])
            views = [await api.wait_status(i, {"delivered"}) for i in sent]
            assert [(v["to"], v["from"]) for v in views] == [
                ("447700900001", "12345"),
                ("447700900002", "ACME"),
                ("447700900003", "447700900009"),
            ]
            listed = (await api.get("/v1/messages", params={"to": "07700 900002"})).json()["messages"]
            assert [m["id"] for m in listed] == [sent[1]]  # the filter reads numbers the same way
            r = await api.http.put(api.url + "/v1/optouts/07700900004", json={"reason": "STOP"})
            assert r.json()["number"] == "447700900004"
            blocked = await api.post("/v1/messages", {"to": "+447700900004", "from": "12345", "text": "x"})
            assert blocked.json()["status"] == "blocked"
    wire = {m.destination_addr: m for m in sim.store.select(limit=10)}
    assert sorted(wire) == ["447700900001", "447700900002", "447700900003"]
    assert {m.dest_addr_ton for m in wire.values()} == {1}  # international, no trunk 0
    assert (wire["447700900001"].source_addr, wire["447700900001"].source_addr_ton) == ("12345", 3)
    assert (wire["447700900002"].source_addr, wire["447700900002"].source_addr_ton) == ("ACME", 5)
    assert (wire["447700900003"].source_addr, wire["447700900003"].source_addr_ton) == ("447700900009", 1)


async def test_impossible_or_national_numbers_without_a_region_are_422_naming_the_field(
    tmp_path: Path,
) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        for to, why in [
            ("07700900001", "a national number"),  # no default region: must be international
            ("+44 12", "not a possible number"),
            ("+999 1234567", "no known country code"),
            ("1234567890123456", "too long"),
        ]:
            r = await api.post("/v1/messages", {"to": to, "from": "12345", "text": "hi"})
            problem = assert_problem(r, 422, "validation", "to")
            assert why in problem["errors"][0]["message"] and problem["detail"].startswith("to: "), problem
        r = await api.post("/v1/messages", {"to": "447700900001", "from": "+44 1", "text": "hi"})
        assert_problem(r, 422, "validation", "from")
        batch = {"messages": [{"to": "447700900001", "from": "12345", "text": "ok"},
                              {"to": "+44 12", "from": "12345", "text": "bad"}]}  # fmt: skip
        results = (await api.post("/v1/messages/batch", batch)).json()["results"]
        assert "id" in results[0]
        assert results[1]["status"] == 422 and results[1]["type"] == "urn:smppgw:problem:validation"
        assert [e["field"] for e in results[1]["errors"]] == ["messages[1].to"]
        r = await api.get("/v1/messages", params={"to": "07700900001"})
        assert_problem(r, 422, "validation", "to", where="query")


def test_the_default_region_is_read_from_the_config() -> None:
    base = {"smsc": [SMSC], "api": {"keys": ["k" * 8]}}
    assert app_config_from_dict(base, environ={}).default_region is None
    config = app_config_from_dict({**base, "api": {"keys": ["k" * 8], "default_region": "gb"}}, environ={})
    assert config.default_region == "GB"
    with pytest.raises(ConfigError, match=r"^api\.default_region: .*'UK'"):
        app_config_from_dict({**base, "api": {"keys": ["k" * 8], "default_region": "UK"}}, environ={})
