"""TLS on the gateway's binds (issue 13): ``tls = true`` is really TLS, verified, never clear.

Over loopback TCP against the simulator serving TLS (``tls_cert``/``tls_key``), with
certificates made by ``trustme``: real handshakes need real sockets and the real clock,
so every wait is bounded and the timers are short.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import ssl
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import trustme

from smppgw.core.constants import CommandId
from smppgw.gateway.config import ConfigError, config_from_dict
from smppgw.net.tls import TlsHandshakeFailed, TlsSettings, client_context
from smppgw.sendcmd import SendOptions, run_send
from smppgw.store.base import Status
from tests.api.helpers import app_config, serving
from tests.gateway.helpers import HOST, gateway, simulator, smsc, wait_until


@attrs.frozen
class Pki:
    """A CA, the server's certificate (for 127.0.0.1 and smsc.test), a client's, a stranger CA."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path
    named_cert: Path  # for smsc.test only (not the IP)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca, other = trustme.CA(), trustme.CA()
    server = ca.issue_cert("127.0.0.1", "smsc.test")
    client = ca.issue_cert("esme.test")
    named = ca.issue_cert("smsc.test")
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    other.cert_pem.write_to_path(str(d / "other.pem"))
    server.private_key_and_cert_chain_pem.write_to_path(str(d / "server.pem"))
    server.private_key_pem.write_to_path(str(d / "server.key"))
    client.cert_chain_pems[0].write_to_path(str(d / "client.pem"))
    client.private_key_pem.write_to_path(str(d / "client.key"))
    named.private_key_and_cert_chain_pem.write_to_path(str(d / "named.pem"))
    named.private_key_pem.write_to_path(str(d / "named.key"))
    return Pki(
        ca=d / "ca.pem",
        server_cert=d / "server.pem",
        server_key=d / "server.key",
        client_cert=d / "client.pem",
        client_key=d / "client.key",
        other_ca=d / "other.pem",
        named_cert=d / "named.pem",
    )


def tls_sim(pki: Pki, **config: Any) -> contextlib.AbstractAsyncContextManager[Any]:
    """The simulator serving SMPP over TLS only (receipts after 50 ms)."""
    config.setdefault("tls_cert", str(pki.server_cert))
    config.setdefault("tls_key", str(pki.server_key))
    return simulator(behaviour={"dlr_delay": 0.05}, **config)


def tls_smsc(sim: Any, **overrides: Any) -> dict[str, Any]:
    return smsc(sim, binds=1, tls=True, **overrides)


async def test_tls_bind_submit_and_receipt_with_a_custom_ca(pki: Pki) -> None:
    with trio.fail_after(20):
        async with tls_sim(pki) as sim, gateway(tls_smsc(sim, tls_ca=str(pki.ca))) as gw:
            [conn] = gw.smscs["a"].pool.senders
            assert isinstance(conn.stream, trio.SSLStream)
            assert conn.stream.version() in ("TLSv1.2", "TLSv1.3")
            record = gw.submit(source="12345", destination="447700900001", text="over TLS")
            final = await gw.wait_final(record.id, 10)
            assert final.status == Status.DELIVERED
            [part] = final.parts
            [received] = sim.store.select()
            assert part.smsc_message_id == received.message_id  # the receipt matched its part


async def test_mutual_tls_works_with_a_client_certificate(pki: Pki) -> None:
    client = {"tls_ca": str(pki.ca), "tls_cert": str(pki.client_cert), "tls_key": str(pki.client_key)}
    with trio.fail_after(20):
        async with tls_sim(pki, tls_client_ca=str(pki.ca)) as sim, gateway(tls_smsc(sim, **client)) as gw:
            record = gw.submit(source="12345", destination="447700900001", text="mutual")
            assert (await gw.wait_final(record.id, 10)).status == Status.DELIVERED


async def test_mutual_tls_without_a_client_certificate_never_binds(pki: Pki) -> None:
    with trio.fail_after(20):
        async with (
            tls_sim(pki, tls_client_ca=str(pki.ca)) as sim,
            gateway(tls_smsc(sim, tls_ca=str(pki.ca)), up=False) as gw,
        ):
            pool = gw.smscs["a"].pool
            assert await wait_until(lambda: pool.last_error is not None, 5)
            await trio.sleep(0.3)
            assert not pool.up and pool.binds_made == 0
            # TLS 1.3: the server refuses after the client's handshake; the bind finds it closed
            # (the alert, or an EOF: trio's server side drops the alert when it closes)
            assert any(s in str(pool.last_error) for s in ("CERTIFICATE_REQUIRED", "UNEXPECTED_EOF"))


