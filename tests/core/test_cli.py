"""The ``secretcache`` command line, run as a real subprocess against moto's server."""

from __future__ import annotations

import ast
import io
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from secretcache import (
    SecretAccessDeniedError,
    SecretCacheError,
    SecretFormatError,
    SecretNotFoundError,
    SecretUnavailableError,
)
from secretcache._cli import CliError, exit_code_for, find_checkout, run_bench
from tests.servers import free_port

pytestmark = pytest.mark.integration

REGION = "us-east-1"
ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ("get", "describe", "watch", "demo", "bench")


def cli_env(endpoint: str | None = None, **overrides: str | None) -> dict[str, str]:
    """The environment of a CLI run: moto's credentials and region, nothing from ~/.aws."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SECRETCACHE_"))}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    if endpoint is not None:
        env["AWS_ENDPOINT_URL"] = endpoint
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    """``python -m secretcache ARGS`` to completion, output captured as bytes."""
    return subprocess.run(
        [sys.executable, "-m", "secretcache", *args],
        env=env if env is not None else cli_env(),
        capture_output=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )


def one_line_error(result: subprocess.CompletedProcess[bytes]) -> str:
    """The stderr of a failed run, checked to be a single 'secretcache: error:' line."""
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    assert stderr.count("\n") == 1, stderr
    assert stderr.startswith("secretcache: error: "), stderr
    return stderr


@pytest.fixture
def cli(moto_endpoint: str) -> Callable[..., subprocess.CompletedProcess[bytes]]:
    """Run the CLI against the session's moto server (via --endpoint-url)."""

    def invoke(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        return run(*args, "--endpoint-url", moto_endpoint, **kwargs)

    return invoke


@pytest.fixture
def rotated(sm_client: Any, secret_name: str) -> dict[str, str]:
    """A secret with AWSCURRENT ('old-value') and AWSPENDING ('new-value'): their version ids."""
    current = sm_client.create_secret(Name=secret_name, SecretString="old-value")["VersionId"]
    pending = sm_client.put_secret_value(
        SecretId=secret_name, SecretString="new-value", VersionStages=["AWSPENDING"]
    )["VersionId"]
    return {"AWSCURRENT": current, "AWSPENDING": pending}


# -- get -------------------------------------------------------------------------------------


def test_get_prints_current_value_with_newline(
    cli: Any, rotated: dict[str, str], secret_name: str
) -> None:
    """get prints AWSCURRENT's text and a newline, and nothing on stderr."""
    result = cli("get", secret_name)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"old-value\n", b"")


def test_get_by_stage(cli: Any, rotated: dict[str, str], secret_name: str) -> None:
    """--stage reads that stage's version."""
    result = cli("get", secret_name, "--stage", "AWSPENDING")
    assert (result.returncode, result.stdout) == (0, b"new-value\n")


def test_get_by_version_id(cli: Any, rotated: dict[str, str], secret_name: str) -> None:
    """--version-id reads that exact version."""
    result = cli("get", secret_name, "--version-id", rotated["AWSPENDING"])
    assert (result.returncode, result.stdout) == (0, b"new-value\n")


def test_get_prints_utf8_exactly_whatever_the_locale(
    cli: Any, sm_client: Any, secret_name: str
) -> None:
    """-n prints the text byte-exact, as UTF-8 even under the C locale."""
    value = "pässwörd ✓\tend"
    sm_client.create_secret(Name=secret_name, SecretString=value)
    env = cli_env(LC_ALL="C", LANG="C", PYTHONIOENCODING="ascii", PYTHONUTF8="0")
    result = cli("get", secret_name, "-n", env=env)
    assert (result.returncode, result.stdout) == (0, value.encode())


def test_get_binary_writes_raw_bytes(cli: Any, sm_client: Any, secret_name: str) -> None:
    """A binary secret comes out as its raw bytes, without a newline."""
    value = bytes(range(256))
    sm_client.create_secret(Name=secret_name, SecretBinary=value)
    result = cli("get", secret_name)
    assert (result.returncode, result.stdout) == (0, value)


def test_get_json_key(cli: Any, sm_client: Any, secret_name: str) -> None:
    """--json-key prints a string field as is and any other field as JSON."""
    secret = {"username": "app", "password": "p@ss 'w\"rd", "port": 5432, "tags": ["a"]}
    sm_client.create_secret(Name=secret_name, SecretString=json.dumps(secret))
    outputs = [
        cli("get", secret_name, "--json-key", key).stdout for key in ("password", "port", "tags")
    ]
    assert outputs == [b"p@ss 'w\"rd\n", b"5432\n", b'["a"]\n']


