"""The benchmarks' child processes: read the first line one prints, stop one by its PID."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from typing import Any

__all__ = ["first_line", "stop"]


def first_line(proc: subprocess.Popen[bytes], timeout: float, what: str = "the server") -> bytes:
    """The first stdout line of ``proc`` (a port or a banner), within ``timeout`` seconds."""
    assert proc.stdout is not None
    fd, buf = proc.stdout.fileno(), b""
    deadline = time.monotonic() + timeout
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{what} printed nothing in time")
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError(f"{what} exited early (rc={proc.wait()})")
            buf += chunk
    return buf.split(b"\n", 1)[0]


def stop(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, grace: float = 5.0) -> None:
    """Stop one process we started, by its PID: ``sig``, then SIGKILL after ``grace`` s."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if proc.stdout is not None:
        proc.stdout.close()
