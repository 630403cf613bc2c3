"""Every package directory ships: setuptools' find_packages (pyproject's
``[tool.setuptools.packages.find]``) skips a directory without ``__init__.py``, so
``pip install .`` (not editable) would leave it out while every test still passed."""

from __future__ import annotations

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
