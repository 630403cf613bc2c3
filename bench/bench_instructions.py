"""Instructions per message of the gateway end to end, counted by valgrind's callgrind.

    .venv/bin/python bench/bench_instructions.py [--count 2000] [--keep FILE] [--json]

The end-to-end section of ``bench_api.py`` (batch API -> SMSC -> receipt -> final on
disk -> signed webhook, one configured endpoint, 100 events per POST), with ``smppgw
serve`` run under ``valgrind --tool=callgrind --instr-atstart=no``: counting is switched
on (``callgrind_control -i on``) once a bind is up, and off once every final webhook has
arrived, so start-up and shutdown are left out. The simulator and the webhook receiver
run natively, as in ``bench_api.py``; the bench does not scrape ``/metrics`` while it
counts (a scrape is work the gateway would not do per message).

Why: on a shared machine a wall-clock rate moves by 15 % or more between runs of the same
code, which hides a change of a few percent. An instruction count of the same code moves
by about 1 % (the batching follows the timing a little). It is the CPU per message that
caps the end-to-end rate (the gateway's event loop is one core), so instructions per
message are the number to compare between two trees: run this from each (PYTHONPATH set
to the tree) and take the ratio. It is not a wall-clock figure: valgrind runs the
gateway about 50 times slower, and the batches it forms differ from a native run's.

Needs valgrind (Debian ``valgrind``); ``--keep`` saves the callgrind file for
``callgrind_annotate``. Every process started here is stopped by its PID.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import apiprocs  # noqa: E402
import bench_api  # noqa: E402
import httpx  # noqa: E402
from procs import first_line, stop  # noqa: E402

_COUNTED: dict[str, Any] = {}


@contextlib.contextmanager
def _counted_gateway(directory: Path, config: Path) -> Iterator[dict[str, Any]]:
    """``apiprocs.gateway`` under callgrind, counting only while the caller's block runs."""
    out = directory / "callgrind.out"
    cmd = [
        "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
        sys.executable, "-m", "smppgw.cli", "serve", "--config", str(config),
    ]  # fmt: skip
    with (directory / "smppgw.log").open("ab") as err:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, cwd=directory
        )
    try:
        deadline, url = time.monotonic() + 600, None  # start-up is slow under valgrind
        while url is None:
            line = first_line(proc, max(1.0, deadline - time.monotonic()), "smppgw serve")
            if m := re.search(rb"serving (http://\S+)", line):
                url = m.group(1).decode()
        while not any(httpx.get(f"{url}/readyz", timeout=30).json()["smscs"].values()):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise TimeoutError("smppgw serve not ready (no bind up)")
            time.sleep(0.5)
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
        yield {"url": url, "pid": proc.pid}
        subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True, capture_output=True)
    finally:
        stop(proc, grace=120)  # callgrind writes its file at exit
        files = sorted(directory.glob("callgrind.out*"))
        text = "".join(f.read_text() for f in files)
        _COUNTED["instructions"] = sum(int(m.group(1)) for m in re.finditer(r"^totals: (\d+)", text, re.M))
        if files and _COUNTED.get("keep"):
            shutil.copy(files[0], _COUNTED["keep"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=2000, help="messages end to end (100..20000)")
    ap.add_argument("--keep", help="copy the callgrind file here")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not 100 <= args.count <= 20_000:
        ap.error("--count in 100..20000 (about a minute per thousand under valgrind)")
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed (apt-get install valgrind): nothing counted")
        failed = {"valgrind": "not installed (apt-get install valgrind)"}
        print(
            json.dumps({"bench": "instructions", "unit": "instructions/msg", "results": {}, "failed": failed})
        )
        return
    _COUNTED["keep"] = args.keep
    bench_api.gateway = _counted_gateway  # type: ignore[assignment]
    bench_api.metric_sum = lambda *a, **k: float("inf")  # type: ignore[assignment]  # no scrapes
    key = secrets.token_urlsafe(18)
    os.environ[apiprocs.KEY_ENV] = key
    os.environ[apiprocs.SECRET_ENV] = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    e2e = argparse.Namespace(
        e2e_hook="endpoint", e2e_batch=100, e2e_batch_wait=0.05, e2e_count=args.count, e2e_time=1800,
        batch_clients=3, window=512,
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp:
        root = Path(tmp)
        with apiprocs.simulator(root, e2e.window) as sim, apiprocs.receiver(root) as hooks:
            (root / "e2e").mkdir()
            run = bench_api.ours_e2e(root / "e2e", sim, key, hooks, e2e)
    n = run["messages"]
    result = {
        "messages": n,
        "final_webhooks": run["final_webhooks"],
        "complete": run["complete"],
        "instructions": _COUNTED.get("instructions"),
        "instructions_per_message": round(_COUNTED["instructions"] / n)
        if n and _COUNTED.get("instructions")
        else None,
    }
    print(
        f"{n:,} messages end to end, {run['final_webhooks']:,} final webhooks; gateway: "
        f"{result['instructions_per_message'] or 0:,} instructions per message (callgrind)"
    )
    if args.json:
        print(json.dumps({"bench": "instructions", "unit": "instructions/msg", "results": result}))
    if not run["complete"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
