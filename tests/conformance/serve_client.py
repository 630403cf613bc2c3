"""``smppgw serve`` as the client under test of the ESME conformance suite.

The suite starts this script as its COMMAND (``{host}`` and ``{port}`` substituted). It
writes a gateway config with that SMSC (one transceiver bind, ``--window``), starts
``smppgw serve`` as a child process, posts ``--messages`` messages to its HTTP API (each
asking for a receipt), waits until every one has left the queue, stays ``--stay``
seconds, then stops the gateway with SIGTERM, the way an operator stops it; the
gateway unbinds by itself. A SIGTERM from the suite is passed on to the gateway.
Exit status: the gateway's.

    python tests/conformance/serve_client.py HOST PORT [--messages 24] [--window 10] [--bind tx+rx]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

KEY = "conformance-key-1"
WAITING = {"accepted", "queued", "submitting"}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--messages", type=int, default=24)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--bind", choices=("trx", "tx+rx"), default="trx")
    parser.add_argument("--stay", type=float, default=1.5)
    parser.add_argument("--deadline", type=float, default=20.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="serve-conformance-"))
    config = work / "gw.toml"
    config.write_text(
        f'[[smsc]]\nname = "esme-under-test"\nhost = "{args.host}"\nport = {args.port}\n'
        f'system_id = "esme"\npassword = "secret"\nbinds = 1\nwindow = {args.window}\nbind = "{args.bind}"\n\n'
        f'[store]\npath = "{work / "gw.sqlite3"}"\n\n[api]\nlisten = "127.0.0.1:0"\nkeys = ["{KEY}"]\n'
    )
    gateway = subprocess.Popen(
        [str(Path(sys.executable).parent / "smppgw"), "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        text=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: gateway.send_signal(signal.SIGTERM))
    try:
        url = _url(gateway)
        if url is not None:
            _drive(url, args)
    finally:
        if gateway.poll() is None:
            gateway.send_signal(signal.SIGTERM)
        try:
            code = gateway.wait(timeout=15)
        except subprocess.TimeoutExpired:
            gateway.kill()
            code = gateway.wait()
    return code


def _url(gateway: subprocess.Popen[str]) -> str | None:
    assert gateway.stdout is not None
    for line in gateway.stdout:
        if "serving http://" in line:
            return line.split("serving ")[1].split()[0]
    return None


def _drive(url: str, args: argparse.Namespace) -> None:
    deadline = time.monotonic() + args.deadline
    with httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=5) as http:
        while http.get("/readyz").status_code != 200:
            if time.monotonic() > deadline:
                return  # never bound: the suite reports it
            time.sleep(0.05)
        ids = [
            http.post("/v1/messages", json={"to": f"4477009{i:05d}", "from": "12345", "text": f"probe {i}"})
            .json()
            .get("id")
            for i in range(args.messages)
        ]
        pending = [i for i in ids if i]
        while pending and time.monotonic() < deadline:
            pending = [i for i in pending if http.get(f"/v1/messages/{i}").json()["status"] in WAITING]
            time.sleep(0.05)
    time.sleep(args.stay)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
