"""The HTTP intake against Kannel's sendsms, batch intake and end to end with webhooks (issue 14).

    .venv/bin/python bench/bench_api.py [--seconds 10] [--rounds 3] [--connections 16] [--rate 1000]
                                        [--batch-count 100000] [--e2e-count 50000]
                                        [--only ours kannel batch e2e] [--json]

One run, one machine, one SMSC: the bundled simulator (``smppsim``, the ``fast`` profile:
every message delivered at once, a receipt each) as its own process on a free loopback
port, deliver_sm window ``--window``; both gateways bind to it as one transceiver with
``--window`` submits in flight, the gateway with the default account
(smppclient1/password), Kannel with a second one (kannel/password: the simulator sends
a receipt to any bind of its message's account, and both are bound at once). Every process
is started here on free loopback ports, stopped by its PID at the end (also on failure),
and every load is bounded in count and time.

1. **Single-message intake.** wrk, ``--connections`` connections (2 threads) for
   ``--seconds``, every request with a distinct destination:
   ``smppgw serve`` (SQLite store in a temporary directory on disk) gets
   ``POST /v1/messages`` ``{"to", "from", "text", "dlr": true}`` with an API key;
   Kannel (``bearerbox`` + ``smsbox``, generated config: ``kannel.py``) gets
   ``GET /cgi-bin/sendsms?...&dlr-mask=31&dlr-url=...`` (the dlr-url is the local
   receiver, so smsbox's receipt calls succeed). Figures: accepted req/s (only when
   every answer was 2xx), p50/p99, non-2xx, CPU per accepted message of the gateway
   process (bearerbox + smsbox for Kannel) and of the simulator, over the wrk run
   (intake) and until every accepted message was final (the gateway's store; Kannel's
   dlr-url called with a final type), and peak RSS (VmHWM) after that. Both servers
   are up at once and take turns, ``--rounds`` rounds (the machine is shared): each
   server's figures are its median run, a ratio is the median of the rounds' ratios. Kannel's
   default keeps accepted messages in memory; the gateway's 202 is an SQLite commit.
2. **Latency at a fixed rate.** wrk paced to offer ``--rate`` req/s to each (send times
   on a schedule per wrk thread, ``--paced-connections`` connections: ``wrkload.py``);
   p50/p99 and the achieved rate, on the same processes as 1 (after they drained).
   wrk times a request from when it is sent, so a stall that holds every connection
   busy delays the later send times rather than counting in their latency.
3. **Batch intake.** A fresh gateway; ``--batch-clients`` threads POST
   ``/v1/messages/batch`` with 1000 messages each (prebuilt bodies, distinct
   destinations), ``--batch-count`` messages or ``--batch-time`` seconds, whichever
   first; a 429 waits its Retry-After and resends. ``[api] max_queued`` is raised above
   the count, so 429 should not happen. msg/s accepted from the first POST to the last
   answer (sending to the SMSC goes on at the same time, on the same cores).
4. **End to end.** A fresh gateway; ``--e2e-count`` messages through the batch API, each
   with ``callback_url`` to a receiver in its own process (``hookreceiver.py``, uvicorn
   raw ASGI), API -> SMSC -> receipt -> final status on disk -> webhook. The receiver
   counts final statuses per message id (old body or Standard Webhooks event) and
   verifies ``webhook-signature`` when present. ``[webhooks] allow_private_targets``
   and ``secret_env`` are set only if the config loader knows them. msg/s from the
   first POST to the last final webhook, and final webhooks received against messages
   accepted (a shortfall is reported, not hidden), beside the time to final on disk.
   The CPU per message of the gateway, the simulator and the receiver give two ceilings:
   what the machine could reach with every core busy on those three processes, and what
   the gateway reaches on the one core its event loop runs on.

The ratios are ours/Kannel within the run. The machine is shared: compare within a run.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import kannel as kannel_mod  # noqa: E402
from apiprocs import (  # noqa: E402
    FINAL,
    KANNEL_ACCOUNT,
    KEY_ENV,
    RECEIVER_PIDS,
    SECRET_ENV,
    TEXT,
    batch_bodies,
    free_port,
    gateway,
    gateway_config,
    metric_sum,
    post_batches,
    receiver,
    receiver_stats,
    simulator,
)  # fmt: skip
from wrkload import WRK, proc_tree, tree_cpu, tree_hwm_mb, wrk_run  # noqa: E402

# -- 1 and 2: wrk ------------------------------------------------------------------------------------


def wait_until(done: Callable[[], bool], limit: float, step: float = 0.25) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(step)
    return done()


def measured_wrk(
    target: dict[str, Any], sim: dict[str, Any], drain_limit: float, **wrk: Any
) -> dict[str, Any]:
    """One wrk run plus CPU of the server (its process tree) and the simulator, over the run
    and until ``target["finals"]()`` has grown by the messages accepted (bounded)."""
    pids = [p for pid in target["pids"] for p in proc_tree(pid)]
    finals0 = target["finals"]()
    cpu0, sim0 = tree_cpu(pids), tree_cpu([sim["pid"]])
    r = wrk_run(target["url"], **wrk)
    cpu1, sim1 = tree_cpu(pids), tree_cpu([sim["pid"]])
    ok = max(r["ok"], 1)
    t0 = time.monotonic()
    r["drained"] = wait_until(lambda: target["finals"]() - finals0 >= r["ok"], drain_limit)
    r["drain_s"] = round(time.monotonic() - t0, 1)
    r["finals"] = int(target["finals"]() - finals0)
    cpu2, sim2 = tree_cpu(pids), tree_cpu([sim["pid"]])
    r["cpu_ms_intake"] = round(1e3 * (cpu1 - cpu0) / ok, 3)
    r["sim_cpu_ms_intake"] = round(1e3 * (sim1 - sim0) / ok, 3)
    r["cpu_ms_e2e"] = round(1e3 * (cpu2 - cpu0) / ok, 3)
    r["sim_cpu_ms_e2e"] = round(1e3 * (sim2 - sim0) / ok, 3)
    r["peak_rss_mb"] = tree_hwm_mb(pids)
    r["non_2xx"] = r["status_errors"]
    r["counts"] = r["status_errors"] == 0 and r["socket_errors"] == 0
    return r


@contextlib.contextmanager
def ours_target(
    directory: Path, sim: dict[str, Any], key: str, args: argparse.Namespace
) -> Iterator[dict[str, Any]]:
    config, _ = gateway_config(directory, sim["port"], args.window, {})
    with gateway(directory, config) as gw:
        yield {
            "url": gw["url"], "pids": [gw["pid"]], "method": "POST", "path": "/v1/messages",
            "body": json.dumps({"to": "+{to}", "from": "12345", "text": TEXT, "dlr": True}),
            "headers": {"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
            "finals": lambda: metric_sum(f"{gw['url']}/metrics", "smppgw_messages_total") or 0.0,
        }  # fmt: skip


@contextlib.contextmanager
def kannel_target(
    directory: Path, sim: dict[str, Any], hooks: str, args: argparse.Namespace
) -> Iterator[dict[str, Any]]:
    ports = {"admin_port": free_port(), "smsbox_port": free_port(), "sendsms_port": free_port()}
    dlr_url = quote(f"{hooks}/kannel?type=%d", safe="")
    path = (f"/cgi-bin/sendsms?username={kannel_mod.USER}&password={kannel_mod.PASSWORD}&from=12345&to={{to}}"
            f"&text={quote(TEXT)}&dlr-mask=31&dlr-url={dlr_url}")  # fmt: skip
    with kannel_mod.kannel(directory, ports, sim["port"], args.window, system_id=KANNEL_ACCOUNT) as k:
        yield {
            "url": f"http://127.0.0.1:{k['sendsms_port']}", "pids": k["pids"], "method": "GET", "path": path,
            "body": None, "headers": {}, "finals": lambda: float(receiver_stats(hooks)["kannel_final"]),
        }  # fmt: skip


def _median(values: list[float]) -> float | None:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def head_to_head(
    targets: dict[str, dict[str, Any]], sim: dict[str, Any], args: argparse.Namespace
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Sections 1 and 2, both servers up at once, taking turns: ``--rounds`` rounds of
    section 1 (the machine is shared: a ratio is taken within a round, then the median),
    then section 2 once each. Returns (results per server, ratios ours/kannel)."""

    def common(target: dict[str, Any]) -> dict[str, Any]:
        return {"path": target["path"], "method": target["method"], "body": target["body"],
                "headers": target["headers"], "connections": args.connections, "seconds": args.seconds}  # fmt: skip

    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
    for _ in range(args.rounds):
        for name, target in targets.items():
            rounds[name].append(measured_wrk(target, sim, 60, **common(target)))
    results: dict[str, Any] = {}
    for name, target in targets.items():
        runs = rounds[name]
        mid = sorted(runs, key=lambda r: r["ok_rps"])[len(runs) // 2]  # the median run, all its figures
        # wrk threads hand out send times --rate apart (wrkload's ``rate``).
        paced = measured_wrk(target, sim, 30, **{**common(target), "connections": args.paced_connections},
                             rate=args.rate)  # fmt: skip
        paced["paced_connections"] = args.paced_connections
        results[name] = {"single": mid, "rounds": runs, "paced": paced,
                         "peak_rss_mb": tree_hwm_mb([p for pid in target["pids"] for p in proc_tree(pid)])}  # fmt: skip
        mid["peak_rss_mb"] = results[name]["peak_rss_mb"]
    ratios: dict[str, Any] = {}
    if set(targets) == {"ours", "kannel"}:
        pairs = list(zip(rounds["ours"], rounds["kannel"], strict=True))
        per_round = {
            "req_per_s": [
                _ratio(o["ok_rps"], k["ok_rps"]) if o["counts"] and k["counts"] else None for o, k in pairs
            ],
            "cpu_per_msg_intake": [_ratio(o["cpu_ms_intake"], k["cpu_ms_intake"]) for o, k in pairs],
            "cpu_per_msg_e2e": [_ratio(o["cpu_ms_e2e"], k["cpu_ms_e2e"]) for o, k in pairs],
        }
        ratios = {key: _median(values) for key, values in per_round.items()}  # type: ignore[arg-type]
        ratios["per_round"] = per_round
        ratios["p99_at_rate"] = _ratio(
            results["ours"]["paced"]["p99_us"], results["kannel"]["paced"]["p99_us"]
        )
    return results, ratios


# -- 3 and 4: batches --------------------------------------------------------------------------------


def ours_batch(directory: Path, sim: dict[str, Any], key: str, args: argparse.Namespace) -> dict[str, Any]:
    bodies = batch_bodies(args.batch_count, 1000, 7, None)
    config, _ = gateway_config(directory, sim["port"], args.window, {})
    with gateway(directory, config) as gw:
        pids = proc_tree(gw["pid"])
        cpu0 = tree_cpu(pids)
        r = post_batches(gw["url"], key, bodies, args.batch_clients, args.batch_time)
        r["cpu_ms"] = round(1e3 * (tree_cpu(pids) - cpu0) / max(r["accepted"], 1), 3)
        r["peak_rss_mb"] = tree_hwm_mb(pids)
    r["clients"] = args.batch_clients
    return r


def ours_e2e(
    directory: Path, sim: dict[str, Any], key: str, hooks: str, args: argparse.Namespace
) -> dict[str, Any]:
    endpoint = None
    if args.e2e_hook == "endpoint":  # one configured endpoint (batched bodies when --e2e-batch > 1)
        endpoint = {"url": f"{hooks}/hook", "secret_env": SECRET_ENV, "name": "bench"}
        if args.e2e_batch > 1:
            endpoint.update(batch=args.e2e_batch, batch_wait=args.e2e_batch_wait)
    bodies = batch_bodies(args.e2e_count, 1000, 8, f"{hooks}/hook" if endpoint is None else None)
    options = {"allow_private_targets": True, "secret_env": SECRET_ENV}
    config, dropped = gateway_config(directory, sim["port"], args.window, options, endpoint)
    before = receiver_stats(hooks)
    hook_pid = RECEIVER_PIDS[hooks]
    with gateway(directory, config) as gw:
        metrics = f"{gw['url']}/metrics"
        pids = proc_tree(gw["pid"])
        cpu0, sim0, hook0 = tree_cpu(pids), tree_cpu([sim["pid"]]), tree_cpu([hook_pid])
        r = post_batches(gw["url"], key, bodies, args.batch_clients, args.e2e_time)
        n, start, disk_at = r["accepted"], r["first"] or time.monotonic(), None
        deadline, progress, seen = start + args.e2e_time, time.monotonic(), -1
        while time.monotonic() < deadline:
            stats = receiver_stats(hooks)
            got = stats["finals"] - before["finals"]
            if disk_at is None and (metric_sum(metrics, "smppgw_messages_total") or 0) >= n:
                disk_at = time.monotonic()
            if got >= n:
                break
            if got != seen:
                seen, progress = got, time.monotonic()
            elif disk_at is not None and time.monotonic() - progress > 10:
                break  # everything is final on disk and no webhook came for 10 s
            time.sleep(0.25)
        dropped_calls = metric_sum(metrics, "smppgw_webhooks_total", 'result="dropped"')
        cpu_gw, cpu_sim = tree_cpu(pids) - cpu0, tree_cpu([sim["pid"]]) - sim0
        cpu_hook = tree_cpu([hook_pid]) - hook0
        r["peak_rss_mb"] = tree_hwm_mb(pids)
        r["receiver_peak_rss_mb"] = tree_hwm_mb([hook_pid])
    stats = receiver_stats(hooks)
    with contextlib.closing(sqlite3.connect(directory / "smppgw.sqlite3")) as db:
        marks = ",".join("?" * len(FINAL))
        on_disk = db.execute(f"SELECT count(*) FROM messages WHERE status IN ({marks})", FINAL).fetchone()[0]
    finals = stats["finals"] - before["finals"]
    end = stats["last_final"] or start
    r.update(
        messages=n,
        final_webhooks=finals,
        final_on_disk=on_disk,
        webhook_events=stats["events"] - before["events"],
        repeats=stats["repeats"] - before["repeats"],
        signed=stats["signed"] - before["signed"],
        bad_signatures=stats["bad_signatures"] - before["bad_signatures"],
        dropped_calls=dropped_calls,
        webhook_keys_dropped=dropped,
        e2e_seconds=round(end - start, 2),
        msg_per_s=round(finals / (end - start), 1) if end > start else 0.0,
        disk_seconds=round(disk_at - start, 2) if disk_at else None,
        disk_msg_per_s=round(n / (disk_at - start), 1) if disk_at else None,
        complete=finals >= n,
        cpu_ms=round(1e3 * cpu_gw / max(n, 1), 3),
        sim_cpu_ms=round(1e3 * cpu_sim / max(n, 1), 3),
        receiver_cpu_ms=round(1e3 * cpu_hook / max(n, 1), 3),
        # What this machine could do at best with these costs: every core busy with the
        # three processes and nothing else (the load of the posting client left out).
        cpu_ceiling_msg_per_s=round((os.cpu_count() or 1) * n / max(cpu_gw + cpu_sim + cpu_hook, 1e-9)),
        gateway_ceiling_msg_per_s=round(n / max(cpu_gw, 1e-9)),
        hook=args.e2e_hook,
        batch=args.e2e_batch if args.e2e_hook == "endpoint" else 1,
        posts=stats["posts"] - before["posts"],
    )
    return r


def ours_e2e_rounds(
    directory: Path, sim: dict[str, Any], key: str, hooks: str, args: argparse.Namespace
) -> dict[str, Any]:
    """``--e2e-rounds`` runs of ``ours_e2e``, each with a new gateway and store: the median
    round's figures, and every round's rate (one run's rate moves by 15 % or more here)."""
    runs = []
    for i in range(args.e2e_rounds):
        (directory / f"round{i + 1}").mkdir()
        runs.append(ours_e2e(directory / f"round{i + 1}", sim, key, hooks, args))
    median = sorted(runs, key=lambda r: r["msg_per_s"])[len(runs) // 2]
    return {
        **median,
        "rounds": [r["msg_per_s"] for r in runs],
        "all_complete": all(r["complete"] for r in runs),
    }


# -- printing ----------------------------------------------------------------------------------------


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def print_tables(results: dict[str, Any], ratios: dict[str, Any], args: argparse.Namespace) -> None:
    wrk_rows = {name: results[name] for name in ("ours", "kannel") if name in results}
    if wrk_rows:
        print(f"1. single-message intake: wrk {args.connections} connections x {args.seconds:g}s, "
              f"distinct destinations, receipts requested (the median of {args.rounds} rounds)")  # fmt: skip
        print(f"{'':<8}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'non-2xx':>8}{'cpu ms/msg':>11}{'e2e':>7}"
              f"{'sim ms':>8}{'e2e':>7}{'final':>9}{'peak MB':>9}")  # fmt: skip
        for name, row in wrk_rows.items():
            s = row["single"]
            rps = f"{s['ok_rps']:,.0f}" if s["counts"] else "n/a"
            print(f"{name:<8}{rps:>9}{s['p50_us'] / 1e3:>8.2f}{s['p99_us'] / 1e3:>8.2f}{s['non_2xx']:>8}"
                  f"{s['cpu_ms_intake']:>11.3f}{s['cpu_ms_e2e']:>7.3f}{s['sim_cpu_ms_intake']:>8.3f}"
                  f"{s['sim_cpu_ms_e2e']:>7.3f}{s['finals']:>9,}{s['peak_rss_mb']:>9.0f}")  # fmt: skip
        print("   cpu: the server's process tree (bearerbox + smsbox for Kannel), during wrk and until every")
        print(
            "   accepted message was final (e2e); sim: the simulator. final: messages final within the drain"
        )
        print("   limit. Kannel's default keeps accepted messages in memory (lost on a crash); our 202 is")
        print("   durable (an SQLite commit). Kannel also calls its dlr-url per receipt (local receiver).")
        if ratios:
            print(f"   ours/Kannel (median of {args.rounds} rounds): req/s {ratios.get('req_per_s')}, CPU per message "
                  f"(intake) {ratios.get('cpu_per_msg_intake')}, (e2e) {ratios.get('cpu_per_msg_e2e')}; "
                  f"req/s per round {ratios['per_round']['req_per_s']}")  # fmt: skip
        print(f"\n2. fixed rate: {args.rate:g} req/s offered (wrk on a schedule, {args.seconds:g}s)")
        print(f"{'':<8}{'achieved':>9}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'non-2xx':>8}{'conns':>7}")
        for name, row in wrk_rows.items():
            p = row["paced"]
            print(f"{name:<8}{p['ok_rps']:>9,.0f}{p['p50_us'] / 1e3:>8.2f}{p['p99_us'] / 1e3:>8.2f}"
                  f"{p['max_us'] / 1e3:>8.1f}{p['non_2xx']:>8}{p['paced_connections']:>7}")  # fmt: skip
    if "batch" in results:
        b = results["batch"]
        print(f"\n3. batch intake: {b['clients']} clients x POST /v1/messages/batch (1000 each)")
        print(f"   {b['accepted']:,} accepted in {b['seconds']}s = {b['msg_per_s']:,.0f} msg/s; "
              f"rejected {b['rejected']}, 429s {b['http_429']}, errors {b['errors']}, "
              f"cpu {b['cpu_ms']:.3f} ms/msg, peak {b['peak_rss_mb']:.0f} MB")  # fmt: skip
    if "e2e" in results:
        e = results["e2e"]
        how = "callback_url" if e["hook"] == "callback" else f"a configured endpoint, batch {e['batch']}"
        print(f"\n4. end to end: batch API -> SMSC -> receipt -> final on disk -> webhook ({how})")
        print(f"   {e['messages']:,} messages; final webhooks received {e['final_webhooks']:,} "
              f"({'all' if e['complete'] else 'NOT all'}); final on disk {e['final_on_disk']:,}")  # fmt: skip
        print(f"   {e['msg_per_s']:,.0f} msg/s first POST -> last final webhook ({e['e2e_seconds']}s); "
              f"final on disk: {e['disk_msg_per_s'] or 'n/a'} msg/s ({e['disk_seconds']}s)")  # fmt: skip
        if len(e.get("rounds", [])) > 1:
            print(f"   the median of {len(e['rounds'])} rounds (msg/s per round: "
                  f"{', '.join(f'{r:,.0f}' for r in e['rounds'])}; every round complete: "
                  f"{'yes' if e['all_complete'] else 'NO'}); the figures below are that round's")  # fmt: skip
        print(f"   webhook calls {e['webhook_events']:,} (repeats {e['repeats']}), signed {e['signed']:,}, "
              f"bad signatures {e['bad_signatures']}, dropped by the gateway {e['dropped_calls'] if e['dropped_calls'] is None else int(e['dropped_calls'])}, "
              f"POSTs {e['posts']:,}")  # fmt: skip
        print(f"   cpu ms/msg: gateway {e['cpu_ms']:.3f}, simulator {e['sim_cpu_ms']:.3f}, "
              f"receiver {e['receiver_cpu_ms']:.3f}; peak RSS gateway {e['peak_rss_mb']:.0f} MB, "
              f"receiver {e['receiver_peak_rss_mb']:.0f} MB")  # fmt: skip
        print(f"   ceilings at these costs: {e['cpu_ceiling_msg_per_s']:,} msg/s with all {os.cpu_count()} cores "
              f"busy on the three processes; {e['gateway_ceiling_msg_per_s']:,} msg/s for the gateway "
              "on one core")  # fmt: skip
        if e["webhook_keys_dropped"]:
            print(f"   (config keys not known here, left out: {', '.join(e['webhook_keys_dropped'])})")


# -- main ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="HTTP intake vs Kannel, batch and end to end")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--seconds", type=float, default=10.0, help="wrk duration (sections 1 and 2)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of section 1 (median)")
    parser.add_argument("--rate", type=float, default=1000.0, help="req/s offered in section 2")
    parser.add_argument("--paced-connections", type=int, default=16, help="wrk connections in section 2")
    parser.add_argument(
        "--window", type=int, default=512, help="SMPP window, both gateways and the simulator"
    )
    parser.add_argument("--batch-count", type=int, default=100_000)
    parser.add_argument("--batch-time", type=float, default=40.0, help="seconds at most for section 3")
    parser.add_argument("--batch-clients", type=int, default=3)
    parser.add_argument("--e2e-count", type=int, default=50_000)
    parser.add_argument("--e2e-time", type=float, default=150.0, help="seconds at most for section 4")
    parser.add_argument("--e2e-rounds", type=int, default=3, help="runs of section 4 (the median is shown)")
    parser.add_argument("--e2e-hook", choices=("callback", "endpoint"), default="callback",
                        help="section 4: each message's callback_url, or one [[webhooks.endpoint]]")  # fmt: skip
    parser.add_argument("--e2e-batch", type=int, default=1, help="events per POST (--e2e-hook endpoint)")
    parser.add_argument("--e2e-batch-wait", type=float, default=0.05, help="batch_wait seconds")
    parser.add_argument("--only", nargs="+", choices=("ours", "kannel", "batch", "e2e"))
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 5:
        parser.error("--rounds in 1..5")
    if not (0 < args.seconds <= 30 and 1 <= args.connections <= 256 and 2 <= args.batch_clients <= 8):
        parser.error("--seconds in (0, 30], --connections in 1..256, --batch-clients in 2..8")
    if (
        args.batch_count > 1_000_000
        or args.e2e_count > 200_000
        or args.batch_time > 120
        or args.e2e_time > 300
    ):
        parser.error("at most 1,000,000 batch messages in 120 s, 200,000 end to end in 300 s")
    plan = args.only or ["ours", "kannel", "batch", "e2e"]
    # run.py stops a bench over its timeout with SIGTERM: unwind, so every process started
    # here is stopped by its context manager rather than left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    key = secrets.token_urlsafe(18)
    os.environ[KEY_ENV] = key
    os.environ[SECRET_ENV] = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    results: dict[str, Any] = {}
    failed: dict[str, str] = {}
    ratios: dict[str, Any] = {}
    load = [os.getloadavg()[0]]  # the machine is shared: how busy it was, beside the numbers
    if WRK is None:
        failed["wrk"] = "not installed (apt-get install wrk)"
        plan = [p for p in plan if p not in ("ours", "kannel")]
    if "kannel" in plan and (kannel_mod.BEARERBOX is None or kannel_mod.SMSBOX is None):
        failed["kannel"] = "not installed (apt-get install kannel)"
        plan.remove("kannel")
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        root = Path(tmp)
        with simulator(root, args.window) as sim, receiver(root) as hooks:
            pair = [name for name in ("ours", "kannel") if name in plan]
            if pair:
                print(f"  {' and '.join(pair)} ...", file=sys.stderr, flush=True)
                try:
                    with contextlib.ExitStack() as stack:
                        targets = {}
                        for name in pair:
                            (root / name).mkdir()
                            opener = (ours_target(root / name, sim, key, args) if name == "ours"
                                      else kannel_target(root / name, sim, hooks, args))  # fmt: skip
                            targets[name] = stack.enter_context(opener)
                        wrk_results, ratios = head_to_head(targets, sim, args)
                        results.update(wrk_results)
                except Exception as exc:
                    for name in pair:
                        failed[name] = f"{type(exc).__name__}: {exc}"[:500]
                    print(f"!! {'/'.join(pair)}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            steps: dict[str, Callable[[Path], dict[str, Any]]] = {
                "batch": lambda d: ours_batch(d, sim, key, args),
                "e2e": lambda d: ours_e2e_rounds(d, sim, key, hooks, args),
            }
            for name in [n for n in plan if n in steps]:
                directory = root / name
                directory.mkdir()
                print(f"  {name} ...", file=sys.stderr, flush=True)
                try:
                    results[name] = steps[name](directory)
                except Exception as exc:
                    failed[name] = f"{type(exc).__name__}: {exc}"[:500]
                    print(f"!! {name}: {failed[name]}", file=sys.stderr, flush=True)
    load.append(os.getloadavg()[0])
    print_tables(results, ratios, args)
    for name, why in failed.items():
        print(f"{name}: not measured: {why}")
    print(f"load average (1 min) at start {load[0]:.1f}, at end {load[1]:.1f}, on {os.cpu_count()} cpus")
    if args.json:
        headline = {}
        for name in ("ours", "kannel"):
            if name in results:
                s, p = results[name]["single"], results[name]["paced"]
                headline[name] = {"req_per_s": s["ok_rps"] if s["counts"] else None, "p99_ms": s["p99_us"] / 1e3,
                                  "p99_ms_at_rate": p["p99_us"] / 1e3, "achieved_rate": p["ok_rps"],
                                  "cpu_ms_per_msg": s["cpu_ms_e2e"], "peak_rss_mb": s["peak_rss_mb"]}  # fmt: skip
        if "batch" in results:
            headline["batch"] = {"msg_per_s": results["batch"]["msg_per_s"]}
        if "e2e" in results:
            e = results["e2e"]
            headline["e2e"] = {"msg_per_s": e["msg_per_s"], "rounds": e["rounds"], "final_webhooks": e["final_webhooks"],
                               "messages": e["messages"], "complete": e["all_complete"],
                               "cpu_ceiling_msg_per_s": e["cpu_ceiling_msg_per_s"]}  # fmt: skip
        print(json.dumps({"bench": "api", "unit": "req/s, msg/s", "results": headline, "ratios": {"ours/kannel": ratios},
                          "runs": results, "failed": failed, "durable": {"ours": True, "kannel": False},
                          "seconds": args.seconds, "connections": args.connections, "rate": args.rate,
                          "window": args.window, "load_average": load}, default=str))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
