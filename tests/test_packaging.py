"""Packaging: every package of the source tree is in the wheel's package list."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_is_listed() -> None:
    """A subpackage missing from [tool.setuptools] packages works editable but not installed."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = {v: k for k, v in config["package-dir"].items()}  # folder -> package name
    found = set()
    for init in [
        *ROOT.glob("secretcache/**/__init__.py"),
        *ROOT.glob("integrations/**/__init__.py"),
    ]:
        folder = init.parent.relative_to(ROOT).as_posix()
        top, _, rest = folder.partition("/")
        package = mapping.get(top, top)
        found.add(f"{package}.{rest.replace('/', '.')}" if rest else package)
    assert set(config["packages"]) == found
