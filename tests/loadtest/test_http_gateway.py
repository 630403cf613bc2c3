"""``smpp-loadtest --http`` against the real queue API (``smppgw serve``'s app) in front of
a real simulator: what the load tester counts is what the gateway accepted and sent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
import trio

from loadtest.messages import TEXTS
from loadtest.params import Phase, RunParams, parse_mix
from loadtest.runner import RunFailed
from smppgw.api.limits import KeyLimits
from smppgw.core.text import split_message
from smppgw.gateway.webhook_config import WebhookSettings
from tests.api.helpers import KEY, app_config, serving
from tests.gateway.helpers import simulator, smsc, wait_until
from tests.loadtest.helpers import run_checked

LOOPBACK = WebhookSettings(allow_private_targets=True)

BIN = Path(sys.executable).parent


def http_params(url: str, **kw: object) -> RunParams:
    fields: dict[str, object] = {
        "target": "http", "address": url, "api_key": KEY, "binds": 1, "window": 16,
        "mix": parse_mix("gsm:0.8,long:0.2"), "max_seconds": 20, "seed": 3,
    }  # fmt: skip
    fields.update(kw)
    return RunParams(**fields)  # type: ignore[arg-type]


async def test_every_accepted_request_is_a_message_the_gateway_sends(tmp_path: Path) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        # Client, API, gateway and simulator share one process here: a light rate, and a
        # window as large as the load, so that on a loaded machine no message is left
        # unsent waiting for a window when the load ends (counting is under test here).
        params = http_params(api.url, window=100, phases=(Phase(rate=40, duration=2.5),))
        result = await run_checked(params)
        s = result["summary"]
        assert s["offered"] == s["sent"] == s["acked"] == 100, s
        assert s["errors_by_status"] == {} and s["latency_ms"]["submit_resp"]["count"] == 100
        # 20% long texts are 2 parts each: the simulator gets every part of every message.
        # Without --wait-dlr no receipt is asked for (as registered_delivery=0 over SMPP).
        assert await wait_until(lambda: api.store.counts().get("submitted") == 100, 10), api.store.counts()
        per_long = len(split_message(TEXTS["long"]))
        parts = sim.store.select(limit=1000)
        long_messages = sum(1 for m in parts if m.esm_class & 0x40) // per_long
        assert len(parts) == 100 - long_messages + long_messages * per_long and long_messages > 0


async def test_a_wrong_key_stops_the_run_before_the_load_and_a_full_queue_is_counted(tmp_path: Path) -> None:
    down = {
        "name": "a",
        "host": "127.0.0.1",
        "port": 1,
        "system_id": "x",
        "password": "y",
        "connect_timeout": 0.2,
    }
    # 20 wrong keys would block the address (api.keys: failed-auth limiting) for the run after
    limits = KeyLimits(auth_failures=100)
    config = attrs.evolve(app_config([down], tmp_path / "db"), max_queued=5, key_limits=limits)
    async with serving(config) as api:
        with pytest.raises(RunFailed, match=r"HTTP 401: the API key is unknown"):
            await run_checked(
                http_params(api.url, api_key="not-the-key", closed=True, count=20, duration=5.0)
            )
        assert api.store.counts() == {}  # the pre-flight request made no message
        full = await run_checked(
            http_params(api.url, mix=parse_mix("gsm:1"), closed=True, count=20, duration=5.0, window=1)
        )
        s = full["summary"]
        assert s["acked"] == 5 and s["throttled"] == 15 and s["errors_by_status"] == {"HTTP_429": 15}, s
        assert api.store.counts() == {"queued": 5}


async def test_the_cli_loads_smppgw_serve_and_writes_its_report(tmp_path: Path) -> None:
    async with simulator() as sim, serving(app_config([smsc(sim)], tmp_path / "db")) as api:
        report = tmp_path / "http.json"
        command = [
            str(BIN / "smpp-loadtest"), "--http", api.url, "--api-key", KEY, "--rate", "25",
            "--duration", "2", "--json", str(report), "--check", "error_rate<0.001",
        ]  # fmt: skip
        done = await trio.run_process(command, capture_stdout=True, capture_stderr=True, check=False)
        assert done.returncode == 0, done.stdout.decode()[-1500:] + done.stderr.decode()[-1500:]
        summary = json.loads(report.read_text())["summary"]
        assert summary["acked"] == 50 and summary["errors_by_status"] == {}
        assert await wait_until(lambda: sum(api.store.counts().values()) == 50, 5)
    assert subprocess.run([BIN / "smpp-loadtest", "--help"], capture_output=True, check=False).returncode == 0


async def test_wait_dlr_over_http_counts_each_final_webhook_as_a_receipt(tmp_path: Path) -> None:
    outcomes = {"DELIVRD": 0.75, "UNDELIV": 0.25}
    async with (
        simulator(behaviour={"dlr_delay": 0.3, "outcomes": outcomes}) as sim,
        # The webhooks come back to a loopback port: a private target, allowed here.
        serving(attrs.evolve(app_config([smsc(sim)], tmp_path / "db"), webhooks=LOOPBACK)) as api,
    ):
        params = http_params(
            api.url, phases=(Phase(rate=20, duration=2.0),), wait_dlr=5.0, mix=parse_mix("gsm:1")
        )
        result = await run_checked(params)
        counts = api.store.counts()
    s = result["summary"]
    assert s["acked"] == 40 and s["receipts_expected"] == 40 and s["receipts"] == 40, s
    dlr = s["latency_ms"]["submit_receipt"]
    # Every receipt waited for the simulator's 0.3 s delay; undelivered ones count too.
    assert dlr["count"] == 40 and dlr["p50"] >= 300, dlr
    assert set(counts) == {"delivered", "undeliverable"} and sum(counts.values()) == 40, counts
