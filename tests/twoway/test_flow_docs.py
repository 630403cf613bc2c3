"""docs/flows.md runs as written: its flow file parses, its Python block runs."""

from __future__ import annotations

import runpy
import tomllib
from pathlib import Path

import pytest

from smppgw.twoway.flow_config import parse_flow
from tests.docs.markdown import blocks

DOC = Path(__file__).resolve().parents[2] / "docs" / "flows.md"


def test_the_toml_block_is_a_flow() -> None:
    toml = [b for b in blocks(DOC) if b.lang == "toml"]
    assert len(toml) == 1
    assert parse_flow(tomllib.loads(toml[0].text)).name == "survey"


def test_the_python_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = [b for b in blocks(DOC) if b.lang == "python"]
    assert len(code) == 1
    (tmp_path / "flows.md").write_text(DOC.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "example.py").write_text(code[0].text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(tmp_path / "example.py"), run_name="__main__")


def test_every_block_is_one_of_those() -> None:
    assert sorted(b.lang for b in blocks(DOC)) == ["python", "toml"]
