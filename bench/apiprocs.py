"""The processes and load of ``bench_api.py``: the simulator, the webhook receiver and
``smppgw serve`` as child processes (each stopped by its PID when its ``with`` ends), the
gateway's config (``[webhooks]`` keys kept only if the loader knows them), Prometheus
samples, and batch POSTs from client threads honouring 429.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from procs import first_line, stop

HERE = Path(__file__).resolve().parent

KANNEL_ACCOUNT = "kannel"  # the simulator's second account, Kannel's bind
KEY_ENV, SECRET_ENV = "BENCH_API_KEYS", "BENCH_WEBHOOK_SECRET"
TEXT = "bench message"
RECEIVER_PIDS: dict[str, int] = {}  # the receiver's base URL -> its PID (its CPU is measured)
FINAL = ("delivered", "undeliverable", "expired", "rejected", "failed", "blocked", "canceled", "unknown")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def metric_sum(url: str, name: str, labels: str = "") -> float | None:
    """Sum of a Prometheus metric's samples whose labels contain ``labels``; None if absent."""
    try:
        text = httpx.get(url, timeout=5).text
    except httpx.HTTPError:
        return None
    total, seen = 0.0, False
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " ") and labels in line:
            total += float(line.rsplit(" ", 1)[1])
            seen = True
    return total if seen else None


# -- processes --------------------------------------------------------------------------------------


@contextlib.contextmanager
def simulator(directory: Path, window: int) -> Iterator[dict[str, Any]]:
    # Two accounts: the simulator sends a receipt to any bind of the message's account, and
    # both servers are bound at once in sections 1 and 2.
    cmd = [sys.executable, "-m", "simulator.cli", "--port", "0", "--seed", "1", "--window", str(window),
           "--http-port", "0", "--profile", "fast", "--account", "smppclient1:password", "--account", f"{KANNEL_ACCOUNT}:password"]  # fmt: skip
    with (directory / "smppsim.log").open("wb") as err:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, cwd=HERE.parent
        )
    try:
        line = first_line(proc, 30, "the simulator")
        m = re.search(rb"listening on [^\s]*:(\d+).*http://[^\s]*:(\d+)", line)
        if m is None:
            raise RuntimeError(f"unexpected first line from the simulator: {line[:200]!r}")
        yield {
            "port": int(m.group(1)),
            "metrics": f"http://127.0.0.1:{int(m.group(2))}/metrics",
            "pid": proc.pid,
        }
    finally:
        stop(proc)


