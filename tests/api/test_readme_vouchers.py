"""README's Vouchers section tells the truth: its config loads, and after the calls it
shows (the same imports, the MO "VOUCHER", the issues and the redemption) the API
answers the code, the report and the problem the section prints (times aside)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import attrs
import trio

from smppgw.app import app_config_from_dict
from smppgw.core.text import decode_text
from tests.api.helpers import KEY, serving
from tests.gateway.helpers import simulator

README = Path(__file__).resolve().parents[2] / "README.md"
HANDSET = "447700900001"


def section() -> str:
    text = README.read_text()
    start = text.index("\n### Vouchers\n")
    end = min(i for h in ("\n## ", "\n### ") if (i := text.find(h, start + 1)) != -1)
    return text[start:end]


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", section(), re.S)


def _timeless(value: Any) -> Any:
    """``value`` with its ISO times as a placeholder (they differ from run to run)."""
    text = json.dumps(value)
    return json.loads(re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", "<time>", text))


async def test_the_vouchers_section_shows_what_the_api_answers(tmp_path: Path) -> None:
    [toml] = blocks("toml")
    code_view, report, problem = (json.loads(b) for b in blocks("json"))
    async with simulator() as sim:
        data = tomllib.loads(toml)
        data["smsc"][0]["port"] = sim.port
        config = attrs.evolve(
            app_config_from_dict(data, environ={"SMPPGW_API_KEYS": KEY}), store_path=tmp_path / "db",
            listen_port=0,
        )  # fmt: skip
        async with serving(config) as api:
            await api.wait_ready()
            csv = "code,campaign\nSPR-7Q2X,spring\nSPR-K9M4,spring\nSPR-3VBT,spring\n"
            post = api.http.post
            await post(
                f"{api.url}/v1/vouchers/pools/SPRING", content=csv, headers={"content-type": "text/csv"}
            )
            gifts = await post(
                f"{api.url}/v1/vouchers/pools/gifts", params={"campaign": "xmas"},
                content="GIFT-0001\nGIFT-0002\nSPR-7Q2X\n", headers={"content-type": "text/plain"},
            )  # fmt: skip
            assert gifts.json() == {
                "pool": "gifts",
                "imported": 2,
                "duplicates": ["SPR-7Q2X"],
                "duplicate_count": 1,
            }
            sim.inject_mo(system_id=None, source_addr=HANDSET, destination_addr="12345", text="VOUCHER")
            with trio.fail_after(10):
                while not (got := sim.store.select(destination_addr=HANDSET)):
                    await trio.sleep(0.02)
            assert decode_text(got[0].payload, got[0].data_coding) == (
                "Your spring code: SPR-7Q2X. Show it at the till."
            )
            issued = await api.post("/v1/vouchers/pools/SPRING/issue", {"to": "+447700900001"})
            assert issued.json()["code"] == "SPR-7Q2X"
            await api.post("/v1/vouchers/pools/gifts/issue", {"to": "+447700900002"})
            assert (await post(f"{api.url}/v1/vouchers/SPR-7Q2X/redeem")).status_code == 200
            assert _timeless((await api.get("/v1/vouchers/SPR-7Q2X")).json()) == _timeless(code_view)
            assert (await api.get("/v1/vouchers/report")).json() == report
            again = (await post(f"{api.url}/v1/vouchers/SPR-7Q2X/redeem")).json()
            assert _timeless(again) == _timeless(problem)
