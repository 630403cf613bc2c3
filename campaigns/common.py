"""What the campaigns share: ``smppsim`` and ``smppgw serve`` as processes, and the poster
that pushes messages through the batch API (``campaigns.reconcile`` sets what the gateway
recorded against what the SMSC received).

Every process is started here and stopped by its own PID (SIGKILL for a crash, SIGTERM
to finish); everything listens on 127.0.0.1 on ports the kernel picks (printed in the
banners). Messages are told apart at the SMSC by their destination: message ``i`` of a
campaign goes to ``+4477009`` followed by ``i`` in five digits, so one run holds at most
100,000 messages; a part of a two-part message by its UDH sequence number.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

__all__ = ["FINAL", "KEY", "PREFIX", "Gateway", "Poster", "Simulator", "destination", "rss_mb", "workdir"]

FINAL = ("delivered", "undeliverable", "expired", "rejected", "failed", "blocked", "canceled", "unknown")
PREFIX = "4477009"
KEY = "campaign-key-0123456789"


def workdir(prefix: str) -> contextlib.AbstractContextManager[str]:
    """A temporary directory for a run; kept (and named on stderr) with ``CAMPAIGN_KEEP=1``."""
    if os.environ.get("CAMPAIGN_KEEP"):
        path = tempfile.mkdtemp(prefix=prefix)
        print(f"campaign: keeping {path}", file=sys.stderr)
        return contextlib.nullcontext(path)
    return tempfile.TemporaryDirectory(prefix=prefix)


def destination(i: int) -> str:
    return f"{PREFIX}{i:05d}"


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _wait_line(path: Path, proc: subprocess.Popen[bytes], pattern: str, timeout: float) -> re.Match[str]:
    """The first match of ``pattern`` in the file ``proc`` writes its stdout to."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(pattern, path.read_text(errors="replace"))
        if m:
            return m
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited early (rc={proc.returncode}); see {path}")
        time.sleep(0.02)
    raise TimeoutError(f"{proc.args!r} printed no {pattern!r} within {timeout} s")


