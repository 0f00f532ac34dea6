"""``secretcache demo --database URL``: a real PostgreSQL password rotation under load.

The demo creates a throw-away login on the server, keeps its credential in a secret on
moto's in-process server, and opens connections through the SDK's psycopg integration
from several threads while the rotation library rotates the password the single-user way
(``ALTER ROLE`` on the server at setSecret; AWSCURRENT moves only at finishSecret). In
that window the server rejects AWSCURRENT's password, and the integration finds
AWSPENDING's. The login is dropped at the end.

This is the only module under ``secretcache/`` that uses integrations; it is imported
only for ``--database`` and names the extra to install when psycopg is missing.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from ._cache import SecretCache
from ._cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError
from ._demo import Console, mask, moto_client, moto_server, stats_line
from ._hooks import RotationEvent

__all__ = ["run_database_demo"]

SECRET_NAME = "demo/orders-db-login"  # noqa: S105  # the secret's name, not a secret
TTL_SECONDS = 2.0
WORKERS = 4
WINDOW_SECONDS = 1.0  # between setSecret and finishSecret: the server has the new password


@dataclass(frozen=True)
class Modules:
    """psycopg, the psycopg integration, the rotation library and its PostgreSQL strategy."""

    psycopg: Any
    sc_psycopg: Any
    rotation: Any
    postgresql: Any


def _modules() -> Modules:
    try:
        import psycopg

        # By name: mypy does not follow the package-dir mapping of the integrations.
        return Modules(
            psycopg,
            importlib.import_module("secretcache.integrations.psycopg"),
            importlib.import_module("secretcache.integrations.rotation"),
            importlib.import_module("secretcache.integrations.rotation.postgresql"),
        )
    except ImportError as exc:
        raise CliError(
            f"demo --database needs psycopg and the integrations ({exc}): "
            "pip install 'secretcache[demo,psycopg]'"
        ) from None


@dataclass
class Counts:
    """What one worker thread saw."""

    ok: int = 0
    failed: int = 0
    first_failure: str = ""


def _admin_connection(psycopg: Any, url: str) -> tuple[Any, dict[str, Any]]:
    """The admin's connection and the parts of its URL the demo login reuses."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        raise CliError("--database: not a PostgreSQL URL or conninfo", EXIT_USAGE) from None
    host = str(params.get("host") or "")
    if not host or host.startswith("/") or "," in host:
        raise CliError(
            "--database must name one TCP host: the demo login authenticates by password",
            EXIT_USAGE,
        )
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        # The message only (never the exception object: its pgconn's repr has the password).
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        password = str(params.get("password") or "")
        if password:
            reason = reason.replace(password, "****")
        raise CliError(f"cannot connect to --database at {host}: {reason}") from None
    info = conn.info
    return conn, {"host": info.host, "port": info.port, "dbname": info.dbname, "admin": info.user}


def _create_login(psycopg: Any, admin: Any, username: str, password: str) -> None:
    sql = psycopg.sql
    verifier = admin.pgconn.encrypt_password(password.encode(), username.encode())
    admin.execute(
        sql.SQL("CREATE ROLE {} WITH LOGIN PASSWORD {}").format(
            sql.Identifier(username), sql.Literal(verifier.decode("ascii"))
        )
    )


def _drop_login(psycopg: Any, admin: Any, username: str) -> None:
    admin.execute(
        psycopg.sql.SQL("DROP ROLE IF EXISTS {}").format(psycopg.sql.Identifier(username))
    )


def _work(connect: Callable[[], Any], stop: threading.Event, counts: Counts) -> None:
    while not stop.is_set():
        try:
            with connect() as conn:
                conn.execute("SELECT 1").fetchone()
            counts.ok += 1
        except Exception as exc:  # noqa: BLE001  # the demo counts every failed query
            counts.failed += 1
            counts.first_failure = counts.first_failure or type(exc).__name__
        time.sleep(0.01)


def run_database_demo(url: str, *, out: TextIO, make_password: Callable[[], str]) -> int:
    """Rotate a throw-away login's password on a real PostgreSQL while threads use it."""
    modules = _modules()
    psycopg = modules.psycopg
    console = Console(out)
    secrets_seen = [str(psycopg.conninfo.conninfo_to_dict(url).get("password") or "")]
    admin, server = _admin_connection(psycopg, url)
    username = f"secretcache_demo_{uuid.uuid4().hex[:8]}"
    password = make_password()
    secrets_seen.append(password)
    try:
        _create_login(psycopg, admin, username, password)
    except psycopg.Error as exc:
        admin.close()
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliError(
            f"cannot create the demo login as {server['admin']!r} (needs CREATEROLE): {reason}"
        ) from None
    console.say("secretcache demo: a password rotation on a real PostgreSQL, under load")
    console.say("(the secret on moto's server in this process; values are never printed)")
    console.say()
    console.step("database", f"PostgreSQL at {server['host']}:{server['port']}/{server['dbname']}")
    console.step("login", f"created role {username} password={mask(password)}")
    try:
        with moto_server() as endpoint:
            document = {
                "engine": "postgres",
                "host": server["host"],
                "port": server["port"],
                "username": username,
                "password": password,
                "dbname": server["dbname"],
            }
            ok = _rotate(console, modules, endpoint, document, secrets_seen)
    finally:
        _drop_login(psycopg, admin, username)
        admin.close()
    console.step("cleanup", f"dropped role {username}")
    console.say()
    console.say("done: zero failed queries across the rotation" if ok else "FAILED")
    if console.leaked(iter(s for s in secrets_seen if s)):
        console.say("FAILED: a secret value was printed")
        return EXIT_FAILURE
    return EXIT_OK if ok else EXIT_FAILURE


