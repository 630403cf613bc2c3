"""``smppgw serve`` on SQLite (the default) loads no Redis client: coredis, with its
runtime type checks, is the largest import of a gateway, so only a deployment on Redis
(``[store] backend = "redis"``, ``[streams]``) pays for it (``smppgw.app`` imports the
``cluster`` modules where they are used). Checked in a fresh interpreter: the test
process has imported everything already."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import sys
import smppgw.api.app, smppgw.app, smppgw.app_twoway, smppgw.app_wiring, smppgw.cli
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("coredis", "redis"))
print(" ".join(loaded))
"""


def test_the_serve_composition_root_imports_no_redis_client() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "", done.stdout[:500]
