"""A headless Chromium driven over the DevTools protocol on a pipe, for the console tests.

The same browser as the load-test report's tests (Debian's ``chromium``, ``make browser``),
started the same way; ``--remote-debugging-pipe`` adds a command channel on file
descriptors 3 (commands in) and 4 (answers and events out), NUL-separated JSON, so no
WebSocket client is needed. Every call is blocking and bounded in time: run it in a worker
thread (``trio.to_thread.run_sync``) while the simulator serves on the trio loop.

Without Chromium the tests skip locally and FAIL under CI (``CI=true``), as the report's do.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

import pytest

__all__ = ["Chromium", "find_chromium"]

INSTALL_HINT: Final = "apt-get update && apt-get install -y chromium"
START_TIMEOUT_S: Final = 60.0
CALL_TIMEOUT_S: Final = 30.0
# Puts the pipe ends on the descriptors Chromium expects (3 and 4), then execs it. (Not a
# shell's ``3<&12``: dash takes single-digit descriptors only.) F_DUPFD moves both above 9
# first, so that neither is overwritten by the other's dup2.
_TRAMPOLINE: Final = """
import fcntl, os, sys
ends = [fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3]]
os.dup2(ends[0], 3)
os.dup2(ends[1], 4)
os.execv(sys.argv[3], sys.argv[3:])
"""


def find_chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None
    )
    if found:
        return found
    message = f"Chromium is not installed; the console's browser tests need it: `{INSTALL_HINT}`"
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(message + " (CI=true: not skipping)")
    pytest.skip(message)


class Chromium:
    """One headless browser with one page attached (``Runtime``/``Page`` commands go to it)."""

    def __init__(self, browser: str, directory: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        self._buffer = b""
        self._next_id = 0
        self._session: str | None = None
        self.stderr_path = directory / "chromium.log"
        args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-pipe",
            f"--user-data-dir={directory / 'profile'}",
            "about:blank",
        ]
        with self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _TRAMPOLINE, str(to_browser_r), str(from_browser_w), browser, *args],
                pass_fds=(to_browser_r, from_browser_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        os.close(to_browser_r)
        os.close(from_browser_w)
        try:
            self._attach()
        except BaseException:
            self.close()
            raise

    def _attach(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            targets = self.call("Target.getTargets", timeout=START_TIMEOUT_S, session=False)
            pages = [t for t in targets["targetInfos"] if t["type"] == "page"]
            if pages:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"no page target in Chromium: {targets}")
            time.sleep(0.1)
        attached = self.call(
            "Target.attachToTarget", {"targetId": pages[0]["targetId"], "flatten": True}, session=False
        )
        self._session = attached["sessionId"]

    # -- the protocol ------------------------------------------------------------------------

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float = CALL_TIMEOUT_S,
        session: bool = True,
    ) -> dict[str, Any]:
        """Send one command and return its result (events in between are dropped)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            assert self._session is not None
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._receive(deadline, method)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise AssertionError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer["result"]
                return result

    def _receive(self, deadline: float, method: str) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"Chromium did not answer {method} in time; {self._log_tail()}")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                data = os.read(self._from_browser, 1 << 16)
                if not data:
                    raise AssertionError(f"Chromium closed its pipe during {method}; {self._log_tail()}")
                self._buffer += data
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def _log_tail(self) -> str:
        try:
            return "its log ends: " + self.stderr_path.read_text(errors="replace")[-2000:]
        except OSError:
            return "no log"

    # -- what the tests use ------------------------------------------------------------------

    def navigate(self, url: str) -> None:
        """Open ``url`` and wait until its document has loaded (not the about:blank before)."""
        self.call("Page.navigate", {"url": url})
        self.wait_for("location.origin !== 'null' && document.readyState === 'complete'")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression[:200]!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = CALL_TIMEOUT_S) -> Any:
        """Evaluate ``expression`` every 50 ms until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"still falsy after {timeout} s: {expression[:300]}")
            time.sleep(0.05)

    def screenshot(self) -> bytes:
        import base64

        return base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"])

    def close(self) -> None:
        """Close the browser (politely, then by its PID); always releases the pipes."""
        try:
            if self.proc.poll() is None:
                try:
                    self.call("Browser.close", session=False, timeout=5.0)
                except (AssertionError, OSError):
                    pass
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
        finally:
            for fd in (self._to_browser, self._from_browser):
                try:
                    os.close(fd)
                except OSError:
                    pass
