"""The import rules of ARCHITECTURE.md, enforced by an AST walk over every module."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parent.parent

FORBIDDEN: Final[dict[str, set[str]]] = {
    "smppgw.core": {
        "trio",
        "time",
        "random",
        "socket",
        "asyncio",
        "prometheus_client",
        "phonenumbers",
        "smppgw.net",
        "smppgw.policy",
        "smppgw.store",
        "smppgw.gateway",
        "smppgw.api",
        "smppgw.app",
        "simulator",
        "loadtest",
        "conformance",
    },
    "smppgw.policy": {
        "trio",
        "time",
        "socket",
        "asyncio",
        "prometheus_client",
        "phonenumbers",  # numbers are parsed at the edges (support/phone.py); policy stays pure
        "smppgw.net",
        "smppgw.store",
        "smppgw.gateway",
        "smppgw.api",
        "simulator",
        "loadtest",
        "conformance",
    },
    # 2-way rules are pure like policy: keywords, consent, conversations, quiet hours.
    "smppgw.twoway": {
        "trio",
        "time",
        "socket",
        "asyncio",
        "prometheus_client",
        "smppgw.net",
        "smppgw.store",
        "smppgw.gateway",
        "smppgw.api",
        "smppgw.app",
        "simulator",
        "loadtest",
        "conformance",
    },
    "smppgw.net": {"smppgw.gateway", "smppgw.api", "smppgw.store", "simulator", "loadtest", "conformance"},
    "smppgw.gateway": {"smppgw.api", "smppgw.metrics", "simulator", "loadtest", "conformance"},
    # What several gateways share through Redis sits below the gateway that uses it.
    "smppgw.cluster": {"smppgw.gateway", "smppgw.api", "smppgw.app", "simulator", "loadtest", "conformance"},
    # The shared helpers sit below every layer that uses them (ARCHITECTURE.md).
    "smppgw.support": {
        "smppgw.net",
        "smppgw.policy",
        "smppgw.store",
        "smppgw.gateway",
        "smppgw.api",
        "smppgw.app",
        "simulator",
        "loadtest",
        "conformance",
    },
    "simulator": {"smppgw.gateway", "smppgw.api", "smppgw.app", "smppgw.store", "loadtest", "conformance"},
    "loadtest": {"smppgw.gateway", "smppgw.api", "smppgw.app", "smppgw.store", "conformance"},
    "conformance": {"smppgw.gateway", "smppgw.api", "smppgw.app", "smppgw.store", "simulator", "loadtest"},
    # The --trace options and `trace show`: every tool imports them, so they sit below the tools.
    "smppgw.tracecmd": {
        "smppgw.gateway", "smppgw.api", "smppgw.app", "smppgw.store", "simulator", "loadtest", "conformance",
    },
}  # fmt: skip
# Only the composition root, the CLI and the demo's stage may start the bundled simulator
# (ARCHITECTURE.md): the demo is a tool like the CLI that runs the product with its carrier.
SMPPGW_MAY_IMPORT_TOOLS: Final = {"smppgw/app.py", "smppgw/cli.py", "smppgw/demo/stage.py"}


def package_files(package: str) -> list[Path]:
    base = ROOT.joinpath(*package.split("."))
    if base.with_suffix(".py").is_file():  # a module (smppgw.tracecmd)
        return [base.with_suffix(".py")]
    return sorted(base.rglob("*.py")) if base.is_dir() else []


def iter_imports(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            for alias in node.names:
                yield f"{node.module}.{alias.name}"


def matches(imported: str, forbidden: str) -> bool:
    return imported == forbidden or imported.startswith(forbidden + ".")


# Rules for packages not written yet (gateway, api, store) start to apply the day they exist.
PRESENT: Final = sorted(p for p in FORBIDDEN if package_files(p))


def test_the_layers_that_exist_are_checked() -> None:
    assert {"smppgw.core", "smppgw.net", "simulator"} <= set(PRESENT)


@pytest.mark.parametrize("package", PRESENT)
def test_package_respects_layering(package: str) -> None:
    files = package_files(package)
    for path in files:
        for imported in iter_imports(path):
            bad = {f for f in FORBIDDEN[package] if matches(imported, f)}
            assert not bad, f"{path.relative_to(ROOT)} imports {imported}, forbidden for {package}"


def test_smppgw_never_imports_the_tools_outside_the_composition_root() -> None:
    for path in package_files("smppgw"):
        rel = path.relative_to(ROOT).as_posix()
        if rel in SMPPGW_MAY_IMPORT_TOOLS:
            continue
        for imported in iter_imports(path):
            assert not any(matches(imported, t) for t in ("simulator", "loadtest", "conformance")), (
                f"{rel} imports {imported}"
            )


def test_only_the_cli_runs_the_demo() -> None:
    """The demo sits above the product (it may start the simulator): nothing else of
    smppgw imports it, so the simulator cannot reach the gateway through it."""
    for path in package_files("smppgw"):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "smppgw/cli.py" or rel.startswith("smppgw/demo/"):
            continue
        assert not any(matches(i, "smppgw.demo") for i in iter_imports(path)), f"{rel} imports the demo"


def test_core_uses_only_stdlib_and_attrs() -> None:
    import sys

    allowed = set(sys.stdlib_module_names) | {"attrs", "smppgw"}
    for path in package_files("smppgw.core"):
        for imported in iter_imports(path):
            top = imported.split(".")[0]
            assert top in allowed, f"{path.relative_to(ROOT)} imports {imported}"


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The walk must catch both import forms, or every test above passes vacuously."""
    bad = tmp_path / "bad.py"
    bad.write_text("import trio\nfrom smppgw.gateway import x\nfrom . import relative\n")
    found = list(iter_imports(bad))
    assert "trio" in found
    assert "smppgw.gateway" in found
    assert any(matches(i, "smppgw.gateway") for i in found)


