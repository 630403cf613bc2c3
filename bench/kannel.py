"""Kannel (Debian's ``kannel``: bearerbox + smsbox) for ``bench_api.py``, with a generated config.

One SMPP SMSC (transceiver, receipts) to the given simulator; smsbox's sendsms on a free
loopback port with one sendsms-user. Kannel's defaults otherwise: accepted messages and
the DLR table live in memory (no ``store-location``, ``dlr-storage = internal``), so a
sendsms answer is not durable, unlike the gateway's 202 (an SQLite commit). Logs at
level 2 (warnings), no access log: neither side writes a line per message.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from procs import stop

__all__ = ["BEARERBOX", "SMSBOX", "USER", "PASSWORD", "kannel"]

BEARERBOX = shutil.which("bearerbox") or (
    "/usr/sbin/bearerbox" if Path("/usr/sbin/bearerbox").exists() else None
)
SMSBOX = shutil.which("smsbox") or ("/usr/sbin/smsbox" if Path("/usr/sbin/smsbox").exists() else None)
USER, PASSWORD = "bench", "benchpw"
ADMIN_PASSWORD = "benchadmin"

_CONF = """\
group = core
admin-port = {admin_port}
admin-interface = 127.0.0.1
admin-password = {admin_password}
status-password = {admin_password}
admin-allow-ip = "127.0.0.1"
smsbox-interface = 127.0.0.1
smsbox-port = {smsbox_port}
box-allow-ip = "127.0.0.1"
log-file = "{dir}/bearerbox.log"
log-level = 2
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = sim
host = 127.0.0.1
port = {sim_port}
transceiver-mode = true
smsc-username = "{system_id}"
smsc-password = "{sim_password}"
system-type = ""
max-pending-submits = {window}
enquire-link-interval = 30
reconnect-delay = 1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox_port}
sendsms-port = {sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{dir}/smsbox.log"
log-level = 2

group = sendsms-user
username = {user}
password = {password}
max-messages = 1
"""


def _smsc_online(admin_port: int) -> bool:
    try:
        r = httpx.get(f"http://127.0.0.1:{admin_port}/status.txt?password={ADMIN_PASSWORD}", timeout=2)
    except httpx.HTTPError:
        return False
    return r.status_code == 200 and "online" in r.text.split("SMSC connections:")[-1]


def _sendsms_up(port: int) -> bool:
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/cgi-bin/sendsms", timeout=2)
    except httpx.HTTPError:
        return False
    return r.status_code < 500 or r.status_code == 503


@contextlib.contextmanager
def kannel(
    directory: Path,
    ports: dict[str, int],
    sim_port: int,
    window: int,
    *,
    system_id: str = "smppclient1",
    timeout: float = 30.0,
) -> Iterator[dict[str, Any]]:
    """Run bearerbox and smsbox; yield {"sendsms_port", "pids"} once the SMSC is online;
    always stop both (smsbox first)."""
    if BEARERBOX is None or SMSBOX is None:
        raise FileNotFoundError("Kannel is not installed (apt-get install kannel)")
    conf = directory / "kannel.conf"
    conf.write_text(
        _CONF.format(dir=directory, sim_port=sim_port, system_id=system_id, sim_password="password",
                     window=window, user=USER, password=PASSWORD, admin_password=ADMIN_PASSWORD, **ports)
    )  # fmt: skip
    procs: list[subprocess.Popen[bytes]] = []
    try:
        names = []
        for exe in (BEARERBOX, SMSBOX):
            names.append(Path(exe).name)
            with (directory / f"{Path(exe).name}.out").open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        [exe, "-v", "2", str(conf)], stdin=subprocess.DEVNULL, stdout=out, stderr=out
                    )
                )
            time.sleep(0.5)  # smsbox connects to bearerbox's smsbox-port
        deadline = time.monotonic() + timeout
        while not (_smsc_online(ports["admin_port"]) and _sendsms_up(ports["sendsms_port"])):
            for name, p in zip(names, procs, strict=True):
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited early (rc={p.returncode}); see {directory}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"Kannel not ready within {timeout:.0f}s; see {directory}")
            time.sleep(0.2)
        yield {"sendsms_port": ports["sendsms_port"], "pids": [p.pid for p in procs]}
    finally:
        for p in reversed(procs):
            stop(p, grace=10)
