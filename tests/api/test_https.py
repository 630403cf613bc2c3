"""The API over HTTPS from a config file (``[api] tls_cert``/``tls_key``, relative to the
file), the ``[api]`` limits, and config errors naming their key; and a 500's request id,
from the body to the log, on both ways in (the intake's fast route and FastAPI's)."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trustme

from smppgw.app import app_config_from_dict, load_app_config, run_app
from smppgw.gateway.config import ConfigError
from smppgw.net.http import HttpLimits
from smppgw.store.base import InboundRecord, MessageRecord
from smppgw.store.memory import MemoryStore
from tests.api.helpers import KEY, app_config, assert_problem, serving
from tests.gateway.helpers import simulator

MSG = {"to": "+447700900001", "from": "12345", "text": "over https"}
SMSC = {"name": "a", "host": "127.0.0.1", "port": 2775, "system_id": "s", "password": "p"}


def write_certs(directory: Path) -> trustme.CA:
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    (directory / "tls").mkdir()
    (directory / "tls" / "api-cert.pem").write_bytes(b"".join(b.bytes() for b in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(directory / "tls" / "api-key.pem")
    return ca


async def test_the_api_serves_https_from_the_config_file(tmp_path: Path) -> None:
    ca = write_certs(tmp_path)
    async with simulator() as sim:
        path = tmp_path / "gateway.toml"
        path.write_text(
            f'[[smsc]]\nname = "sim"\nhost = "127.0.0.1"\nport = {sim.port}\nsystem_id = "smppclient1"\n'
            'password = "password"\n\n'
            f'[store]\npath = "{tmp_path / "db"}"\n\n'
            f'[api]\nlisten = "127.0.0.1:0"\nkeys = ["{KEY}"]\n'
            'tls_cert = "tls/api-cert.pem"\ntls_key = "tls/api-key.pem"\n'
        )
        config = load_app_config(path)  # read relative to the file, not the working directory
        assert config.tls_cert == tmp_path / "tls" / "api-cert.pem"
        trusting = ssl.create_default_context()
        ca.configure_trust(trusting)
        async with trio.open_nursery() as nursery:
            gateway, _, port = await nursery.start(partial(run_app, config))
            headers = {"Authorization": f"Bearer {KEY}"}
            async with httpx.AsyncClient(verify=trusting, headers=headers, timeout=10) as client:
                url = f"https://127.0.0.1:{port}"
                with trio.fail_after(5):
                    while (await client.get(url + "/readyz")).status_code != 200:
                        await trio.sleep(0.01)
                r = await client.post(url + "/v1/messages", json=MSG)
                assert r.status_code == 202, r.text
                with trio.fail_after(5):
                    while (await client.get(f"{url}/v1/messages/{r.json()['id']}")).json()[
                        "status"
                    ] != "delivered":
                        await trio.sleep(0.02)
                r = await client.post(url + "/v1/messages/batch", json={"messages": [MSG, MSG]})
                assert r.status_code == 202 and r.json()["accepted"] == 2
            async with httpx.AsyncClient(timeout=5) as plain:  # plain HTTP on the HTTPS port
                with pytest.raises(httpx.TransportError):
                    await plain.get(f"http://127.0.0.1:{port}/healthz")
            await gateway.aclose()
            nursery.cancel_scope.cancel()
        assert [m.payload.decode() for m in sim.store.select(limit=10)].count("over https") == 3


def test_the_api_limits_come_from_the_config() -> None:
    config = app_config_from_dict(
        {
            "smsc": [SMSC],
            "api": {
                "keys": ["k" * 8], "max_body": 2048, "max_batch_body": 4096, "max_head": 8192,
                "request_timeout": 5, "keepalive_timeout": 2.5, "max_connections": 10,
            },
        },
        environ={},
    )  # fmt: skip
    assert config.http == HttpLimits(
        max_body=2048, max_head=8192, request_timeout=5.0, keepalive_timeout=2.5, max_connections=10
    )
    assert config.max_batch_body == 4096 and config.tls_cert is None
    defaults = app_config_from_dict({"smsc": [SMSC], "api": {"keys": ["k" * 8]}}, environ={})
    assert defaults.http == HttpLimits() and defaults.http.max_body == 1024 * 1024
    assert defaults.max_batch_body == 16 * 1024 * 1024


@pytest.mark.parametrize(
    ("api", "message"),
    [
        ({"tls_cert": "tls/api-cert.pem"}, "api.tls_key: tls_cert and tls_key go together"),
        ({"tls_key": "tls/api-key.pem"}, "api.tls_cert: tls_cert and tls_key go together"),
        ({"tls_cert": "tls/none.pem", "tls_key": "tls/api-key.pem"}, "api.tls_cert: no such file: "),
        ({"tls_cert": "tls/api-cert.pem", "tls_key": "tls/none.pem"}, "api.tls_key: no such file: "),
        (
            {"tls_cert": "tls/api-key.pem", "tls_key": "tls/api-key.pem"},
            "api.tls_cert: not a PEM certificate",
        ),
        ({"tls_cert": "tls/api-cert.pem", "tls_key": "tls/other.pem"}, "api.tls_key: "),
        ({"tls_cert": "", "tls_key": "tls/api-key.pem"}, "api.tls_cert: "),
        ({"max_body": 10}, "api.max_body: an integer in 1024..1073741824"),
        ({"max_batch_body": "16M"}, "api.max_batch_body: expected an integer"),
        ({"max_head": 10**9}, "api.max_head: an integer in 1024..1048576"),
        ({"max_connections": 0}, "api.max_connections: an integer in 1..1000000"),
        ({"request_timeout": 0}, "api.request_timeout: must be a number"),
        ({"keepalive_timeout": float("nan")}, "api.keepalive_timeout: expected a number"),
        ({"tls": True}, "api.tls: unknown key"),
    ],
)
def test_bad_api_settings_name_the_key(tmp_path: Path, api: dict[str, Any], message: str) -> None:
    write_certs(tmp_path)
    trustme.CA().issue_cert("x").private_key_pem.write_to_path(tmp_path / "tls" / "other.pem")
    with pytest.raises(ConfigError) as info:
        app_config_from_dict({"smsc": [SMSC], "api": {"keys": ["k" * 8], **api}}, environ={}, base=tmp_path)
    assert str(info.value).startswith(message), str(info.value)


# -- a 500's request id ----------------------------------------------------------------------------


class BuggyStore(MemoryStore):
    """A store with a bug in ``add`` (the intake's way) and in ``inbound`` (FastAPI's)."""

    def add(self, messages: Sequence[MessageRecord]) -> None:
        raise RuntimeError("secret internals: row 17 of /var/lib/smppgw")

    def inbound(self, *, after: int = 0, limit: int = 100, tenant: str | None = None) -> list[InboundRecord]:
        raise RuntimeError("secret internals: row 18 of /var/lib/smppgw")


async def test_a_500_carries_the_request_id_the_log_has(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    down = {"name": "down", "host": "127.0.0.1", "port": 1, "system_id": "x", "password": "y"}
    async with serving(app_config([down], tmp_path / "db"), BuggyStore()) as api:
        for method, path, body in (("POST", "/v1/messages", MSG), ("GET", "/v1/inbound", None)):
            for given in ("support-case-42", None):
                headers = {"X-Request-Id": given} if given else {}
                r = await api.http.request(method, api.url + path, json=body, headers=headers)
                assert_problem(r, 500, "internal")  # its request_id is the header's
                rid = r.headers["x-request-id"]
                assert rid == given if given else len(rid) > 8
                assert "secret" not in r.text and "RuntimeError" not in r.text
                lines = [rec.getMessage() for rec in caplog.records if rid in rec.getMessage()]
                assert lines, (rid, [rec.getMessage() for rec in caplog.records])
        # Every answer has one, the ordinary ones too, and the API carries on.
        ok = await api.get("/healthz")
        assert ok.status_code == 200 and ok.headers["x-request-id"]
    # The traceback was logged (once per failure), with the secret in the log, not the answer.
    logged = [rec for rec in caplog.records if rec.exc_info is not None]
    assert any("row 17" in str(rec.exc_info[1]) for rec in logged if rec.exc_info)
    assert any("row 18" in str(rec.exc_info[1]) for rec in logged if rec.exc_info)


async def test_ordinary_problems_have_a_request_id_header_but_no_body_field(tmp_path: Path) -> None:
    down = {"name": "down", "host": "127.0.0.1", "port": 1, "system_id": "x", "password": "y"}
    async with serving(app_config([down], tmp_path / "db")) as api:
        r = await api.post("/v1/messages", {**MSG, "to": "x"})
        assert_problem(r, 422, "validation", "to")  # no request_id in a 4xx body
        assert r.headers["x-request-id"]
        r = await api.get("/v1/messages/none", headers={"X-Request-Id": "abc-1"})
        assert r.headers["x-request-id"] == "abc-1" and "request_id" not in r.json()
