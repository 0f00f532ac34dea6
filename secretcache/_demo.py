"""``secretcache demo``: a real endpoint, a real client, a rotation under load, in seconds.

moto's Secrets Manager server runs in this process on 127.0.0.1 (a free port); the cache
talks HTTP to it through a real botocore client. The demo drives the rotation protocol's
stage moves itself (moto's own ``rotate_secret`` needs a Lambda) and always reads with an
explicit stage, as the cache does. It prints version ids and masked passwords, never a
value, and checks that before it exits.
"""

from __future__ import annotations

import json
import logging
import secrets
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

from ._cache import SecretCache
from ._cli import EXIT_FAILURE, EXIT_OK, CliError
from ._hooks import RotationEvent

__all__ = [
    "DEMO_SECRET",
    "Console",
    "mask",
    "moto_client",
    "moto_server",
    "new_password",
    "run_demo",
    "stats_line",
]

DEMO_SECRET = "demo/orders-db"  # noqa: S105  # the secret's name, not a secret
REGION = "us-east-1"
TTL_SECONDS = 1.0  # short so the rotation shows within a second; the default is 300
READERS = 8
STAMPEDE_THREADS = 32


def new_password() -> str:
    """A fresh random password, as a rotation's createSecret step would make."""
    return secrets.token_urlsafe(24)


def mask(password: str) -> str:
    """What the demo prints instead of a password."""
    return f"**** ({len(password)} chars)"


def rds_secret(password: str) -> dict[str, Any]:
    """An RDS-style secret document (the shape Secrets Manager's RDS rotation uses)."""
    return {
        "engine": "postgres",
        "host": "orders.cluster-demo.us-east-1.rds.amazonaws.com",
        "port": 5432,
        "username": "orders_app",
        "password": password,
        "dbname": "orders",
    }


class Console:
    """Writes the demo's lines, keeping them so the demo can check what it printed."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self.lines: list[str] = []

    def say(self, text: str = "") -> None:
        self.lines.append(text)
        self._out.write(text + "\n")
        self._out.flush()

    def step(self, label: str, text: str) -> None:
        self.say(f"{label:<15} {text}")

    def leaked(self, secret_texts: Iterator[str]) -> bool:
        printed = "\n".join(self.lines)
        return any(text in printed for text in secret_texts)


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's server on 127.0.0.1, a free port, for as long as the block runs: its URL."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise CliError("the demo needs moto's server: pip install 'secretcache[demo]'") from None
    # werkzeug logs every request at INFO to stderr unless its logger is set first.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def moto_client(endpoint_url: str) -> Any:
    """A real botocore Secrets Manager client for moto, with the SDK's client settings."""
    import boto3
    from botocore.config import Config

    from ._fetch import USER_AGENT
    from ._redact import install_log_redaction

    install_log_redaction()
    config = Config(
        connect_timeout=2,
        read_timeout=5,
        retries={"mode": "standard", "max_attempts": 3},
        user_agent_extra=USER_AGENT,
    )
    session = boto3.session.Session(
        aws_access_key_id="demo",
        aws_secret_access_key="demo",  # noqa: S106  # moto accepts any credentials
        region_name=REGION,
    )
    return session.client("secretsmanager", endpoint_url=endpoint_url, config=config)


@dataclass
class Tally:
    """What one reader thread saw."""

    reads: int = 0
    errors: int = 0
    wrong: int = 0
    last_version: str = ""
    first_error: str = ""


def _read_until(
    cache: SecretCache, name: str, passwords: dict[str, str], stop: threading.Event, tally: Tally
) -> None:
    while not stop.is_set():
        try:
            value = cache.get(name)
            if value.json()["password"] != passwords.get(value.version_id):
                tally.wrong += 1
            tally.last_version = value.version_id
        except Exception as exc:  # noqa: BLE001  # the demo counts every failure a reader sees
            tally.errors += 1
            tally.first_error = tally.first_error or type(exc).__name__
        tally.reads += 1
        time.sleep(0.001)  # the rest of the request's work