async def test_a_wrong_ca_fails_clearly_and_the_gateway_is_never_ready(
    pki: Pki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="smppgw.gateway")
    with trio.fail_after(20):
        async with tls_sim(pki) as sim:
            config = app_config([tls_smsc(sim, tls_ca=str(pki.other_ca))], tmp_path / "db.sqlite3")
            async with serving(config) as api:
                pool = api.gateway.smscs["a"].pool
                assert await wait_until(lambda: pool.last_error is not None, 5)
                error = pool.last_error
                assert isinstance(error, TlsHandshakeFailed)
                assert str(error).startswith(
                    f"TLS handshake with {HOST}:{sim.port} failed: certificate verify failed"
                )
                ready = await api.get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["smscs"] == {"a": False}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        m.startswith('bind failed smsc=a bind=0 error="TLS handshake with')
        and "certificate verify failed" in m
        for m in warnings
    )


async def test_hostname_is_verified_and_tls_server_name_names_it(pki: Pki) -> None:
    named = {"tls_cert": str(pki.named_cert), "tls_key": str(pki.named_cert)}
    with trio.fail_after(20):
        async with tls_sim(pki, **named) as sim:
            async with gateway(tls_smsc(sim, tls_ca=str(pki.ca)), up=False) as gw:
                pool = gw.smscs["a"].pool
                assert await wait_until(lambda: pool.last_error is not None, 5)
                assert "certificate verify failed" in str(pool.last_error)
                assert "127.0.0.1" in str(pool.last_error) and not pool.up
            smsc_table = tls_smsc(sim, tls_ca=str(pki.ca), tls_server_name="smsc.test")
            async with gateway(smsc_table) as gw:
                assert gw.smscs["a"].pool.up


async def test_tls_verify_false_binds_untrusted_and_warns_naming_the_smsc(
    pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="smppgw.gateway")
    with trio.fail_after(20):
        async with tls_sim(pki) as sim, gateway(tls_smsc(sim, name="carrier-x", tls_verify=False)) as gw:
            assert isinstance(gw.smscs["carrier-x"].pool.senders[0].stream, trio.SSLStream)
    assert any(
        r.levelno == logging.WARNING
        and "carrier-x" in r.getMessage()
        and "tls_verify = false" in r.getMessage()
        for r in caplog.records
    )


# -- TLS to a plaintext server: an error, never the bind in clear ----------------------------------


@attrs.define
class Tap:
    """A TCP proxy in front of a plaintext SMSC that keeps every byte the client sent."""

    port: int = 0
    received: bytearray = attrs.field(factory=bytearray)
    connections: int = 0


@contextlib.asynccontextmanager
async def tap(target_port: int) -> AsyncIterator[Tap]:
    out = Tap()

    async def pipe(src: trio.abc.Stream, dst: trio.abc.Stream, keep: bool) -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            async for chunk in src:
                if keep:
                    out.received += chunk
                await dst.send_all(chunk)
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await dst.aclose()

    async def handle(client: trio.SocketStream) -> None:
        out.connections += 1
        server = await trio.open_tcp_stream(HOST, target_port)
        async with client, server, trio.open_nursery() as nursery:
            nursery.start_soon(pipe, client, server, True)
            nursery.start_soon(pipe, server, client, False)

    async with trio.open_nursery() as nursery:
        [listener] = await nursery.start(functools.partial(trio.serve_tcp, handle, 0, host=HOST))
        out.port = listener.socket.getsockname()[1]
        yield out
        nursery.cancel_scope.cancel()


def smpp_command_ids(data: bytes) -> list[int]:
    """The command_ids of the SMPP PDUs ``data`` would frame as (SMPP 3.4 §3.2 header)."""
    ids, at = [], 0
    while at + 16 <= len(data):
        length, command_id = struct.unpack_from(">II", data, at)
        ids.append(command_id)
        if length < 16:
            break
        at += length
    return ids


async def test_tls_to_a_plaintext_smsc_fails_and_never_sends_the_bind_in_clear(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="smppgw.gateway")
    with trio.fail_after(20):
        async with simulator() as sim, tap(sim.port) as wire:
            table = smsc(sim, binds=1, port=wire.port, tls=True, password="s3cret")
            async with serving(app_config([table], tmp_path / "db.sqlite3")) as api:
                pool = api.gateway.smscs["a"].pool
                assert await wait_until(lambda: pool.last_error is not None, 5)
                assert (await api.get("/readyz")).status_code == 503
                assert await wait_until(lambda: wire.connections >= 2, 5)  # retried like any failure
                assert not pool.up and pool.binds_made == 0
                assert isinstance(pool.last_error, TlsHandshakeFailed)
                assert str(pool.last_error).startswith(f"TLS handshake with {HOST}:{wire.port} failed")
    assert wire.received[:1] == b"\x16"  # a TLS handshake record (RFC 8446 §5.1), nothing else
    assert CommandId.BIND_TRANSCEIVER not in smpp_command_ids(bytes(wire.received))
    assert b"s3cret" not in wire.received and b"smppclient1" not in wire.received
    assert any(
        r.levelno == logging.WARNING and f"TLS handshake with {HOST}:{wire.port} failed" in r.getMessage()
        for r in caplog.records
    )