# -- rules added with the rooms of ARCHITECTURE.md -------------------------------------------


def test_api_reaches_the_store_through_its_protocols_only() -> None:
    """Another backend implements store.base's protocols; the API must not know which one runs."""
    for path in package_files("smppgw.api"):
        for imported in iter_imports(path):
            if matches(imported, "smppgw.store"):
                assert matches(imported, "smppgw.store.base"), f"{path.relative_to(ROOT)} imports {imported}"


def test_net_holds_only_socket_code() -> None:
    """net/ is the socket adapter; the shared drawers it used to hold (metrics collector,
    GC tuning, exception groups, config checks) live in smppgw.support."""
    for path in package_files("smppgw.net"):
        imports = set(iter_imports(path))
        for banned in ("prometheus_client", "gc", "click", "tomllib"):
            assert not any(matches(i, banned) for i in imports), f"{path.relative_to(ROOT)} imports {banned}"


def construction_tricks(path: Path) -> list[int]:
    """Lines that build an object behind its class's back: ``object.__new__`` or a
    ``__dict__`` written with ``object.__setattr__`` (or a saved alias of either)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "object"
            and node.attr in ("__new__", "__setattr__")
        ):
            lines.append(node.lineno)
        elif isinstance(node, ast.Constant) and node.value == "__dict__":
            lines.append(node.lineno)
    return lines


def test_the_construction_trick_stays_in_core() -> None:
    """STYLE: the construction trick lives in one helper, smppgw/core/_construct.py; the rest
    of core calls it, and nothing outside core uses it at all."""
    for package in ("smppgw", "simulator", "loadtest", "conformance"):
        for path in package_files(package):
            rel = path.relative_to(ROOT).as_posix()
            if rel == "smppgw/core/_construct.py":
                continue
            assert not construction_tricks(path), f"{rel}:{construction_tricks(path)} builds objects by hand"


def test_the_trick_detector_sees_the_trick(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("o = object.__new__(C)\nobject.__setattr__(o, '__dict__', {})\n_new = object.__new__\n")
    assert sorted(construction_tricks(bad)) == [1, 2, 2, 3]


def test_no_module_is_a_god_object() -> None:
    """STYLE rule 8: modules stay small; 450 lines is the ceiling outside tests/ and bench/."""
    for package in ("smppgw", "simulator", "loadtest", "conformance"):
        for path in package_files(package):
            lines = len(path.read_text().splitlines())
            assert lines <= 450, f"{path.relative_to(ROOT)} has {lines} lines"