@contextlib.contextmanager
def receiver(directory: Path) -> Iterator[str]:
    """The webhook receiver; yields its base URL."""
    cmd = [sys.executable, str(HERE / "hookreceiver.py"), "--secret-env", SECRET_ENV]
    with (directory / "receiver.log").open("wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
    try:
        port = int(first_line(proc, 30, "the receiver").split()[1])
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(f"{url}/stats", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        RECEIVER_PIDS[url] = proc.pid
        yield url
    finally:
        stop(proc)


def receiver_stats(url: str) -> dict[str, Any]:
    return dict(httpx.get(f"{url}/stats", timeout=10).json())


def _toml(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, bool) else str(value).lower()


def gateway_config(
    directory: Path,
    sim_port: int,
    window: int,
    webhooks: dict[str, Any],
    endpoint: dict[str, Any] | None = None,
) -> tuple[Path, list[str]]:
    """Write the gateway's config; keep only the ``[webhooks]`` keys the loader accepts
    (and ``endpoint``, a ``[[webhooks.endpoint]]`` table, whole). Returns (path, the
    webhook keys dropped)."""
    from smppgw.app import load_app_config
    from smppgw.support.config import ConfigError

    path, hooks = directory / "gateway.toml", dict(webhooks)
    dropped: list[str] = []
    while True:
        lines = [
            "[[smsc]]", 'name = "sim"', 'host = "127.0.0.1"', f"port = {sim_port}", 'system_id = "smppclient1"',
            'password = "password"', "binds = 1", f"window = {window}",
            # Room for every receipt the simulator may have unanswered (its deliver_sm window is
            # --window too): beyond receive_window (default 1000) the gateway answers
            # ESME_RX_T_APPN and the simulator redelivers seconds later, a stall of the run.
            f"receive_window = {max(1000, window)}",
            "[store]", f"path = {_toml(str(directory / 'smppgw.sqlite3'))}",
            "[api]", 'listen = "127.0.0.1:0"', f'keys_env = "{KEY_ENV}"', "max_queued = 10000000",
        ]  # fmt: skip
        if hooks:
            lines += ["[webhooks]", *(f"{k} = {_toml(v)}" for k, v in hooks.items())]
        if endpoint:
            lines += ["[[webhooks.endpoint]]", *(f"{k} = {_toml(v)}" for k, v in endpoint.items())]
        path.write_text("\n".join(lines) + "\n")
        try:
            load_app_config(path)
            return path, dropped
        except ConfigError as exc:
            bad = next((k for k in hooks if k in str(exc)), None)
            if bad is None:
                raise
            dropped.append(bad)
            del hooks[bad]


@contextlib.contextmanager
def gateway(directory: Path, config: Path) -> Iterator[dict[str, Any]]:
    """``smppgw serve --config``; yields {"url", "pid"} once a bind is up (/readyz)."""
    cmd = [sys.executable, "-m", "smppgw.cli", "serve", "--config", str(config)]
    with (directory / "smppgw.log").open("ab") as err:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, cwd=directory
        )
    try:
        deadline, url = time.monotonic() + 60, None
        while url is None:
            line = first_line(proc, max(1.0, deadline - time.monotonic()), "smppgw serve")
            m = re.search(rb"serving (http://\S+)", line)
            if m is None:  # the first_line buffer keeps only one line: read on
                raise RuntimeError(f"unexpected first line from smppgw serve: {line[:200]!r}")
            url = m.group(1).decode()
        while not any(httpx.get(f"{url}/readyz", timeout=5).json()["smscs"].values()):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise TimeoutError("smppgw serve not ready (no bind up)")
            time.sleep(0.1)
        yield {"url": url, "pid": proc.pid}
    finally:
        stop(proc, grace=15)


# -- batches ------------------------------------------------------------------------------------


def batch_bodies(count: int, size: int, tag: int, callback: str | None) -> list[bytes]:
    bodies = []
    for b in range(-(-count // size)):
        n = min(size, count - b * size)
        items = []
        for i in range(n):
            item: dict[str, Any] = {"to": f"+44{tag}{b:05d}{i:04d}", "from": "12345", "text": TEXT}
            if callback:
                item["callback_url"] = callback
            items.append(item)
        bodies.append(json.dumps({"messages": items}).encode())
    return bodies


def post_batches(url: str, key: str, bodies: list[bytes], clients: int, limit: float) -> dict[str, Any]:
    """POST every body from ``clients`` threads (429: wait Retry-After, resend); bounded by ``limit`` s."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    todo = list(reversed(bodies))
    lock = threading.Lock()
    out: dict[str, Any] = {
        "accepted": 0,
        "rejected": 0,
        "requests": 0,
        "http_429": 0,
        "errors": 0,
        "first": None,
        "last": None,
    }
    deadline = time.monotonic() + limit

    def client() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        try:
            while time.monotonic() < deadline:
                with lock:
                    if not todo:
                        return
                    body = todo.pop()
                    out["first"] = out["first"] or time.monotonic()
                while time.monotonic() < deadline:
                    conn.request("POST", "/v1/messages/batch", body, headers)
                    response = conn.getresponse()
                    answer = response.read()
                    with lock:
                        out["requests"] += 1
                        if response.status == 429:
                            out["http_429"] += 1
                        elif response.status == 202:
                            result = json.loads(answer)
                            out["accepted"] += result["accepted"]
                            out["rejected"] += result["rejected"]
                            out["last"] = time.monotonic()
                        else:
                            out["errors"] += 1
                    if response.status != 429:
                        break
                    time.sleep(float(response.headers.get("Retry-After", "1")))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(limit + 70)
    span = (out["last"] or 0) - (out["first"] or 0)
    out["seconds"] = round(span, 2)
    out["msg_per_s"] = round(out["accepted"] / span, 1) if span > 0 else 0.0
    return out
