"""The simulator serving SMPP over TLS: ``--tls-cert``/``--tls-key`` (and ``tls_cert``/
``tls_key``/``tls_client_ca`` in its TOML), so the project's own tools can test TLS."""

from __future__ import annotations

import os
import re
import selectors
import socket
import ssl
import struct
import subprocess
import sys
import time
from pathlib import Path

import attrs
import pytest
import trio
import trustme

from simulator import run_simulator
from simulator.cli import build_config
from simulator.config import ConfigError, config_from_dict
from smppgw.core.errors import ConnectionLost
from smppgw.core.pdu import SubmitSm, SubmitSmResp
from smppgw.net.esme import open_esme

HOST = "127.0.0.1"


@attrs.frozen
class Files:
    ca: Path
    cert: Path
    key: Path
    client_cert: Path
    client_key: Path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    d = tmp_path_factory.mktemp("simtls")
    ca = trustme.CA()
    server, client = ca.issue_cert("127.0.0.1"), ca.issue_cert("esme.test")
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    server.cert_chain_pems[0].write_to_path(str(d / "cert.pem"))
    server.private_key_pem.write_to_path(str(d / "key.pem"))
    client.cert_chain_pems[0].write_to_path(str(d / "client.pem"))
    client.private_key_pem.write_to_path(str(d / "client.key"))
    return Files(d / "ca.pem", d / "cert.pem", d / "key.pem", d / "client.pem", d / "client.key")


def client_context(files: Files, *, with_cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(files.ca))
    if with_cert:
        context.load_cert_chain(files.client_cert, files.client_key)
    return context


SUBMIT = SubmitSm(source_addr="12345", destination_addr="447700900001", short_message=b"hi")


async def test_flags_make_the_simulator_serve_tls_only(files: Files) -> None:
    config = build_config(port=0, tls_cert=str(files.cert), tls_key=str(files.key))
    assert (config.tls_cert, config.tls_key) == (str(files.cert), str(files.key))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_simulator, config)
            login = {"system_id": "smppclient1", "password": "password", "connect_timeout": 2.0}
            async with open_esme(HOST, sim.port, ssl_context=client_context(files), **login) as conn:
                assert isinstance(conn.stream, trio.SSLStream)
                assert isinstance(await conn.request(SUBMIT), SubmitSmResp)
            with pytest.raises(ConnectionLost):  # a plaintext bind gets no answer but a close
                async with open_esme(HOST, sim.port, bind_timeout=2.0, **login):
                    raise AssertionError("a TLS-only simulator accepted a plaintext bind")
            nursery.cancel_scope.cancel()


async def test_client_ca_requires_a_client_certificate(files: Files, tmp_path: Path) -> None:
    toml = tmp_path / "sim.toml"
    toml.write_text(f'tls_cert = "{files.cert}"\ntls_key = "{files.key}"\ntls_client_ca = "{files.ca}"\n')
    config = build_config(config_file=str(toml), port=0)
    assert config.tls_client_ca == str(files.ca)
    login = {"system_id": "smppclient1", "password": "password", "bind_timeout": 2.0}
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(run_simulator, config)
            async with open_esme(
                HOST, sim.port, ssl_context=client_context(files, with_cert=True), **login
            ) as c:
                assert isinstance(await c.request(SUBMIT), SubmitSmResp)
            with pytest.raises(ConnectionLost):
                async with open_esme(HOST, sim.port, ssl_context=client_context(files), **login):
                    raise AssertionError("bound without the client certificate the server requires")
            nursery.cancel_scope.cancel()


def test_tls_config_errors_name_the_key(files: Files) -> None:
    cases = [
        ({"tls_cert": str(files.cert)}, "tls_key: tls_cert and tls_key go together"),
        ({"tls_key": str(files.key)}, "tls_cert: tls_cert and tls_key go together"),
        (
            {"tls_cert": "/nonexistent.pem", "tls_key": str(files.key)},
            "tls_cert: no such file: /nonexistent.pem",
        ),
        ({"tls_cert": str(files.ca), "tls_key": str(files.ca)}, "tls_cert: certificate and key do not load"),
        ({"tls_client_ca": str(files.ca)}, "tls_client_ca: needs tls_cert and tls_key"),
    ]
    for data, message in cases:
        with pytest.raises(ConfigError) as caught:
            config_from_dict(data)
        assert str(caught.value).startswith(message), (data, caught.value)
    with pytest.raises(ConfigError, match=r"^--tls-cert: no such file"):
        build_config(tls_cert="/nonexistent.pem", tls_key=str(files.key))


# -- a real smppsim process ------------------------------------------------------------------------


def _first_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    assert proc.stdout is not None
    buf, deadline = b"", time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout.fileno(), selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                pytest.fail(f"no start line from smppsim within {timeout} s (got {buf!r})")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
    return buf.decode(errors="replace").split("\n", 1)[0]


def test_smppsim_tls_flags_serve_a_tls_bind(files: Files) -> None:
    exe = Path(sys.executable).with_name("smppsim")
    args = [str(exe), "--port", "0", "--tls-cert", str(files.cert), "--tls-key", str(files.key)]
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        try:
            line = _first_line(proc, timeout=30)
            m = re.match(r"smppsim listening on 127\.0\.0\.1:(\d+) \(TLS\) ", line)
            assert m, line
            # bind_transceiver (SMPP 3.4 §4.1.5): system_id, password, system_type, version, ton, npi, range
            body = b"smppclient1\0password\0\0" + bytes([0x34, 0, 0]) + b"\0"
            bind = struct.pack(">IIII", 16 + len(body), 0x00000009, 0, 1) + body
            with socket.create_connection((HOST, int(m.group(1))), timeout=10) as raw:
                with client_context(files).wrap_socket(raw, server_hostname=HOST) as tls:
                    tls.sendall(bind)
                    header = b""
                    while len(header) < 16:
                        chunk = tls.recv(16 - len(header))
                        assert chunk, "closed before the bind_transceiver_resp"
                        header += chunk
            _, command_id, status, sequence = struct.unpack(">IIII", header)
            assert (command_id, status, sequence) == (0x80000009, 0, 1)
        finally:
            proc.terminate()  # SIGTERM to this PID only
            assert proc.wait(timeout=15) == 0
