"""README's 2-way section runs as written: its config is the app's, and each of its
requests is accepted by the app on that config, in front of the real simulator."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import attrs

from smppgw.app import app_config_from_dict
from tests.api.helpers import KEY, serving
from tests.gateway.helpers import simulator

README = Path(__file__).resolve().parents[2] / "README.md"


def section() -> str:
    text = README.read_text()
    start = text.index("\n### Conversations\n")  # with Sender pools
    end = text.index("\n### Quiet hours\n", start + 1)
    return text[start:end]


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", section(), re.S)


def requests() -> list[tuple[str, dict[str, Any]]]:
    """(URL, JSON body) of every curl in the section's shell blocks."""
    out = []
    for block in blocks("sh"):
        for command in block.replace("\\\n", " ").splitlines():
            words = shlex.split(command)
            if words and words[0] == "curl":
                out.append((words[-1], json.loads(words[words.index("-d") + 1])))
    return out


def test_the_section_has_its_examples() -> None:
    assert len(blocks("toml")) == 1 and len(requests()) == 5
    assert all(url == "http://127.0.0.1:8080/v1/messages" for url, _ in requests())


async def test_the_config_and_requests_run_as_written(tmp_path: Path) -> None:
    data = tomllib.loads(blocks("toml")[0])
    assert data["smsc"][0]["port"] == 2775
    async with simulator() as sim:
        data["smsc"][0]["port"] = sim.port  # smppsim on a free port instead of its default
        config = app_config_from_dict(data, environ={"SMPPGW_API_KEYS": KEY})
        config = attrs.evolve(config, store_path=tmp_path / "db", listen_port=0)
        async with serving(config) as api:
            for _, body in requests():
                r = await api.post("/v1/messages", body)
                assert r.status_code == 202, (body, r.text)
                view = (await api.get(f"/v1/messages/{r.json()['id']}")).json()
                assert view["conversation_state"] == "open"
                if body["from"].startswith("pool"):
                    assert view["from"] in {n.lstrip("+") for n in data["twoway"]["pool"][0]["numbers"]}