def _stop(proc: subprocess.Popen[bytes] | None, sig: int) -> None:
    """``sig`` to one process we started (by its PID); SIGKILL if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


class Simulator:
    """``smppsim`` in its own process with its control API; restartable on its SMPP port
    (a restarted SMSC counts its message ids from 1 again)."""

    def __init__(self, directory: Path, behaviour: dict[str, Any], seed: int) -> None:
        self.directory, self.seed = directory, seed
        self.config = directory / "smppsim.toml"
        lines = [f"seed = {seed}", "", "[session]", "window = 512", "", "[behaviour]"]
        lines += [f"{k} = {json.dumps(v)}" for k, v in behaviour.items()]
        self.config.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.control = ""
        self.starts = 0
        # The control API takes changes only with its token (smppsim --http-token).
        self.token = secrets.token_urlsafe(24)
        self.auth = {"Authorization": f"Bearer {self.token}"}

    def start(self) -> None:
        self.starts += 1
        out = self.directory / f"smppsim-{self.starts}.out"
        with out.open("wb") as stdout:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "simulator.cli", "--config", str(self.config), "--port",
                 str(self.port), "--http-port", "0", "--http-token", self.token],
                stdout=stdout, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        m = _wait_line(out, self.proc, r"listening on 127\.0\.0\.1:(\d+).*HTTP on (http://\S+)", 30)
        self.port, self.control = int(m.group(1)), m.group(2).rstrip(",")

    def kill(self) -> None:
        _stop(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        _stop(self.proc, signal.SIGTERM)

    def patch(self, behaviour: dict[str, Any]) -> None:
        r = httpx.patch(f"{self.control}/behaviour", json=behaviour, headers=self.auth, timeout=10)
        r.raise_for_status()

    def received(self) -> list[dict[str, Any]]:
        """What this SMSC process accepted (its message log), newest first."""
        r = httpx.get(f"{self.control}/messages", params={"limit": 100_000}, timeout=60)
        r.raise_for_status()
        return list(r.json())

    def stats(self) -> dict[str, Any]:
        """Its totals (``messages``: in its log)."""
        return dict(httpx.get(f"{self.control}/stats", timeout=10).json())

    def refusals(self) -> int:
        """Answers it sent with a status other than ESME_ROK (nacks, errors, throttling)."""
        text = httpx.get(f"{self.control}/metrics", timeout=10).text
        total = 0.0
        for m in re.finditer(r"smppsim_pdus_total\{([^}]*)\} (\S+)", text):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            if labels.get("direction") == "out" and labels.get("status") != "ESME_ROK":
                total += float(m.group(2))
        return int(total)

    def receipts(self) -> dict[str, float]:
        """Its receipt deliveries by result (delivered, retried, expired, rejected)."""
        text = httpx.get(f"{self.control}/metrics", timeout=10).text
        out: dict[str, float] = {}
        for m in re.finditer(r'smppsim_deliveries_total\{kind="receipt",result="(\w+)"\} (\S+)', text):
            out[m.group(1)] = float(m.group(2))
        return out

    def deliveries(self) -> str:
        """Where its deliveries stand: per account, and in flight per bind (a diagnosis)."""
        accounts = httpx.get(f"{self.control}/accounts", timeout=10).json()
        binds = httpx.get(f"{self.control}/binds", timeout=10).json()
        queue = [{k: v for k, v in a.items() if k.startswith("deliveries")} for a in accounts]
        return f"{queue}; in flight per bind {[(b['id'], b['deliver_sm_in_flight']) for b in binds]}"

    def pending_receipts(self) -> int:
        """Receipts still queued or in flight to the ESME."""
        accounts = httpx.get(f"{self.control}/accounts", timeout=10).json()
        return sum(int(a["deliveries_queued"]) + int(a["deliveries_in_flight"]) for a in accounts)


class Gateway:
    """``smppgw serve --config`` (SQLite in ``directory``); SIGKILLed and restarted by PID."""

    def __init__(self, directory: Path, sim: Simulator, smsc: dict[str, Any], extra: str = "") -> None:
        self.directory = directory
        self.db = directory / "smppgw.sqlite3"
        self.config = directory / "smppgw.toml"
        self.binds = int(smsc.get("binds", 1))
        table = {"name": "sim", "host": "127.0.0.1", "port": sim.port, "system_id": "smppclient1",
                 "password": "password", **smsc}  # fmt: skip
        self.config.write_text(
            "[[smsc]]\n"
            + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items())
            + f'\n[store]\npath = "{self.db}"\n\n'
            + '[api]\nlisten = "127.0.0.1:0"\nkeys_env = "CAMPAIGN_KEYS"\nmax_queued = 1000000\n'
            + extra
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.starts = 0

    def start(self, timeout: float = 60.0) -> float:
        """Start it and wait until a bind is up (``/readyz``); returns the seconds that took."""
        started = time.monotonic()
        self.starts += 1
        out = self.directory / f"smppgw-{self.starts}.out"
        with out.open("wb") as stdout:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "smppgw.cli", "serve", "--config", str(self.config)],
                stdout=stdout, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "CAMPAIGN_KEYS": KEY},
            )  # fmt: skip
        self.url = _wait_line(out, self.proc, r"serving (http://\S+)", timeout).group(1)
        deadline = started + timeout
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while client.get("/readyz").status_code != 200:
                if time.monotonic() > deadline:
                    raise TimeoutError("smppgw serve did not bind in time")
                time.sleep(0.02)
        return time.monotonic() - started

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL: no flush, no unbind (a crash)."""
        _stop(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        _stop(self.proc, signal.SIGTERM)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": KEY}, timeout=30)

    def final_count(self, tag: str | None = None) -> int:
        """Messages final on disk (the store's file, read-only: never blocks the gateway);
        with ``tag``, only those the ``Poster`` of that tag sent (by idempotency key)."""
        if not self.db.exists():
            return 0
        db = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        try:
            marks = ", ".join("?" * len(FINAL))
            where = f"status IN ({marks})" + ("" if tag is None else " AND idempotency_key LIKE ?")
            args = FINAL if tag is None else (*FINAL, f"{tag}-%")
            return int(db.execute(f"SELECT count(*) FROM messages WHERE {where}", args).fetchone()[0])
        except sqlite3.Error:
            return 0
        finally:
            db.close()

    def bound(self) -> int:
        """Binds up now, from the gateway's /metrics (0 when it does not answer)."""
        try:
            text = httpx.get(f"{self.url}/metrics", timeout=2).text
        except httpx.HTTPError:
            return 0
        m = re.search(r'smppgw_binds\{smsc="sim",state="bound"\} (\S+)', text)
        return int(float(m.group(1))) if m else 0

    def messages(self) -> dict[str, dict[str, Any]]:
        """Every message the gateway holds, by id (the listing API, page by page)."""
        out: dict[str, dict[str, Any]] = {}
        cursor: str | None = None
        with self.client() as client:
            while True:
                params: dict[str, Any] = {"limit": 1000}
                if cursor:
                    params["cursor"] = cursor
                r = client.get("/v1/messages", params=params)
                r.raise_for_status()
                body = r.json()
                for view in body["messages"]:
                    out[view["id"]] = view
                cursor = body.get("next_cursor")
                if not cursor:
                    return out


def text_for(i: int, tag: str) -> str:
    """Message ``i``'s text: every 10th is two parts (GSM 7-bit, 161+ characters)."""
    text = f"{tag} {i} "
    return text * (200 // len(text) + 1) if i % 10 == 3 else text


class Poster(threading.Thread):
    """POSTs messages ``first .. first + count - 1`` in batches, each with an idempotency key,
    to whichever gateway process is up: a batch that got no answer (the gateway was killed
    under it) is posted again, so every message is acknowledged once it is on disk, once."""

    def __init__(self, gateway: Gateway, first: int, count: int, tag: str, until: float, batch: int = 100):
        super().__init__(daemon=True)
        self.gateway, self.first, self.count, self.tag = gateway, first, count, tag
        self.until, self.batch = until, batch
        self.acked: dict[int, str] = {}  # message number -> gateway id (a 202 or a repeat's 200)
        self.refused: list[str] = []
        self.reposts = 0
        self.gate_at: int | None = None  # stop before this message number until ``gate`` is set
        self.gate = threading.Event()
        self.waiting = threading.Event()  # set once stopped at ``gate_at``

    def run(self) -> None:
        for start in range(self.first, self.first + self.count, self.batch):
            n = min(self.batch, self.first + self.count - start)
            body = {
                "messages": [
                    {"to": "+" + destination(i), "from": "12345", "text": text_for(i, self.tag),
                     "idempotency_key": f"{self.tag}-{i}"}
                    for i in range(start, start + n)
                ]
            }  # fmt: skip
            if self.gate_at is not None and start >= self.gate_at:
                self.waiting.set()
                self.gate.wait(max(0.0, self.until - time.monotonic()))
            while time.monotonic() < self.until:
                try:
                    r = httpx.post(
                        f"{self.gateway.url}/v1/messages/batch",
                        json=body,
                        headers={"X-API-Key": KEY},
                        timeout=30,
                    )
                except httpx.HTTPError:
                    self.reposts += 1
                    time.sleep(0.05)
                    continue
                if r.status_code in (429, 503):
                    time.sleep(min(float(r.headers.get("retry-after", "0.2")), 1.0))
                    continue
                if r.status_code != 202:
                    self.refused.append(f"{r.status_code} {r.text[:200]}")
                    return
                for i, result in zip(range(start, start + n), r.json()["results"], strict=True):
                    if "id" in result:
                        self.acked[i] = result["id"]
                    else:
                        self.refused.append(json.dumps(result)[:200])
                break
            else:
                return
