"""support.logsafe and support.logformat: network values escaped into one token, log
records as one line of text or one JSON object, and ``--log-format`` on every tool."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from smppgw.support.logformat import JsonFormatter, TextFormatter, configure_logging
from smppgw.support.logsafe import DEFAULT_LIMIT, Fields, kv, printable, safe

BIN = Path(sys.executable).parent


# -- safe ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "logged"),
    [
        ("abc123", "abc123"),
        ("ab\ncd", "ab\\ncd"),
        ("a\r\n\tb", "a\\r\\n\\tb"),
        ("\x1b[2J\x07\x00\x7f", "\\x1b[2J\\x07\\x00\\x7f"),
        ("\x9b31m", "\\x9b31m"),  # C1: the 8-bit CSI
        ("\u202eevil", "\\u202eevil"),  # right-to-left override
        ("line\u2028sep", "line\\u2028sep"),  # str.splitlines() splits here
        ("café", "café"),  # printable non-ASCII stays readable
        ('a"b\\c', 'a\\"b\\\\c'),
        ("two words", '"two words"'),
        ("k=v", '"k=v"'),
        ("", '""'),
        (b"id\x00\xff", "id\\x00ÿ"),  # bytes: one character a byte
        (42, "42"),
        (None, "None"),
    ],
)
def test_safe_escapes_into_one_printable_token(value: object, logged: str) -> None:
    assert safe(value) == logged


def test_safe_cuts_long_values_and_says_how_long_they_were() -> None:
    assert safe("x" * 300) == "x" * DEFAULT_LIMIT + "…[300 chars]"
    assert safe("a b " * 10, limit=4) == '"a b "…[40 chars]'
    assert safe("\n" * 100, limit=3) == "\\n\\n\\n…[100 chars]"  # cut before escaping


@given(st.text() | st.binary())
def test_safe_is_always_one_printable_line(value: str | bytes) -> None:
    out = safe(value, limit=20)
    assert out.isprintable() and len(out.splitlines()) <= 1
    assert len(out) <= 20 * 10 + 2 + len(f"…[{len(value)} chars]")  # \U0010ffff is 10 characters


@given(st.text())
def test_printable_escapes_only_what_is_not_printable(text: str) -> None:
    out = printable(text)
    assert out.isprintable()
    if text.isprintable():
        assert out == text


# -- kv --------------------------------------------------------------------------------------


def test_kv_is_key_value_pairs_each_value_safe() -> None:
    assert str(kv(smsc="a", receipt_id="x\ny", parts=2)) == "smsc=a receipt_id=x\\ny parts=2"
    assert str(Fields({"text": "hello world, a long message"}, limit=5)) == "text=hello…[27 chars]"


class _Counted:
    def __init__(self) -> None:
        self.calls = 0

    def __str__(self) -> str:
        self.calls += 1
        return "v"


def test_kv_is_formatted_only_when_the_record_is(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("tests.logs.lazy")
    value = _Counted()
    with caplog.at_level(logging.INFO, logger="tests.logs.lazy"):
        log.debug("not shown %s", kv(value=value))
        assert value.calls == 0
        log.info("shown %s", kv(value=value))
    assert caplog.messages == ["shown value=v"] and value.calls > 0  # once per handler


# -- formatters ------------------------------------------------------------------------------


def _record(msg: str, *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            exc_info = sys.exc_info()
    record = logging.LogRecord("smppgw.test", logging.WARNING, __file__, 1, msg, args, exc_info)
    record.created = 1796565802.1234  # 2026-12-06T14:03:22.123Z
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_is_one_ascii_object_with_the_fields_of_kv_and_extra() -> None:
    line = JsonFormatter().format(
        _record(
            "unmatched receipt %s", kv(smsc="a", receipt_id="x\n\u2028y", stat="DELIVRD"), endpoint="hooks"
        )
    )
    assert "\n" not in line and line.isascii()
    assert json.loads(line) == {
        "time": "2026-12-06T14:03:22.123Z",
        "level": "WARNING",
        "logger": "smppgw.test",
        "message": "unmatched receipt",
        "smsc": "a",
        "receipt_id": "x\n\u2028y",
        "stat": "DELIVRD",
        "endpoint": "hooks",
    }


def test_json_fields_never_replace_the_core_ones_and_long_text_is_cut() -> None:
    line = JsonFormatter().format(_record("m %s", kv(level="forged", message="forged", text="t" * 300, n=3)))
    out = json.loads(line)
    assert (out["level"], out["message"], out["n"]) == ("WARNING", "m", 3)
    assert out["text"] == "t" * DEFAULT_LIMIT + "…[300 chars]"


def test_json_carries_a_traceback_in_one_line() -> None:
    line = JsonFormatter().format(_record("failed %s", "x", exc=True))
    out = json.loads(line)
    assert out["message"] == "failed x" and "ValueError: boom" in out["exc"] and "\n" not in line


def test_text_escapes_what_any_logger_wrote_unsafely() -> None:
    text = TextFormatter("%(levelname)s %(name)s: %(message)s").format(_record("path %s", "/v1\nFORGED\x1b"))
    assert text == "WARNING smppgw.test: path /v1\\nFORGED\\x1b"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_configure_logging_keeps_the_level_when_only_the_format_is_chosen() -> None:
    configure_logging(logging.DEBUG)
    configure_logging(log_format="json")
    root = logging.getLogger()
    assert root.level == logging.DEBUG
    [handler] = root.handlers
    assert isinstance(handler.formatter, JsonFormatter)


# -- the tools -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "command"),
    [
        ("smppgw.cli", ["serve"]),
        ("smppgw.cli", ["send"]),
        ("simulator.cli", []),
        ("loadtest.cli", []),
    ],
)
def test_every_tool_takes_log_format(module: str, command: list[str]) -> None:
    main = __import__(module, fromlist=["main"]).main
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "--log-format [text|json]" in result.output
    bad = CliRunner().invoke(main, [*command, "--log-format", "xml"])
    assert bad.exit_code == 2


def test_smppsim_logs_json_lines() -> None:
    with subprocess.Popen(
        [BIN / "smppsim", "--port", "0", "-v", "--log-format", "json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stderr is not None
            first = json.loads(proc.stderr.readline())
            proc.send_signal(signal.SIGTERM)
            rest = [json.loads(line) for line in proc.stderr.read().splitlines()]
            assert proc.wait(timeout=30) == 0
        finally:
            proc.kill()
    assert (first["logger"], first["message"], first["host"], first["tls"]) == (
        "simulator",
        "smppsim listening",
        "127.0.0.1",
        False,
    )
    assert isinstance(first["port"], int) and first["port"] > 0
    assert {line["message"] for line in rest} == {"SIGTERM: stopping"}
