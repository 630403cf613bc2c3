"""README's Consent section runs as written: its config is the app's, and each of its
curl commands is answered 2xx by the app on that config, in order."""

from __future__ import annotations

import itertools
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
    start = text.index("\n### Consent\n")
    end = min(text.index(h, start + 1) for h in ("\n## ", "\n### "))  # to the next section
    return text[start:end]


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", section(), re.S)


def commands() -> list[dict[str, Any]]:
    """Each curl of the section: method, URL, headers and body (``$'...'`` as bash reads it)."""
    out = []
    for command in blocks("sh")[0].replace("\\\n", " ").splitlines():
        command = re.sub(
            r"\$'(.*?)'", lambda m: shlex.quote(m.group(1).encode().decode("unicode_escape")), command
        )
        words = shlex.split(command)
        if not words or words[0] != "curl":
            continue
        call: dict[str, Any] = {"method": "GET", "url": words[-1], "headers": {}, "body": None}
        for flag, value in itertools.pairwise(words):
            if flag == "-X":
                call["method"] = value
            elif flag == "-H":
                name, _, v = value.partition(": ")
                call["headers"][name] = v.replace("dev-key-123", KEY)
            elif flag in ("-d", "--data-binary"):
                call["body"] = value
        out.append(call)
    return out


def test_the_section_has_its_examples() -> None:
    assert len(blocks("toml")) == 1
    assert [c["method"] for c in commands()] == ["DELETE", "PUT", "GET", "POST", "GET"]


async def test_the_config_and_requests_run_as_written(tmp_path: Path) -> None:
    data = tomllib.loads(blocks("toml")[0])
    assert data["smsc"][0]["port"] == 2775
    async with simulator() as sim:
        data["smsc"][0]["port"] = sim.port  # smppsim on a free port instead of its default
        config = app_config_from_dict(data, environ={"SMPPGW_API_KEYS": KEY})
        config = attrs.evolve(config, store_path=tmp_path / "db", listen_port=0)
        assert config.twoway.consent.brand == "Acme Dental" and config.gateway.smscs[0].optout_statuses
        async with serving(config) as api:
            answers = []
            for call in commands():
                url = call["url"].replace("http://127.0.0.1:8080", api.url)
                r = await api.http.request(call["method"], url, headers=call["headers"], content=call["body"])
                assert r.status_code == 200, (call, r.text)
                answers.append(r)
            assert answers[2].json()["allowed"] is False
            assert answers[3].json()["imported"] == 1
            assert answers[4].text.count("\n") == 4  # the header and three events
            blocked = await api.post(
                "/v1/messages", {"to": "+447700900003", "from": "447700900100", "text": "Offer"}
            )
            assert blocked.json()["status"] == "blocked"
