"""smppgw.support.config: one style of config checks, every error one line naming its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smppgw.support.config import (
    ConfigError,
    boolean,
    choice,
    each,
    host_port,
    integer,
    number,
    positive,
    read_toml,
    require,
    string,
    table,
    unknown_keys,
)


def _error(check: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        check(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


# -- reading files ---------------------------------------------------------------------------


def test_read_toml_parses_a_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text("name = 'café'\n[smsc]\nport = 2775\n", encoding="utf-8")
    assert read_toml(path) == {"name": "café", "smsc": {"port": 2775}}


def test_a_utf16_file_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "windows.toml"
    path.write_text("port = 2775\n", encoding="utf-16")  # with a BOM, as Notepad writes it
    message = _error(read_toml, path)
    assert message.startswith(f"config {path}: not UTF-8 text")
    assert "0xff" in message  # the first byte of the BOM


@pytest.mark.parametrize(
    ("encoding", "named"),
    [
        ("utf-16", "UTF-16, little-endian (it starts with 0xff 0xfe)"),
        ("utf-16-be", "byte 0 is 0x00: UTF-16 or UTF-32 without a byte-order mark?"),
        ("utf-16-le", "byte 1 is 0x00: UTF-16 or UTF-32 without a byte-order mark?"),
        ("utf-32", "UTF-32, little-endian (it starts with 0xff 0xfe 0x00 0x00)"),
        ("latin-1", "byte 11 is 0xe9"),
    ],
)
def test_a_file_in_another_encoding_is_named_in_one_line(tmp_path: Path, encoding: str, named: str) -> None:
    path = tmp_path / "other.toml"
    text = "port = 2775\n" if encoding != "latin-1" else "name = 'caf\u00e9'\n"
    path.write_text(text, encoding=encoding)
    message = _error(read_toml, path)
    assert message.startswith(f"config {path}: not UTF-8 text")
    assert named in message and message.endswith("save it as UTF-8")


def test_a_utf8_byte_order_mark_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_text("port = 2775\n", encoding="utf-8-sig")  # Notepad's "UTF-8 with BOM"
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf"
    assert read_toml(path) == {"port": 2775}


def test_missing_file_and_bad_toml_name_the_file(tmp_path: Path) -> None:
    assert _error(read_toml, tmp_path / "nope.toml", "scenario") == (
        f"scenario {tmp_path / 'nope.toml'}: No such file or directory"
    )
    broken = tmp_path / "broken.toml"
    broken.write_text("[smsc\nport = 1\n")
    assert _error(read_toml, broken).startswith(f"config {broken}: ")
    assert _error(read_toml, tmp_path).startswith(f"config {tmp_path}: ")  # a directory


# -- tables and keys -------------------------------------------------------------------------


def test_unknown_key_is_named_by_its_full_path_with_the_known_keys() -> None:
    assert _error(unknown_keys, {"port": 1, "colour": 2}, {"port", "host"}, "smsc[0]") == (
        "smsc[0].colour: unknown key (known: host, port)"
    )
    assert _error(unknown_keys, {"bogus": 1}, {"smsc"}, "") == "bogus: unknown key (known: smsc)"
    unknown_keys({"port": 1}, {"port", "host"}, "smsc[0]")  # no error


def test_unknown_key_among_many_suggests_the_closest() -> None:
    known = {f"key_{i}" for i in range(20)} | {"tps"}
    assert _error(unknown_keys, {"tpss": 1}, known, "behaviour") == (
        "behaviour.tpss: unknown key (did you mean tps?)"
    )
    assert _error(unknown_keys, {"zzzzzz": 1}, known, "behaviour") == "behaviour.zzzzzz: unknown key"


def test_require_table_array_each() -> None:
    assert _error(require, {"host": "h"}, ("host", "port"), "smsc[1]") == "smsc[1].port: missing"
    assert _error(table, [1], "retry") == "retry: expected a table, got [1]"
    assert _error(each, "44", "route[0].prefixes", string) == "route[0].prefixes: expected a list, got '44'"
    assert each(["a", "b"], "tags", string) == ["a", "b"]
    assert _error(each, ["a", 2], "tags", string) == "tags[1]: expected a string, got 2"


# -- scalars ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "lo", "hi", "message"),
    [
        (70000, 1, 65535, "port: an integer in 1..65535, got 70000"),
        (0, 1, 65535, "port: an integer in 1..65535, got 0"),
        ("2775", 1, 65535, "port: expected an integer in 1..65535, got '2775'"),
        (True, 1, 65535, "port: expected an integer in 1..65535, got True"),
        (2.5, None, None, "port: expected an integer, got 2.5"),
        (-1, 0, None, "port: an integer >= 0, got -1"),
        (9, None, 8, "port: an integer <= 8, got 9"),
    ],
)
def test_integer_out_of_range_or_of_the_wrong_type(value: Any, lo: Any, hi: Any, message: str) -> None:
    assert _error(integer, value, "port", lo, hi) == message


def test_integer_in_range() -> None:
    assert integer(1, "port", 1, 65535) == 1
    assert integer(65535, "port", 1, 65535) == 65535


@pytest.mark.parametrize(
    ("value", "bounds", "message"),
    [
        (0, {"gt": 0}, "tps: must be a number > 0, got 0"),
        ("fast", {"gt": 0}, "tps: expected a number > 0, got 'fast'"),
        (float("inf"), {"gt": 0}, "tps: expected a number > 0, got inf"),
        (float("nan"), {}, "tps: expected a number, got nan"),
        (False, {}, "tps: expected a number, got False"),
        (1.5, {"ge": 0, "le": 1}, "tps: must be a number in 0..1, got 1.5"),
        (1, {"ge": 0, "lt": 1}, "tps: must be a number >= 0 and < 1, got 1"),
    ],
)
def test_number_bounds(value: Any, bounds: dict[str, float], message: str) -> None:
    assert _error(number, value, "tps", **bounds) == message


def test_number_and_positive_return_floats() -> None:
    assert number(0, "x", ge=0) == 0.0 and isinstance(number(0, "x", ge=0), float)
    assert positive(3, "x") == 3.0
    assert _error(positive, -1, "x") == "x: must be a number > 0, got -1"


def test_strings_choices_and_booleans() -> None:
    assert string("ab", "id", max_len=2) == "ab"
    assert _error(string, "abc", "id", max_len=2) == "id: at most 2 characters, got 3"
    assert _error(string, "", "id", min_len=1, max_len=15) == "id: 1..15 characters, got 0"
    assert _error(string, 5, "id") == "id: expected a string, got 5"
    assert choice("tx", "bind", ("trx", "tx")) == "tx"
    assert _error(choice, "rx", "bind", ("trx", "tx")) == "bind: one of trx, tx, got 'rx'"
    assert boolean(False, "tls") is False
    assert _error(boolean, "yes", "tls") == "tls: expected true or false, got 'yes'"


def test_host_port() -> None:
    assert host_port("127.0.0.1:8080", "api.listen") == ("127.0.0.1", 8080)
    assert host_port("[::1]:0", "api.listen") == ("[::1]", 0)
    assert _error(host_port, "nowhere", "api.listen") == "api.listen: expected HOST:PORT, got 'nowhere'"
    assert _error(host_port, ":80", "api.listen") == "api.listen: expected HOST:PORT, got ':80'"
    assert _error(host_port, "h:70000", "api.listen") == "api.listen: a port in 0..65535, got 'h:70000'"
    assert _error(host_port, "h:0", "--target", allow_zero=False) == (
        "--target: a port in 1..65535, got 'h:0'"
    )
