"""The gateway reaches a connection only through its pool-facing API (``can_submit``,
``in_flight``, ``start_request``...), never through ``conn.session``: an AST walk."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent.parent
# Everything above smppgw.net: the gateway, the HTTP API and the composition root.
CHECKED: Final = [
    *sorted((ROOT / "smppgw" / "gateway").rglob("*.py")),
    *sorted((ROOT / "smppgw" / "api").rglob("*.py")),
    ROOT / "smppgw" / "app.py",
]


def session_reaches(source: str) -> list[str]:
    """Each ``<expr>.session.<name>`` in ``source``, as ``line: .session.name``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
            if node.value.attr == "session":
                found.append(f"{node.lineno}: .session.{node.attr}")
    return found


def test_the_gateway_never_reads_a_connections_session() -> None:
    assert len(CHECKED) > 5
    offences = {
        str(path.relative_to(ROOT)): hits
        for path in CHECKED
        if path.exists() and (hits := session_reaches(path.read_text()))
    }
    assert offences == {}


def test_the_checker_sees_a_reach_into_the_session() -> None:
    source = "def pick(conn):\n    return conn.session.window.available and conn.can_submit()\n"
    assert session_reaches(source) == ["2: .session.window"]