# -- smppgw serve (run_app) and smppgw send ------------------------------------------------------


async def test_run_app_with_tls_true_binds_over_tls(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``tls = true`` with no ``tls_ca``: the system CAs (OpenSSL reads SSL_CERT_FILE)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    with trio.fail_after(20):
        async with tls_sim(pki) as sim:
            async with serving(app_config([tls_smsc(sim)], tmp_path / "db.sqlite3")) as api:
                pool = api.gateway.smscs["a"].pool
                assert await wait_until(lambda: pool.up, 5), f"never bound: {pool.last_error}"
                assert isinstance(pool.senders[0].stream, trio.SSLStream)
                assert (await api.get("/readyz")).status_code == 200
                sent = await api.post("/v1/messages", {"from": "12345", "to": "+447700900001", "text": "hi"})
                assert sent.status_code == 202, sent.text
                await api.wait_status(sent.json()["id"], {"delivered"}, timeout=10)


async def test_smppgw_send_tls_with_tls_ca(pki: Pki) -> None:
    lines: list[dict[str, Any]] = []
    opts = dict(system_id="smppclient1", password="password", source="12345", destination="+447700900001")
    with trio.fail_after(20):
        async with tls_sim(pki) as sim:
            base = SendOptions(host=HOST, port=sim.port, text="hi", tls=True, timeout=5, **opts)
            assert await run_send(attrs.evolve(base, tls_ca=str(pki.ca)), lines.append) == 0
            assert [x["status"] for x in lines if x["type"] == "submit_sm_resp"] == ["ESME_ROK"]
            lines.clear()
            assert await run_send(base, lines.append) == 1  # system CAs: not trusted
            assert "certificate verify failed" in str(lines)


# -- config -----------------------------------------------------------------------------------------


def _smsc(**keys: Any) -> dict[str, Any]:
    return {"smsc": [{"name": "a", "host": HOST, "port": 3550, "system_id": "x", "password": "y", **keys}]}


def test_tls_keys_are_read(pki: Pki) -> None:
    keys = {"tls_ca": str(pki.ca), "tls_cert": str(pki.client_cert), "tls_key": str(pki.client_key)}
    [s] = config_from_dict(_smsc(tls=True, tls_server_name="smsc.test", **keys)).smscs
    assert s.tls_settings() == TlsSettings(
        ca=str(pki.ca), cert=str(pki.client_cert), key=str(pki.client_key), server_name="smsc.test"
    )
    [plain] = config_from_dict(_smsc()).smscs
    assert plain.tls_settings() is None
    assert config_from_dict(_smsc(tls=True)).smscs[0].tls_verify is True  # on unless written


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"tls": True, "tls_ca": "/nonexistent/ca.pem"}, "smsc[0].tls_ca: no such file: /nonexistent/ca.pem"),
        ({"tls": True, "tls_cert": "CLIENT"}, "smsc[0].tls_cert: cert and key go together"),
        ({"tls": True, "tls_key": "KEY"}, "smsc[0].tls_key: cert and key go together"),
        ({"tls_ca": "CA"}, "smsc[0].tls_ca: needs tls = true"),
        ({"tls": False, "tls_verify": False}, "smsc[0].tls_verify: needs tls = true"),
        ({"tls": True, "tls_verify": "no"}, "smsc[0].tls_verify"),
        ({"tls": True, "tls_ca": "NOT_PEM"}, "smsc[0].tls_ca: not a PEM CA bundle"),
        ({"tls": True, "tls_server_name": ""}, "smsc[0].tls_server_name"),
        ({"tls": True, "tls_cafile": "CA"}, "tls_cafile"),
    ],
)
def test_bad_tls_keys_are_config_errors_naming_the_key(
    pki: Pki, tmp_path: Path, keys: dict[str, Any], message: str
) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    paths = {
        "CA": str(pki.ca),
        "CLIENT": str(pki.client_cert),
        "KEY": str(pki.client_key),
        "NOT_PEM": str(junk),
    }
    keys = {k: paths.get(v, v) if isinstance(v, str) else v for k, v in keys.items()}
    with pytest.raises(ConfigError) as caught:
        config_from_dict(_smsc(**keys))
    assert message in str(caught.value)


def test_client_context_verifies_by_default_with_tls_1_2_minimum(pki: Pki) -> None:
    context = client_context(TlsSettings(ca=str(pki.ca)))
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    loose = client_context(TlsSettings(verify=False))
    assert loose.verify_mode == ssl.CERT_NONE and not loose.check_hostname