def test_get_missing_json_key_is_a_format_error(cli: Any, sm_client: Any, secret_name: str) -> None:
    """A missing --json-key exits 6 with one line naming the key, not quoting the value."""
    sm_client.create_secret(Name=secret_name, SecretString='{"password": "hunter2-xyz"}')
    result = cli("get", secret_name, "--json-key", "passwd")
    assert (result.returncode, result.stdout) == (6, b"")
    stderr = one_line_error(result)
    assert "'passwd'" in stderr and "hunter2-xyz" not in stderr


def test_get_text_as_json_key_of_non_json_is_a_format_error(
    cli: Any, rotated: dict[str, str], secret_name: str
) -> None:
    """--json-key on a secret that is not JSON exits 6 without quoting it."""
    result = cli("get", secret_name, "--json-key", "password")
    assert result.returncode == 6
    assert "old-value" not in one_line_error(result)


@pytest.mark.parametrize("command", ["get", "describe", "watch"])
def test_missing_secret_exits_3_with_one_line(cli: Any, secret_name: str, command: str) -> None:
    """A secret that does not exist: exit 3, one line on stderr, no traceback."""
    result = cli(command, secret_name)
    assert (result.returncode, result.stdout) == (3, b"")
    assert secret_name in one_line_error(result)


def test_missing_stage_exits_3(cli: Any, rotated: dict[str, str], secret_name: str) -> None:
    """A stage no version carries is 'not found' too."""
    result = cli("get", secret_name, "--stage", "AWSPREVIOUS")
    assert result.returncode == 3
    one_line_error(result)


def test_unreachable_endpoint_exits_5(secret_name: str) -> None:
    """Nothing listening at the endpoint: exit 5 (unavailable), one line."""
    result = run("get", secret_name, "--endpoint-url", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 5
    assert "unreachable" in one_line_error(result)


def test_no_credentials_exits_4(moto_endpoint: str, secret_name: str) -> None:
    """No AWS credentials anywhere: exit 4 (access denied), one line saying so."""
    env = cli_env(AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None)
    result = run("get", secret_name, "--endpoint-url", moto_endpoint, env=env)
    assert result.returncode == 4
    assert "no AWS credentials" in one_line_error(result)


def test_no_region_is_a_usage_error(moto_endpoint: str, secret_name: str) -> None:
    """No region from any source: exit 2 and a line telling how to give one."""
    env = cli_env(AWS_DEFAULT_REGION=None, AWS_REGION=None)
    result = run("get", secret_name, "--endpoint-url", moto_endpoint, env=env)
    assert result.returncode == 2
    assert "--region" in one_line_error(result)


def test_invalid_endpoint_is_a_usage_error(secret_name: str) -> None:
    """A malformed --endpoint-url: exit 2, one line."""
    result = run("get", secret_name, "--endpoint-url", "not a url")
    assert result.returncode == 2
    assert "--endpoint-url" in one_line_error(result)


def test_stage_and_version_id_are_exclusive(secret_name: str) -> None:
    """--stage with --version-id is rejected by the parser (exit 2)."""
    result = run("get", secret_name, "--stage", "AWSCURRENT", "--version-id", "v")
    assert result.returncode == 2
    assert b"not allowed with" in result.stderr


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (SecretNotFoundError("x"), 3),
        (SecretAccessDeniedError("x"), 4),
        (SecretUnavailableError("x"), 5),
        (SecretFormatError("x"), 6),
        (SecretCacheError("x"), 1),
    ],
)
def test_exit_code_of_each_error(error: SecretCacheError, code: int) -> None:
    """Each branch of the error tree has its own exit code (the rest exit 1)."""
    assert exit_code_for(error) == code


# -- describe --------------------------------------------------------------------------------


def test_describe_lists_versions_and_stages_without_values(
    cli: Any, rotated: dict[str, str], secret_name: str
) -> None:
    """describe names every version with its stages, AWSCURRENT first, and no value."""
    result = cli("describe", secret_name)
    out = result.stdout.decode()
    assert result.returncode == 0
    lines = out.splitlines()
    current = next(i for i, line in enumerate(lines) if rotated["AWSCURRENT"] in line)
    pending = next(i for i, line in enumerate(lines) if rotated["AWSPENDING"] in line)
    assert current < pending
    assert lines[current].split()[-1] == "AWSCURRENT"
    assert lines[pending].split()[-1] == "AWSPENDING"
    assert "old-value" not in out and "new-value" not in out


