"""Run every ``bench/bench_*.py`` with ``--json``; print their tables; save their results.

    .venv/bin/python bench/run.py [--only codec client] [--timeout 600]

Each bench prints a human table and, as its last line, one JSON object (DESIGN §6). The
tables are shown as they come; the JSON objects are collected into ``bench/results.json``
together with the commit they were measured on, so results can be compared across
commits. Ratios are measured within one run on one machine; absolute numbers mean little
on a shared machine.

Exit status: 0 when every bench ran to completion and printed its JSON line, 1 when a
bench crashed (non-zero exit, no JSON line, or over ``--timeout``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # procs, when imported from elsewhere

from procs import stop  # noqa: E402

RESULTS = HERE / "results.json"


def _git(*args: str) -> str | None:
    """A read-only git query, or None outside a work tree."""
    try:
        out = subprocess.run(
            ["git", *args], cwd=HERE, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def run_bench(script: Path, timeout: float) -> tuple[dict[str, Any] | None, str | None]:
    """Run one bench; stream its output; return (its JSON object, error)."""
    proc = subprocess.Popen(
        [sys.executable, str(script), "--json"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    last: list[str | None] = []

    def pump() -> None:
        # Print every line as it comes except the newest, which may be the JSON object.
        assert proc.stdout is not None
        held: str | None = None
        for line in proc.stdout:
            if held is not None:
                print(f"  {held}", flush=True)
            held = line.rstrip("\n")
        last.append(held)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=timeout)  # every bench bounds its own runs; this is a backstop
    except subprocess.TimeoutExpired:
        stop(proc)
        reader.join(timeout=5)
        return None, f"over the {timeout:.0f}s timeout"
    reader.join(timeout=10)
    final = last[0] if last else None
    result: dict[str, Any] | None = None
    if final is not None:
        try:
            parsed = json.loads(final)
            result = parsed if isinstance(parsed, dict) else None
        except json.JSONDecodeError:
            pass
        if result is None:
            print(f"  {final}")
    if proc.returncode != 0:
        return result, f"exit status {proc.returncode}"
    if result is None:
        return None, "no JSON object on the last line"
    return result, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run every bench/bench_*.py and save bench/results.json")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these (codec, client, ...)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per bench at most")
    args = parser.parse_args(argv)

    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.only]
    results: list[dict[str, Any]] = []
    failed: dict[str, str] = {}
    started = time.perf_counter()
    for script in scripts:
        print(f"== {script.name}", flush=True)
        t0 = time.perf_counter()
        result, error = run_bench(script, args.timeout)
        if result is not None:
            results.append(result)
        if error is not None:
            failed[script.name] = error
            print(f"!! {script.name} crashed: {error}", flush=True)
        print(f"   ({time.perf_counter() - t0:.1f}s)\n", flush=True)

    status = _git("status", "--porcelain")
    document = {
        "generated": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": _git("rev-parse", "HEAD"),
        "dirty": bool(status) if status is not None else None,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        "failed": failed,
        "benches": results,
    }
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {RESULTS} ({len(results)} benches, {time.perf_counter() - started:.0f}s)")
    if failed:
        print(f"crashed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