def _ns_per_call(loop: Callable[[int], None], calls: int = 20_000, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter_ns()
        loop(calls)
        best = min(best, (time.perf_counter_ns() - started) / calls)
    return best


def _hit_loops(
    cache: SecretCache, name: str
) -> tuple[Callable[[int], None], Callable[[int], None]]:
    get = cache.get
    table = {name: get(name)}

    def cache_loop(calls: int) -> None:
        for _ in range(calls):
            get(name)

    def dict_loop(calls: int) -> None:
        for _ in range(calls):
            _ = table[name]

    return cache_loop, dict_loop


def _stampede(cache: SecretCache, name: str) -> int:
    """API calls made by STAMPEDE_THREADS threads reading one cold key at once."""
    cache.invalidate(name)
    before = cache.stats().api_calls
    barrier = threading.Barrier(STAMPEDE_THREADS)

    def read() -> None:
        barrier.wait()
        cache.get(name)

    threads = [threading.Thread(target=read) for _ in range(STAMPEDE_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return cache.stats().api_calls - before


def _wait_for(condition: Callable[[], bool], timeout_seconds: float) -> bool:
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def run_demo(
    *,
    database_url: str | None = None,
    out: TextIO,
    secret_name: str = DEMO_SECRET,
    make_password: Callable[[], str] = new_password,
) -> int:
    """Run the demo, printing to ``out``; the exit code."""
    if database_url is not None:
        from ._demo_db import run_database_demo

        code: int = run_database_demo(database_url, out=out, make_password=make_password)
        return code
    console = Console(out)
    passwords: dict[str, str] = {}
    console.say("secretcache demo: a rotation-aware cache in front of Secrets Manager")
    console.say("(moto's server in this process, a real botocore client; values are never printed)")
    console.say()
    with moto_server() as endpoint:
        ok = _demo(console, endpoint, secret_name, passwords, make_password)
    if console.leaked(iter(passwords.values())):
        console.say("FAILED: a secret value was printed")
        return EXIT_FAILURE
    return EXIT_OK if ok else EXIT_FAILURE


def _demo(
    console: Console,
    endpoint: str,
    name: str,
    passwords: dict[str, str],
    make_password: Callable[[], str],
) -> bool:
    admin = moto_client(endpoint)  # the rotation's side: creates and moves versions
    console.step("endpoint", f"moto at {endpoint} ({REGION})")

    password = make_password()
    created = admin.create_secret(Name=name, SecretString=json.dumps(rds_secret(password)))
    first_version = created["VersionId"]
    passwords[first_version] = password
    console.step("secret", f"created {name!r}: RDS-style JSON, version {first_version}")

    cache = SecretCache(moto_client(endpoint), ttl_seconds=TTL_SECONDS)
    started = time.perf_counter()
    value = cache.get(name)
    cold_ms = (time.perf_counter() - started) * 1000
    document = value.json()
    console.step(
        "first read", f"{cold_ms:.1f} ms (a miss: GetSecretValue, VersionStage=AWSCURRENT)"
    )
    console.step(
        "",
        f"{document['engine']} {document['username']}@{document['host']}:{document['port']}"
        f"/{document['dbname']} password={mask(document['password'])}",
    )
    console.step("", f"repr: {value!r}")

    calls = _stampede(cache, name)
    console.step(
        "cold start",
        f"{STAMPEDE_THREADS} threads read the cold key at once: {calls} API call"
        f"{'' if calls == 1 else 's'} (single flight)",
    )

    fetch_ms = statistics.median(_timed_ms(lambda: cache.refresh(name)) for _ in range(5))
    cache_loop, dict_loop = _hit_loops(cache, name)
    hit_ns, dict_ns = _ns_per_call(cache_loop), _ns_per_call(dict_loop)
    console.step(
        "hits",
        f"cache.get {hit_ns:.0f} ns, a bare dict read {dict_ns:.0f} ns "
        f"({hit_ns / dict_ns:.1f}x); a fetch over HTTP {fetch_ms:.2f} ms "
        f"({fetch_ms * 1e6 / hit_ns:,.0f}x a hit)",
    )
    console.say()
    ok = _rotate_under_load(console, admin, cache, name, passwords, make_password)
    console.say()
    stats = cache.stats()
    console.step("stats", stats_line(cache))
    console.step("", f"{stats.hits + stats.misses:,} reads cost {stats.api_calls} API calls")
    versions = admin.describe_secret(SecretId=name)["VersionIdsToStages"]
    for label, (version_id, stages) in zip(
        ("versions", ""), sorted(versions.items(), key=lambda item: item[1]), strict=False
    ):
        console.step(label, f"{version_id}  {', '.join(stages)}")
    cache.close()
    console.say()
    console.say("done: the cache followed the rotation with zero failed reads" if ok else "FAILED")
    return ok


def _timed_ms(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def stats_line(cache: SecretCache) -> str:
    """The cache's counters, on one line."""
    stats = cache.stats()
    return (
        f"hits={stats.hits} misses={stats.misses} api_calls={stats.api_calls} "
        f"refreshes={stats.refreshes} rotations={stats.rotations} errors={stats.errors} "
        f"stale_served={stats.stale_served}"
    )


def _rotate_under_load(
    console: Console,
    admin: Any,
    cache: SecretCache,
    name: str,
    passwords: dict[str, str],
    make_password: Callable[[], str],
) -> bool:
    """Rotate the secret while reader threads use it; True if the cache followed cleanly."""
    observed: list[tuple[float, RotationEvent]] = []
    rotated = threading.Event()

    def on_rotation(event: RotationEvent) -> None:
        observed.append((time.perf_counter(), event))
        rotated.set()

    cache.on_rotation(on_rotation)
    old_version = cache.get(name).version_id
    console.step(
        "rotation",
        f"{READERS} reader threads use the secret; cache TTL {TTL_SECONDS:g} s "
        "(short for the demo; the default is 300 s)",
    )
    stop = threading.Event()
    tallies = [Tally() for _ in range(READERS)]
    readers = [
        threading.Thread(target=_read_until, args=(cache, name, passwords, stop, tally))
        for tally in tallies
    ]
    misses_before = cache.stats().misses
    for reader in readers:
        reader.start()
    try:
        time.sleep(0.3)
        new_password = make_password()
        pending = admin.put_secret_value(
            SecretId=name,
            SecretString=json.dumps(rds_secret(new_password)),
            VersionStages=["AWSPENDING"],
        )
        new_version = pending["VersionId"]
        passwords[new_version] = new_password
        console.step(
            "  createSecret", f"AWSPENDING -> {new_version}, password={mask(new_password)}"
        )
        console.step("  setSecret", "(a database would get the new password here: see --database)")
        finished = time.perf_counter()
        admin.update_secret_version_stage(
            SecretId=name,
            VersionStage="AWSCURRENT",
            MoveToVersionId=new_version,
            RemoveFromVersionId=old_version,
        )
        admin.update_secret_version_stage(
            SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=new_version
        )
        console.step(
            "  finishSecret", f"AWSCURRENT {old_version} -> {new_version}; AWSPENDING removed"
        )
        if not rotated.wait(TTL_SECONDS * 5 + 5):
            console.step("  observed", "NO rotation seen by the cache")
            return False
        when, event = observed[0]
        console.step(
            "  observed",
            f"rotation hook: {event.stage} {event.previous_version_id} -> {event.version_id}, "
            f"{when - finished:.2f} s after finishSecret",
        )
        switched = _wait_for(
            lambda: all(t.last_version == new_version for t in tallies), TTL_SECONDS + 5
        )
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    return _report_readers(console, tallies, cache.stats().misses - misses_before, switched)


def _report_readers(console: Console, tallies: list[Tally], misses: int, switched: bool) -> bool:
    reads = sum(t.reads for t in tallies)
    errors = sum(t.errors for t in tallies)
    wrong = sum(t.wrong for t in tallies)
    first_error = next((t.first_error for t in tallies if t.first_error), "")
    console.step(
        "  readers",
        f"{reads} reads, {errors} errors{f' ({first_error})' if first_error else ''}, "
        f"{wrong} wrong passwords, {misses} waited for a fetch "
        "(refreshes ran in the background)",
    )
    console.step(
        "",
        "every reader now reads the new version" if switched else "NOT every reader switched",
    )
    return switched and errors == 0 and wrong == 0