def _rotate(
    console: Console,
    modules: Modules,
    endpoint: str,
    document: dict[str, Any],
    secrets_seen: list[str],
) -> bool:
    """The secret, the cache, the rotation under load and the report; True if all went well."""
    admin_sm = moto_client(endpoint)
    first = admin_sm.create_secret(Name=SECRET_NAME, SecretString=json.dumps(document))
    console.step("secret", f"{SECRET_NAME} on moto at {endpoint}, version {first['VersionId']}")
    cache = SecretCache(moto_client(endpoint), ttl_seconds=TTL_SECONDS)
    observed: list[RotationEvent] = []
    rotated = threading.Event()

    def on_rotation(event: RotationEvent) -> None:
        observed.append(event)
        rotated.set()

    cache.on_rotation(on_rotation)

    def connect() -> Any:
        return modules.sc_psycopg.connect(SECRET_NAME, cache=cache, connect_timeout=5)

    with connect() as conn:
        conn.execute("SELECT 1").fetchone()
    console.step("connect", f"secretcache.integrations.psycopg.connect({SECRET_NAME!r}): ok")
    console.step(
        "rotation", f"{WORKERS} threads open a connection per query; cache TTL {TTL_SECONDS:g} s"
    )
    calls_before = cache.stats().api_calls
    counts = _under_load(connect, lambda: _rotation_steps(console, modules, admin_sm))
    seen = rotated.wait(TTL_SECONDS * 3 + 5)
    new = admin_sm.get_secret_value(SecretId=SECRET_NAME, VersionStage="AWSCURRENT")
    secrets_seen.append(str(json.loads(new["SecretString"])["password"]))
    if seen:
        event = observed[0]
        console.step(
            "  observed",
            f"rotation hook: {event.stage} {event.previous_version_id} -> {event.version_id}",
        )
    else:
        console.step("  observed", "NO rotation seen by the cache")
    old_rejected = _rejected(modules.psycopg, document)
    console.step("  old password", "rejected by PostgreSQL" if old_rejected else "STILL ACCEPTED")
    queries_ok = _report(console, counts, cache.stats().api_calls - calls_before)
    console.say()
    console.step("stats", stats_line(cache))
    cache.close()
    return seen and old_rejected and queries_ok


def _under_load(connect: Callable[[], Any], action: Callable[[], None]) -> list[Counts]:
    """Run ``action`` while WORKERS threads connect and query; what each thread saw."""
    stop = threading.Event()
    counts = [Counts() for _ in range(WORKERS)]
    workers = [threading.Thread(target=_work, args=(connect, stop, c)) for c in counts]
    for worker in workers:
        worker.start()
    try:
        time.sleep(0.5)
        action()
        time.sleep(TTL_SECONDS + 0.5)  # until the cache has seen the new AWSCURRENT
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    return counts


def _rotation_steps(console: Console, modules: Modules, client: Any) -> None:
    """The rotation library's four steps, with the single-user window held open a while."""
    strategy = modules.postgresql.SingleUser()
    token = str(uuid.uuid4())
    for step in modules.rotation.STEPS:
        modules.rotation.run_step(
            client,
            SECRET_NAME,
            token,
            step,
            strategy,
            require_rotation_enabled=False,
            allow_new_token=True,
        )
        console.step(f"  {step}", _STEP_NOTES[str(step)].format(token=token))
        if str(step) == "setSecret":
            time.sleep(WINDOW_SECONDS)


def _report(console: Console, counts: list[Counts], api_calls: int) -> bool:
    ok = sum(c.ok for c in counts)
    failed = sum(c.failed for c in counts)
    first_failure = next((c.first_failure for c in counts if c.first_failure), "")
    console.step(
        "  queries",
        f"{ok} ok, {failed} failed{f' ({first_failure})' if first_failure else ''}; "
        f"{api_calls} API calls during the rotation",
    )
    return failed == 0 and ok > 0


_STEP_NOTES = {
    "createSecret": "AWSPENDING {token} with a new random password",
    "setSecret": "ALTER ROLE on the server: AWSCURRENT's password is now rejected",
    "testSecret": "logged in with AWSPENDING",
    "finishSecret": "AWSCURRENT -> {token}; AWSPENDING removed",
}


def _rejected(psycopg: Any, document: dict[str, Any]) -> bool:
    """Whether the server now refuses the login's first password."""
    try:
        conn = psycopg.connect(
            host=document["host"],
            port=document["port"],
            user=document["username"],
            password=document["password"],
            dbname=document["dbname"],
            connect_timeout=5,
        )
    except psycopg.OperationalError as exc:
        return "password authentication failed" in str(exc)
    conn.close()
    return False
