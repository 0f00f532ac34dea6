"""docs/cli.md: its ```sh blocks run against moto's server, and its exit-code table is true."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from secretcache._cli import EXIT_CODES

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
SCRIPT = Path(sys.executable).with_name("secretcache")
PASSWORD = "doc-pw-'\"$x-✓"
TLS_KEY = bytes(range(256)) * 4
# What `exec "$@"` in a block runs: shows what an entrypoint exported.
EXEC_ARGS = ("sh", "-c", 'printf "exec:%s" "${DB_PASSWORD-}"')


def sh_blocks() -> list[str]:
    """The ```sh fenced blocks of docs/cli.md, in order."""
    text = DOC.read_text(encoding="utf-8")
    return re.findall(r"^```sh\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


@pytest.fixture(scope="module")
def doc_secrets(make_client: Callable[..., Any]) -> Iterator[dict[str, str]]:
    """The secrets the doc names (one rotation done); deleted afterwards. Their versions."""
    client = make_client()
    names = ("prod/orders-db", "prod/tls-key")
    first = client.create_secret(
        Name=names[0], SecretString=json.dumps({"username": "app", "password": "old-doc-pw"})
    )["VersionId"]
    second = client.put_secret_value(
        SecretId=names[0],
        SecretString=json.dumps({"username": "app", "password": PASSWORD}),
        VersionStages=["AWSCURRENT"],
    )["VersionId"]
    client.create_secret(Name=names[1], SecretBinary=TLS_KEY)
    yield {"AWSPREVIOUS": first, "AWSCURRENT": second}
    for name in names:
        client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def run_block(block: str, endpoint: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run one block with sh, the installed `secretcache` on PATH, AWS pointed at moto."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        PATH=f"{SCRIPT.parent}{os.pathsep}{env.get('PATH', '')}",
        AWS_ENDPOINT_URL_SECRETS_MANAGER=endpoint,
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        LC_ALL="C.UTF-8",
    )
    return subprocess.run(
        ["sh", "-c", block, "sh", *EXEC_ARGS],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def check_get(result: subprocess.CompletedProcess[str], cwd: Path, v: dict[str, str]) -> None:
    """The first `get` prints the current password."""
    assert result.stdout == PASSWORD + "\n"


def check_previous(result: subprocess.CompletedProcess[str], cwd: Path, v: dict[str, str]) -> None:
    """AWSPREVIOUS's username, and the binary secret written byte-exact."""
    assert result.stdout == "app\n"
    assert (cwd / "tls-key.der").read_bytes() == TLS_KEY


def check_entrypoint(
    result: subprocess.CompletedProcess[str], cwd: Path, v: dict[str, str]
) -> None:
    """The entrypoint exports the password and execs the command it was given."""
    assert result.stdout == f"exec:{PASSWORD}"


def check_exit_codes(
    result: subprocess.CompletedProcess[str], cwd: Path, v: dict[str, str]
) -> None:
    """The exit-code example takes the not-found branch, told by one stderr line."""
    assert result.stdout == "no prod/feature-flags: using the defaults\n"
    assert result.stderr.startswith("secretcache: error: secret 'prod/feature-flags' not found")


def check_describe(result: subprocess.CompletedProcess[str], cwd: Path, v: dict[str, str]) -> None:
    """describe lists both versions with their stages, and no value."""
    assert f"{v['AWSCURRENT']}  AWSCURRENT" in result.stdout
    assert f"{v['AWSPREVIOUS']}  AWSPREVIOUS" in result.stdout
    assert PASSWORD not in result.stdout


CHECKS = [check_get, check_previous, check_entrypoint, check_exit_codes, check_describe]


def test_every_sh_block_has_a_check() -> None:
    """A block added to the doc must get a check here."""
    assert len(sh_blocks()) == len(CHECKS)


@pytest.mark.parametrize(
    ("index", "check"), list(enumerate(CHECKS)), ids=lambda x: getattr(x, "__name__", str(x))
)
def test_sh_block_runs(
    index: int,
    check: Callable[..., None],
    moto_endpoint: str,
    doc_secrets: dict[str, str],
    tmp_path: Path,
) -> None:
    """Each ```sh block of docs/cli.md exits 0 and does what the doc says."""
    if not SCRIPT.exists():
        pytest.skip("package not installed with its console script")
    result = run_block(sh_blocks()[index], moto_endpoint, tmp_path)
    assert result.returncode == 0, result.stderr
    check(result, tmp_path, doc_secrets)


def test_exit_code_table_matches_the_code() -> None:
    """The doc's exit-code table lists exactly the CLI's exit codes."""
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", DOC.read_text(encoding="utf-8"), re.MULTILINE)
    assert {int(code) for code, _ in rows} == set(EXIT_CODES)