def test_describe_json(cli: Any, rotated: dict[str, str], secret_name: str) -> None:
    """describe --json maps version ids to their stages."""
    result = cli("describe", secret_name, "--json")
    info = json.loads(result.stdout)
    assert info["name"] == secret_name
    assert info["versions"] == {
        rotated["AWSCURRENT"]: ["AWSCURRENT"],
        rotated["AWSPENDING"]: ["AWSPENDING"],
    }


# -- watch -----------------------------------------------------------------------------------


@pytest.fixture
def spawn() -> Iterator[Callable[..., tuple[subprocess.Popen[str], queue.Queue[str | None]]]]:
    """Start CLI processes whose stdout lines arrive on a queue (None at EOF).

    Leftover processes are killed at the end.
    """
    procs: list[tuple[subprocess.Popen[str], threading.Thread]] = []

    def start(*args: str) -> tuple[subprocess.Popen[str], queue.Queue[str | None]]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "secretcache", *args],
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()
        assert proc.stdout is not None
        stdout = proc.stdout

        def pump() -> None:
            for line in stdout:
                lines.put(line)
            lines.put(None)

        pumping = threading.Thread(target=pump, daemon=True)
        pumping.start()
        procs.append((proc, pumping))
        return proc, lines

    yield start
    for proc, pumping in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        pumping.join(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_watch_reports_a_rotation_made_while_it_runs(
    spawn: Any, moto_endpoint: str, sm_client: Any, rotated: dict[str, str], secret_name: str
) -> None:
    """watch prints the rotation it observes (old -> new version, stages, stats), no value."""
    proc, lines = spawn(
        "watch", secret_name, "--endpoint-url", moto_endpoint,
        "--interval-seconds", "0.2", "--count", "1", "--duration-seconds", "30",
    )  # fmt: skip
    first = lines.get(timeout=30)
    assert first is not None
    assert f"version {rotated['AWSCURRENT']}" in first
    sm_client.update_secret_version_stage(
        SecretId=secret_name,
        VersionStage="AWSCURRENT",
        MoveToVersionId=rotated["AWSPENDING"],
        RemoveFromVersionId=rotated["AWSCURRENT"],
    )
    assert proc.wait(timeout=30) == 0
    output = first
    while (line := lines.get(timeout=10)) is not None:
        output += line
    assert f"rotation: AWSCURRENT {rotated['AWSCURRENT']} -> {rotated['AWSPENDING']}" in output
    assert "rotations=1" in output
    assert "old-value" not in output and "new-value" not in output


def test_watch_without_the_rotations_asked_for_exits_7(
    cli: Any, rotated: dict[str, str], secret_name: str
) -> None:
    """--count not reached within --duration-seconds: exit 7 after a closing line."""
    result = cli(
        "watch", secret_name, "--interval-seconds", "0.1", "--count", "1",
        "--duration-seconds", "0.5",
    )  # fmt: skip
    assert result.returncode == 7
    assert b"0 rotation(s)" in result.stdout


# -- demo ------------------------------------------------------------------------------------


def test_demo_runs_a_rotation_and_exits_0() -> None:
    """The README's first command: exit 0, the rotation hook visible, stderr empty."""
    result = run("demo", timeout=60)
    out = result.stdout.decode()
    assert (result.returncode, result.stderr) == (0, b""), out
    assert "rotation hook: AWSCURRENT" in out
    assert "every reader now reads the new version" in out
    assert '"password"' not in out


def test_demo_never_prints_a_password(secret_name: str) -> None:
    """With known passwords, none of them appears in the demo's output; masks do."""
    pytest.importorskip("moto.server")
    from secretcache._demo import run_demo

    passwords = iter(["first-Pa55word-aaaa", "second-Pa55word-bbbbbb"])
    out = io.StringIO()
    code = run_demo(out=out, secret_name=secret_name, make_password=lambda: next(passwords))
    text = out.getvalue()
    assert code == 0, text
    assert "first-Pa55word" not in text and "second-Pa55word" not in text
    assert "password=**** (19 chars)" in text and "password=**** (22 chars)" in text


def test_demo_without_moto_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without moto's server installed, the demo says which extra to install."""
    from secretcache._demo import run_demo

    monkeypatch.setitem(sys.modules, "moto.server", None)  # makes the import fail
    with pytest.raises(CliError, match=r"secretcache\[demo\]"):
        run_demo(out=io.StringIO())


def postgres_url(login: Any) -> str:
    """The URL of a test login (its password included: never print it)."""
    return (
        f"postgresql://{login.username}:{login.password}@{login.host}:{login.port}/{login.dbname}"
    )


def test_demo_with_database_rotates_a_real_password(pg_server: Any) -> None:
    """--database: zero failed queries across a real ALTER ROLE rotation; login dropped."""
    pytest.importorskip("secretcache.integrations.psycopg")
    admin = pg_server.create_login(createrole=True)
    try:
        result = run("demo", "--database", postgres_url(admin), timeout=90)
    finally:
        pg_server.drop_login(admin.username)
    out = result.stdout.decode()
    assert (result.returncode, result.stderr) == (0, b""), out
    assert "rotation hook: AWSCURRENT" in out
    assert " 0 failed;" in out and "old password  rejected by PostgreSQL" in out
    assert admin.password not in out
    role = out.split("created role ", 1)[1].split()[0]
    assert role.startswith("secretcache_demo_") and not pg_server.role_exists(role)


def test_demo_with_database_needs_createrole(pg_server: Any) -> None:
    """An admin URL without CREATEROLE: exit 1 with one line saying what is missing."""
    pytest.importorskip("secretcache.integrations.psycopg")
    login = pg_server.create_login()
    try:
        result = run("demo", "--database", postgres_url(login))
    finally:
        pg_server.drop_login(login.username)
    assert result.returncode == 1
    assert "CREATEROLE" in one_line_error(result)
    assert login.password not in result.stdout.decode() + result.stderr.decode()


# -- bench -----------------------------------------------------------------------------------


def test_bench_runs_the_harness_main_with_the_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bench runs the checkout's benchmarks.main(argv) in the caller's directory."""
    checkout, elsewhere = tmp_path / "checkout", tmp_path / "elsewhere"
    (checkout / "benchmarks").mkdir(parents=True)
    elsewhere.mkdir()
    (checkout / "pyproject.toml").write_text("")
    (checkout / "benchmarks" / "__init__.py").write_text(
        "def main(argv=None):\n"
        "    open('called.txt', 'w').write(repr((argv, __file__)))\n"
        "    return 5\n"
    )
    assert find_checkout(checkout / "secretcache") == checkout
    monkeypatch.chdir(elsewhere)
    assert run_bench(["--quick", "x"], checkout) == 5
    argv, module = ast.literal_eval((elsewhere / "called.txt").read_text())
    assert (argv, Path(module)) == (["--quick", "x"], checkout / "benchmarks" / "__init__.py")


def test_bench_outside_a_checkout_explains(tmp_path: Path) -> None:
    """Installed without the source tree, bench says what to do instead of failing oddly."""
    assert find_checkout(tmp_path / "site-packages" / "secretcache") is None
    with pytest.raises(CliError, match="source checkout"):
        run_bench([], None)


def test_this_checkout_is_found() -> None:
    """Run from this repository, bench finds its benchmarks/ folder."""
    if not (ROOT / "benchmarks" / "__init__.py").is_file():
        pytest.skip("benchmarks/ has no package yet")
    assert find_checkout() == ROOT


# -- help, version, start-up -----------------------------------------------------------------


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_for_every_command(command: str) -> None:
    """--help works for the program and each command, listing the exit codes."""
    result = run(*([command] if command else []), "--help")
    out = result.stdout.decode()
    assert result.returncode == 0
    assert out.startswith(f"usage: secretcache {command}".rstrip())
    assert "exit codes:" in out and "3    not found" in out


def test_version() -> None:
    """--version names the program and its version."""
    from secretcache import __version__

    result = run("--version")
    assert (result.returncode, result.stdout.decode().split()[:2]) == (
        0,
        ["secretcache", __version__],
    )


def test_console_script() -> None:
    """The installed `secretcache` script runs the same main."""
    script = Path(sys.executable).with_name("secretcache")
    if not script.exists():
        pytest.skip("package not installed with its console script")
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, check=False, timeout=30
    )
    assert result.returncode == 0 and result.stdout.startswith(b"secretcache ")


def test_help_does_not_import_boto3() -> None:
    """Parsing arguments and printing help import neither boto3 nor botocore."""
    code = (
        "import sys\n"
        "from secretcache.__main__ import main\n"
        "try:\n"
        "    main(['get', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('boto3', 'botocore') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=True, timeout=30, text=True
    )
    assert result.stdout.splitlines()[-1] == "[]"


def test_unknown_argument_is_a_usage_error(secret_name: str) -> None:
    """An option a command does not have: exit 2, argparse's usage message."""
    result = run("get", secret_name, "--bogus")
    assert result.returncode == 2
    assert b"unrecognized arguments: --bogus" in result.stderr
