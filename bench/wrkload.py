"""wrk driven from Python for the HTTP benches: a Lua script per job, one JSON summary back.

Used by ``bench_api.py`` and ``spike_http.py``. Every request gets a distinct destination
(``{to}`` in the path or the body is replaced per request: thread number and a counter),
so a server that deduplicates or caches sees fresh work each time. ``delay_ms`` paces each
connection (wrk's ``delay()``: that many milliseconds between a response and the next
request). ``rate`` offers a fixed rate instead: each wrk thread hands out send times on a
schedule (``threads * 1000 / rate`` ms apart, read from CLOCK_MONOTONIC through LuaJIT's
ffi) and ``delay()`` waits for the next one, so the rate does not depend on the latency
as long as there are enough connections (a schedule fallen more than a second behind is
restarted, not caught up in a burst). The summary comes from the script's
``done()``: requests, duration, socket errors, non-2xx/3xx answers (wrk counts status > 399)
and latency percentiles in microseconds.

Also here: CPU seconds and peak RSS of a process tree from /proc (the server under load,
its worker processes included).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["WRK", "proc_tree", "tree_cpu", "tree_hwm_mb", "wrk_run"]

WRK = shutil.which("wrk") or ("/usr/bin/wrk" if Path("/usr/bin/wrk").exists() else None)

_LUA = r"""
local threads = {}
local nthreads = 0
function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end

local n = 0
local method = %(method)s
local path_template = %(path)s
local body_template = %(body)s
local headers = {}
%(headers)s

request = function()
  n = n + 1
  local to = string.format("4477%%02d%%06d", tid %% 100, n %% 1000000)
  local path = string.gsub(path_template, "{to}", to)
  local body = nil
  if body_template ~= nil then
    body = string.gsub(body_template, "{to}", to)
  end
  return wrk.format(method, path, headers, body)
end
%(delay)s
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"connect_errors":%%d,"read_errors":%%d,' ..
    '"write_errors":%%d,"status_errors":%%d,"timeout_errors":%%d,' ..
    '"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"max_us":%%d,"mean_us":%%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


_PACED = r"""
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } wrkload_timespec;
           int clock_gettime(int clock_id, wrkload_timespec *tp); ]]
local ts = ffi.new("wrkload_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local interval = %(interval)s
local slot = nil
function delay()
  local now = now_ms()
  if slot == nil or slot < now - 1000 then slot = now end
  slot = slot + interval
  local wait = slot - now
  if wait < 0 then return 0 end
  return math.floor(wait + 0.5)
end
"""


def _lua_string(value: str | None) -> str:
    if value is None:
        return "nil"
    return "[==[" + value + "]==]"


def wrk_run(
    url: str,
    *,
    path: str,
    method: str = "POST",
    body: str | None = None,
    headers: dict[str, str] | None = None,
    connections: int = 16,
    threads: int = 2,
    seconds: float = 10.0,
    delay_ms: float | None = None,
    rate: float | None = None,
    timeout_s: float = 5.0,
) -> dict[str, Any]:
    """Run wrk once against ``url`` (scheme://host:port); return its summary plus
    ``rps`` (requests per second) and ``ok`` (requests without an error)."""
    if WRK is None:
        raise FileNotFoundError("wrk is not installed")
    header_lines = "\n".join(
        f"headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in (headers or {}).items()
    )
    delay = f"function delay() return {round(delay_ms)} end" if delay_ms else ""
    if rate:
        delay = _PACED % {"interval": repr(threads * 1000.0 / rate)}
    script = _LUA % {
        "method": _lua_string(method),
        "path": _lua_string(path),
        "body": _lua_string(body),
        "headers": header_lines,
        "delay": delay,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        lua = f.name
    try:
        cmd = [WRK, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
               f"--timeout={timeout_s:g}s", "-s", lua, url]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    finally:
        os.unlink(lua)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary (rc={out.returncode}): {out.stderr.strip()[:500]}")
    result: dict[str, Any] = json.loads(line[len("WRKJSON ") :])
    errors = sum(result[k] for k in ("connect_errors", "read_errors", "write_errors", "timeout_errors"))
    seconds_run = max(result["duration_us"] / 1e6, 1e-9)
    result["socket_errors"] = errors
    result["ok"] = max(0, result["requests"] - result["status_errors"] - errors)
    result["rps"] = round(result["requests"] / seconds_run, 1)
    result["ok_rps"] = round(result["ok"] / seconds_run, 1)
    result["seconds"] = round(seconds_run, 2)
    return result


# -- a process tree from /proc ------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "


def proc_tree(pid: int) -> list[int]:
    """``pid`` and every live descendant (worker processes of a multi-process server)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_cpu(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (dead ones count 0)."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


def tree_hwm_mb(pids: list[int]) -> float:
    """Sum of the peak RSS (VmHWM) of these processes, in MB."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)
