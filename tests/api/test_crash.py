"""SIGKILL in the two crash windows of DESIGN §3, with ``smppgw serve`` as a process.

The write-behind flush is widened to 30 s, so nothing reaches the disk by the flusher
during a test: what survives the kill is exactly what the group commits made durable.

- The receipt window: once the SMSC has the deliver_sm_resp of a receipt, the status
  change it acknowledged is on disk; a restarted gateway shows the message ``delivered``
  and sends nothing again.
- The submit window: a part whose submit_sm reached the SMSC (which never answers it) is
  ``submitting`` on disk; a restarted gateway sends it again and counts it in
  ``resent_unknown``.

The simulator runs in this process (its metrics say what reached it); the gateway is
killed by the PID this test started, never by name.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import trio

from simulator.smsc import Simulator
from tests.api.helpers import bound
from tests.gateway.helpers import simulator, smsc
from tests.simulator.helpers import metric

BIN = Path(sys.executable).parent
KEY = "crash-test-key"


def _config(tmp_path: Path, sim: Simulator) -> Path:
    # A long response timeout: an unanswered submit_sm stays in the window until the kill.
    table: dict[str, Any] = smsc(sim, binds=1, response_timeout=60.0)
    lines = [f"{k} = {v!r}".replace("'", '"') for k, v in table.items()]
    path = tmp_path / "gw.toml"
    path.write_text(
        "[[smsc]]\n" + "\n".join(lines).replace("True", "true") + "\n\n"
        f'[store]\npath = "{tmp_path / "db.sqlite3"}"\nflush_interval = 30\n\n'
        '[api]\nlisten = "127.0.0.1:0"\nkeys_env = "GW_KEYS"\n'
    )
    return path


class _Serve:
    """One ``smppgw serve`` process: started, ready, SIGKILLed (by its own PID)."""

    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        """``env``: more environment (secrets the config names) beside the API key."""
        self.config = config
        self.env = env or {}
        self.proc: trio.Process | None = None
        self.url = ""

    async def start(self, *, bound_first: bool = True) -> httpx.AsyncClient:
        """Start it and wait until a bind is up (unless not ``bound_first``: it serves);
        returns a client with the key."""
        env = {**os.environ, "GW_KEYS": KEY, **self.env}
        self.proc = proc = await trio.lowlevel.open_process(
            [str(BIN / "smppgw"), "serve", "--config", str(self.config)], stdout=subprocess.PIPE, env=env
        )
        assert proc.stdout is not None
        out = b""
        with trio.fail_after(30):
            while b"serving http://" not in out:
                chunk = await proc.stdout.receive_some()
                assert chunk, "smppgw serve ended before it was serving"
                out += chunk
        self.url = out.decode().split("serving ")[1].split()[0]
        http = httpx.AsyncClient(base_url=self.url, headers={"X-API-Key": KEY})
        async with http:
            # On Redis, a gateway started again after a SIGKILL binds once its dead
            # incarnation's bind leases expire (their TTL: the tests' bind_lease_ttl, 5 s;
            # 15 s by default) and its bind backoff ends.
            with trio.fail_after(45):
                if not bound_first:
                    return httpx.AsyncClient(base_url=self.url, headers={"X-API-Key": KEY})
                while not bound(await http.get("/readyz")):
                    await trio.sleep(0.05)
        return httpx.AsyncClient(base_url=self.url, headers={"X-API-Key": KEY})

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()  # SIGKILL: no shutdown flush, no unbind
            await self.proc.wait()
            if self.proc.stdout is not None:
                await self.proc.stdout.aclose()


def _count(sim: Simulator, direction: str, command: str) -> float:
    return metric(sim.metrics.render().decode(), "smppsim_pdus_total", direction=direction,
                  command=command, status="ESME_ROK") or 0.0  # fmt: skip


def _receipts_answered(sim: Simulator) -> float:
    """Receipts the ESME answered with deliver_sm_resp ESME_ROK (the simulator's count)."""
    text = sim.metrics.render().decode()
    return metric(text, "smppsim_deliveries_total", kind="receipt", result="delivered") or 0.0


async def _wait(predicate: Any, timeout: float = 15.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.02)


async def test_a_receipt_answered_before_a_sigkill_is_on_disk(tmp_path: Path) -> None:
    async with simulator() as sim:
        serve = _Serve(_config(tmp_path, sim))
        try:
            async with await serve.start() as http:
                r = await http.post(
                    "/v1/messages", json={"to": "447700900001", "from": "12345", "text": "hi"}
                )
                assert r.status_code == 202
                message_id = r.json()["id"]
                # The SMSC has our deliver_sm_resp for the receipt: the crash window opens.
                await _wait(lambda: _receipts_answered(sim) == 1)
            await serve.kill()
            async with await serve.start() as http:
                view = (await http.get(f"/v1/messages/{message_id}")).json()
                assert view["status"] == "delivered", view
                # Settled from the disk, not by sending it again after the restart.
                assert _count(sim, "in", "submit_sm") == 1
                assert view["parts"][0]["resent_unknown"] == 0
        finally:
            await serve.kill()


async def test_a_part_in_the_window_at_a_sigkill_is_resent_and_counted(tmp_path: Path) -> None:
    async with simulator() as sim:
        serve = _Serve(_config(tmp_path, sim))
        try:
            async with await serve.start() as http:
                sim.set_behaviour(None, {"black_hole": True})  # bound; now nothing is answered
                r = await http.post(
                    "/v1/messages", json={"to": "447700900001", "from": "12345", "text": "hi"}
                )
                assert r.status_code == 202
                message_id = r.json()["id"]
                # The submit_sm reached the SMSC, which never answers: the part is in the window.
                await _wait(lambda: _count(sim, "in", "submit_sm") == 1)
            await serve.kill()
            sim.set_behaviour(None, {"black_hole": False})
            async with await serve.start() as http:

                async def view() -> dict[str, Any]:
                    return dict((await http.get(f"/v1/messages/{message_id}")).json())

                with trio.fail_after(15):
                    while (got := await view())["status"] != "delivered":
                        await trio.sleep(0.05)
                assert _count(sim, "in", "submit_sm") == 2  # sent again after the restart...
                assert got["parts"][0]["resent_unknown"] == 1, got  # ... and counted
        finally:
            await serve.kill()
