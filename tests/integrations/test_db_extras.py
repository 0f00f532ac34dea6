"""Each DB integration names the extra to install when its library is missing."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("integration", "library", "extra"),
    [
        ("psycopg", "psycopg", "secretcache[psycopg]"),
        ("pymysql", "pymysql", "secretcache[pymysql]"),
        ("sqlalchemy", "sqlalchemy", "secretcache[sqlalchemy]"),
    ],
)
def test_missing_library_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, integration: str, library: str, extra: str
) -> None:
    """Importing the integration without its library is an ImportError with the pip line."""
    monkeypatch.setitem(sys.modules, library, None)  # import of it now fails
    monkeypatch.delitem(sys.modules, f"secretcache.integrations.{integration}", raising=False)
    with pytest.raises(ImportError, match=f"pip install '{re.escape(extra)}'"):
        importlib.import_module(f"secretcache.integrations.{integration}")


def test_missing_psycopg_pool_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """create_pool() without psycopg_pool: an ImportError naming the psycopg extra."""
    pytest.importorskip("psycopg")  # the integration itself needs psycopg to import
    sc_psycopg = importlib.import_module("secretcache.integrations.psycopg")
    monkeypatch.setitem(sys.modules, "psycopg_pool", None)
    with pytest.raises(ImportError, match=r"pip install 'secretcache\[psycopg\]'"):
        sc_psycopg.create_pool("prod/db")


def test_core_imports_no_driver() -> None:
    """Importing secretcache (and the shared DB helpers) imports no database library."""
    code = (
        "import sys, secretcache, secretcache.integrations._credentials, "
        "secretcache.integrations._rejected, secretcache.integrations._connecting; "
        "print(sorted(m for m in ('psycopg', 'pymysql', 'sqlalchemy', 'psycopg_pool') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
