"""Packaging: every package directory ships (setuptools' find_packages skips a directory
without ``__init__.py``, so ``pip install .``, not editable, would leave it out while every
test still passed), the shipped code needs only the runtime dependencies, and ``pip
install .`` into a clean virtualenv gives four working tools."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from functools import partial
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parent.parent


def test_every_directory_of_python_modules_is_a_package_that_ships() -> None:
    shipped = set(find_packages(str(ROOT), include=["smppgw*", "simulator*", "loadtest*", "conformance*"]))
    for top in ("smppgw", "simulator", "loadtest", "conformance"):
        for module in (ROOT / top).rglob("*.py"):
            package = ".".join(module.parent.relative_to(ROOT).parts)
            assert package in shipped, (
                f"{package} has modules but no __init__.py: pip install . leaves it out"
            )


# -- pip install . into a clean virtualenv ---------------------------------------------------

TOOLS = ("smppgw", "smppsim", "smpp-loadtest", "smpp-conformance")
PACKAGES = ("smppgw", "simulator", "loadtest", "conformance")

# Run by the clean virtualenv's Python, outside the checkout: every module of the four
# packages imports with the runtime dependencies alone, and each package is typed.
_IMPORT_ALL = """
import importlib, pathlib, pkgutil, sys
for top in sys.argv[1:]:
    package = importlib.import_module(top)
    assert "site-packages" in package.__file__, package.__file__
    assert (pathlib.Path(package.__file__).parent / "py.typed").exists(), top + ": no py.typed"
    for info in pkgutil.walk_packages(package.__path__, top + "."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
print("imported")
"""


def _runtime_dependencies() -> set[str]:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0] for dep in project["dependencies"]}
    return {n.lower().replace("_", "-") for n in names}


def test_the_modules_import_only_declared_runtime_dependencies() -> None:
    """Fast, and in every run: each third-party module the shipped code imports belongs to
    a distribution in [project] dependencies (not only to the dev extras)."""
    import ast
    import importlib.metadata

    providers = importlib.metadata.packages_distributions()
    declared = _runtime_dependencies()
    stdlib = set(sys.stdlib_module_names)
    missing: set[str] = set()
    for top in PACKAGES:
        for path in (ROOT / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    first = name.split(".")[0]
                    if first in stdlib or first in PACKAGES:
                        continue
                    dists = {d.lower().replace("_", "-") for d in providers.get(first, [first])}
                    if not dists & declared:
                        missing.add(f"{path.relative_to(ROOT)}: {first} ({', '.join(sorted(dists))})")
    assert not missing, "imports not in [project] dependencies:\n" + "\n".join(sorted(missing))


def test_pip_install_into_a_clean_virtualenv_works_without_the_dev_extras(tmp_path: Path) -> None:
    """The wheel of this checkout installed with its declared dependencies only (from the
    package index, or pip's cache) into a new virtualenv: every module imports, every tool
    answers --version from the package metadata, and the license and py.typed ship."""
    import importlib.metadata

    wheels, venv = tmp_path / "wheels", tmp_path / "venv"
    run = partial(subprocess.run, check=True, capture_output=True, text=True)
    # The build backend is the dev virtualenv's setuptools (pyproject's [build-system]
    # asks setuptools>=77; the dev extras pin the same floor), not a fresh isolated copy of it.
    built = run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
        ],
        timeout=300,
    )
    # No setuptools banner (a deprecated license table printed one at every install).
    assert "BuildBackendWarning" not in built.stdout + built.stderr, built.stderr
    [wheel] = wheels.glob("smppgw-*.whl")
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], timeout=120)
    python = venv / "bin" / "python"
    # --no-compile: no .pyc for every module of every dependency (the slowest part of the
    # install); the imports below still run every module of the four packages.
    run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-compile", str(wheel)],
        timeout=600,
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = run([str(python), "-c", _IMPORT_ALL, *PACKAGES], cwd=tmp_path, env=clean, timeout=300)
    assert done.stdout.strip() == "imported"
    version = importlib.metadata.version("smppgw")
    for tool in TOOLS:
        out = run([str(venv / "bin" / tool), "--version"], cwd=tmp_path, env=clean, timeout=60).stdout
        assert out == f"{tool} {version}\n"
    meta = run(
        [str(python), "-c", "import importlib.metadata as m; d = m.distribution('smppgw'); "
         "print(d.metadata['License-Expression']); print(*[f.name for f in d.files if 'LICENSE' in f.name])"],
        cwd=tmp_path, env=clean, timeout=60,
    ).stdout.split()  # fmt: skip
    assert meta == ["MIT", "LICENSE"]


def test_the_license_file_is_mit_for_smppgw_contributors() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "smppgw contributors" in text
