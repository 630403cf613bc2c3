"""The README harness itself: markers, commands, port substitution, and that a failing
block fails (so a green README test means something)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.docs.markdown import blocks
from tests.docs.session import DocError, Session, commands

DOC = """\
# t

<!-- illustration: a placeholder host -->
```sh
smppgw send --smsc carrier.example:2775
```

<!-- file: gw.toml -->

```toml
[[smsc]]
port = 2775
```

```
text
```
"""


def test_blocks_carry_the_markers_written_above_them(tmp_path: Path) -> None:
    path = tmp_path / "DOC.md"
    path.write_text(DOC)
    found = blocks(path)
    assert [(b.lang, b.line, b.markers) for b in found] == [
        ("sh", 4, {"illustration": "a placeholder host"}),
        ("toml", 10, {"file": "gw.toml"}),
        ("", 15, {}),
    ]
    assert found[1].text == "[[smsc]]\nport = 2775\n"


def test_commands_join_continuations_and_drop_comments() -> None:
    text = (
        "# a comment\nsmppsim --listen 127.0.0.1:2775 \\\n    --seed 42   # note\n\nsmppsim --list-profiles\n"
    )
    assert list(commands(text)) == [
        "smppsim --listen 127.0.0.1:2775 --seed 42   # note",
        "smppsim --list-profiles",
    ]


def test_fixed_ports_become_one_free_port_each(tmp_path: Path) -> None:
    session = Session(tmp_path)
    text = session.ports_of("--listen 127.0.0.1:2775 x 2775 http://127.0.0.1:8080/v1 12775 2775.5")
    port, api = session.ports[2775], session.ports[8080]
    assert text == f"--listen 127.0.0.1:{port} x {port} http://127.0.0.1:{api}/v1 12775 2775.5"
    assert len(set(session.ports.values())) == len(session.ports)


@pytest.mark.parametrize(
    ("lang", "text", "message"),
    [
        ("sh", "false\n", "exit 1"),
        ("toml", "[[smsc]]\nname = 1\n", "the config is refused"),
        ("python", "raise SystemExit(3)\n", "exit 3"),
        ("json", "{[...]}\n", "not JSON"),
        ("text", "anything\n", "mark it"),
        ("sh", "smppsim --listen 127.0.0.1:2775 --no-such-flag\n", "exited 2"),
    ],
)
def test_a_failing_block_fails(tmp_path: Path, lang: str, text: str, message: str) -> None:
    path = tmp_path / "DOC.md"
    path.write_text(f"```{lang}\n{text}```\n")
    session = Session(tmp_path / "run")
    try:
        with pytest.raises(DocError, match=message):
            session.run(blocks(path)[0])
    finally:
        session.close()


def test_a_background_server_is_started_waited_on_and_killed_by_its_job_number(tmp_path: Path) -> None:
    path = tmp_path / "DOC.md"
    path.write_text(
        "```sh\nsmppsim --listen 127.0.0.1:2776 --profile fast &\nsmppsim --list-profiles\nkill %1\n```\n"
    )
    session = Session(tmp_path / "run")
    try:
        started = []
        original = session._start

        def spy(*args: Any) -> Any:
            started.append(original(*args))
            return started[-1]

        session._start = spy  # type: ignore[method-assign]
        session.run(blocks(path)[0])
        assert len(started) == 1 and started[0].returncode is not None  # stopped by `kill %1`
        assert session.servers == []
    finally:
        session.close()


def test_a_block_about_the_redis_streams_gets_a_prefix_of_its_own(tmp_path: Path) -> None:
    """The documents' streams never touch another run's (or a developer's) keys."""
    asked: list[str] = []

    def redis() -> str:
        asked.append("url")
        return "redis://127.0.0.1:6390/0"

    one, two = Session(tmp_path / "one", redis=redis), Session(tmp_path / "two", redis=redis)
    path = tmp_path / "DOC.md"
    path.write_text("# t\n\n```json\n{}\n```\n\n<!-- fragment -->\n```toml\n[streams]\nenabled = true\n```\n")
    plain, streams = blocks(path)
    for n, session in enumerate((one, two)):
        session.run(plain)
        assert "SMPPGW_STREAMS__PREFIX" not in session.env and len(asked) == n
        session.run(streams)
        session.run(streams)
        assert len(asked) == n + 1  # once per session, at its first such block
        assert session.env["SMPPGW_STREAMS__URL"] == "redis://127.0.0.1:6390/0"
    assert one.env["SMPPGW_STREAMS__PREFIX"] != two.env["SMPPGW_STREAMS__PREFIX"]
