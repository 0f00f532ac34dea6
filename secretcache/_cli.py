"""The ``secretcache`` command line: get, describe, watch, demo, bench.

Standard library only: boto3 is imported when a command first needs a client, so
``--help`` and ``--version`` start fast. An expected failure ends in one line on stderr
and an exit code from ``EXIT_CODES``, never a traceback. No command prints a secret's
value except ``get``, whose job it is.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ._errors import (
    SecretAccessDeniedError,
    SecretCacheError,
    SecretFormatError,
    SecretNotFoundError,
    SecretUnavailableError,
    translate_error,
)
from ._fetch import SecretsManagerClient

__all__ = ["EXIT_CODES", "CliError", "build_parser", "exit_code_for", "main"]

PROG = "secretcache"

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_ACCESS_DENIED = 4
EXIT_UNAVAILABLE = 5
EXIT_FORMAT = 6
EXIT_TIMEOUT = 7
EXIT_INTERRUPTED = 130

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_FAILURE: "any other failure",
    EXIT_USAGE: "usage error: bad arguments, no AWS region, invalid endpoint URL",
    EXIT_NOT_FOUND: "not found: no such secret, stage or version (or scheduled for deletion)",
    EXIT_ACCESS_DENIED: "access denied: IAM or KMS refused, or no AWS credentials",
    EXIT_UNAVAILABLE: "unavailable: throttled, endpoint unreachable, or a server error",
    EXIT_FORMAT: "format error: binary vs text, not JSON, no such --json-key",
    EXIT_TIMEOUT: "watch: fewer than --count rotations within --duration-seconds",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}

_EXIT_EPILOG = "exit codes:\n" + "\n".join(
    f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items()
)
_AWS_EPILOG = (
    "The region comes from --region, AWS_REGION, AWS_DEFAULT_REGION or the AWS config file;\n"
    "credentials from the usual AWS chain; AWS_ENDPOINT_URL_SECRETS_MANAGER or\n"
    "AWS_ENDPOINT_URL stand in for --endpoint-url.\n\n"
)


class CliError(Exception):
    """An expected failure of a command: its one-line message and exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def exit_code_for(error: SecretCacheError) -> int:
    """The exit code of a secretcache error."""
    for kind, code in (
        (SecretNotFoundError, EXIT_NOT_FOUND),
        (SecretAccessDeniedError, EXIT_ACCESS_DENIED),
        (SecretUnavailableError, EXIT_UNAVAILABLE),
        (SecretFormatError, EXIT_FORMAT),
    ):
        if isinstance(error, kind):
            return code
    return EXIT_FAILURE


# -- the parser ----------------------------------------------------------------------------


def _positive_float(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return number


def _positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text!r}")
    return number


def _version_text() -> str:
    from . import __version__

    return f"{PROG} {__version__} (Python {sys.version.split()[0]})"


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=88)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=_wrap("Read AWS Secrets Manager secrets through secretcache, from a shell."),
        epilog=_EXIT_EPILOG,
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=_version_text())
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log to stderr: -v for secretcache's warnings and info, -vv for debug "
        "(botocore's included, with secret fields redacted)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    aws = argparse.ArgumentParser(add_help=False)
    aws.add_argument("--region", help="AWS region (default: from the environment)")
    aws.add_argument(
        "--endpoint-url", metavar="URL", help="Secrets Manager endpoint (e.g. a local moto server)"
    )

    get = commands.add_parser(
        "get",
        parents=[aws],
        help="print a secret's value",
        description=_wrap(
            "Print a secret's value to stdout, for shell scripts and container "
            "entrypoints. Text is printed as UTF-8 with a newline (unless -n); a binary secret "
            "as its raw bytes."
        ),
        epilog=_AWS_EPILOG + _EXIT_EPILOG,
        formatter_class=formatter,
    )
    get.add_argument("secret_id", metavar="SECRET_ID", help="secret name or ARN")
    which = get.add_mutually_exclusive_group()
    which.add_argument("--stage", metavar="S", help="version stage to read (default: AWSCURRENT)")
    which.add_argument("--version-id", metavar="V", help="exact version to read")
    get.add_argument(
        "--json-key",
        metavar="K",
        help="print one top-level key of a JSON object secret (strings as is, other "
        "values as JSON)",
    )
    get.add_argument(
        "-n", "--no-newline", action="store_true", help="do not add a newline after text"
    )
    get.set_defaults(run=_cmd_get)

    describe = commands.add_parser(
        "describe",
        parents=[aws],
        help="list a secret's versions and their stages (never values)",
        description=_wrap(
            "Show a secret's versions and their stages (DescribeSecret), with its "
            "rotation and deletion dates. Never reads a value."
        ),
        epilog=_AWS_EPILOG + _EXIT_EPILOG,
        formatter_class=formatter,
    )
    describe.add_argument("secret_id", metavar="SECRET_ID", help="secret name or ARN")
    describe.add_argument("--json", action="store_true", help="print JSON instead of a table")
    describe.set_defaults(run=_cmd_describe)

    watch = commands.add_parser(
        "watch",
        parents=[aws],
        help="follow a secret and print each rotation the cache observes",
        description=_wrap(
            "Follow a secret through a SecretCache whose TTL is the polling "
            "interval, and print a line for each rotation the cache observes (old and new "
            "version ids, the new version's stages, the cache's stats). Never prints values. "
            "Runs until --count rotations, --duration-seconds, or Ctrl-C."
        ),
        epilog=_AWS_EPILOG + _EXIT_EPILOG,
        formatter_class=formatter,
    )
    watch.add_argument("secret_id", metavar="SECRET_ID", help="secret name or ARN")
    watch.add_argument(
        "--stage", metavar="S", default="AWSCURRENT", help="stage to follow (default: AWSCURRENT)"
    )
    watch.add_argument(
        "--interval-seconds",
        metavar="N",
        type=_positive_float,
        default=5.0,
        help="cache TTL and polling interval (default: 5)",
    )
    watch.add_argument(
        "--count", metavar="N", type=_positive_int, help="stop after N rotations (exit 0)"
    )
    watch.add_argument(
        "--duration-seconds",
        metavar="N",
        type=_positive_float,
        help="stop after N seconds (exit 7 if --count rotations were not seen by then)",
    )
    watch.set_defaults(run=_cmd_watch)

    demo = commands.add_parser(
        "demo",
        help="a rotation under load against moto's server, in-process (needs the demo extra)",
        description=_wrap(
            "Start moto's Secrets Manager server in this process, create an "
            "RDS-style secret, read it through a SecretCache, rotate it while reader threads "
            "use it, and show the cache following the rotation. Prints version ids and masked "
            "passwords, never values. Needs: pip install 'secretcache[demo]'."
        ),
        epilog=_EXIT_EPILOG,
        formatter_class=formatter,
    )
    demo.add_argument(
        "--database",
        metavar="URL",
        help="a PostgreSQL URL (postgresql://admin:pw@host:port/db) whose user may CREATE "
        "ROLE: the demo then rotates a real login's password while connections use it "
        "(needs the psycopg extra)",
    )
    demo.set_defaults(run=_cmd_demo)

    bench = commands.add_parser(
        "bench",
        help="run the benchmark suite (from a source checkout)",
        description=_wrap(
            "Run the benchmark suite in benchmarks/ of a source checkout "
            "(pip install -e '.[all,bench]'). Arguments after 'bench' are passed to the "
            "harness; 'secretcache bench -- --help' shows its options."
        ),
        epilog=_EXIT_EPILOG,
        formatter_class=formatter,
    )
    bench.set_defaults(run=_cmd_bench)
    return parser


# -- commands --------------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> SecretsManagerClient:
    """The botocore client of --region/--endpoint-url; a CliError when it cannot be made."""
    from botocore.exceptions import BotoCoreError, NoRegionError

    from ._fetch import create_client

    try:
        return create_client(region_name=args.region, endpoint_url=args.endpoint_url)
    except NoRegionError:
        raise CliError("no AWS region: pass --region or set AWS_REGION", EXIT_USAGE) from None
    except ValueError as exc:  # botocore: "Invalid endpoint: ..."
        raise CliError(f"invalid --endpoint-url: {exc}", EXIT_USAGE) from None
    except BotoCoreError as exc:  # e.g. ProfileNotFound
        raise CliError(f"cannot create the AWS client: {exc}", EXIT_USAGE) from None


def _write_text(text: str, *, newline: bool) -> None:
    # Bytes, not print(): the value must come out as UTF-8 whatever the locale says.
    data = text.encode("utf-8")
    if newline and not data.endswith(b"\n"):
        data += b"\n"
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _cmd_get(args: argparse.Namespace, extra: Sequence[str]) -> int:
    from ._cache import SecretCache

    cache = SecretCache(_client(args))
    value = cache.get(args.secret_id, stage=args.stage, version_id=args.version_id)
    if args.json_key is not None:
        field = value.field(args.json_key)
        _write_text(
            field if isinstance(field, str) else json.dumps(field), newline=not args.no_newline
        )
    elif value.is_binary:
        sys.stdout.buffer.write(value.binary)
        sys.stdout.buffer.flush()
    else:
        _write_text(value.text, newline=not args.no_newline)
    return EXIT_OK


_STAGE_ORDER = {"AWSCURRENT": 0, "AWSPENDING": 1, "AWSPREVIOUS": 2}


def _version_order(item: tuple[str, Sequence[str]]) -> tuple[int, str]:
    version_id, stages = item
    return min((_STAGE_ORDER.get(s, 3) for s in stages), default=4), version_id


def _iso(moment: object) -> str | None:
    return moment.isoformat() if isinstance(moment, datetime) else None


def describe_secret(client: SecretsManagerClient, secret_id: str) -> dict[str, Any]:
    """DescribeSecret reduced to identifiers, dates and versions (AWSCURRENT first)."""
    try:
        response = client.describe_secret(SecretId=secret_id)
    except Exception as exc:
        raise translate_error(exc, secret_id) from exc
    versions = sorted((response.get("VersionIdsToStages") or {}).items(), key=_version_order)
    return {
        "name": response.get("Name"),
        "arn": response.get("ARN"),
        "rotation_enabled": bool(response.get("RotationEnabled")),
        "rotation_days": (response.get("RotationRules") or {}).get("AutomaticallyAfterDays"),
        "last_rotated": _iso(response.get("LastRotatedDate")),
        "next_rotation": _iso(response.get("NextRotationDate")),
        "last_changed": _iso(response.get("LastChangedDate")),
        "deleted": _iso(response.get("DeletedDate")),
        "versions": {version_id: list(stages) for version_id, stages in versions},
    }


def _cmd_describe(args: argparse.Namespace, extra: Sequence[str]) -> int:
    info = describe_secret(_client(args), args.secret_id)
    if args.json:
        print(json.dumps(info, indent=2))
        return EXIT_OK
    rotation = "disabled"
    if info["rotation_enabled"]:
        every = f" every {info['rotation_days']} days" if info["rotation_days"] else ""
        rotation = f"enabled{every}"
    rows = [
        ("name", info["name"]),
        ("arn", info["arn"]),
        ("rotation", rotation),
        ("last rotated", info["last_rotated"]),
        ("next rotation", info["next_rotation"]),
        ("last changed", info["last_changed"]),
        ("deleted", info["deleted"] and f"{info['deleted']} (scheduled for deletion)"),
    ]
    for label, text in rows:
        if text:
            print(f"{label:<14} {text}")
    print(f"{'versions':<14} {len(info['versions'])}")
    for version_id, stages in info["versions"].items():
        print(f"  {version_id}  {', '.join(stages) or '(no stage: deprecated)'}")
    return EXIT_OK


def _format_stats(stats: object) -> str:
    assert dataclasses.is_dataclass(stats)
    return " ".join(f"{f.name}={getattr(stats, f.name)}" for f in dataclasses.fields(stats))


def _now_text() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _cmd_watch(args: argparse.Namespace, extra: Sequence[str]) -> int:
    from ._cache import SecretCache
    from ._hooks import RotationEvent, StaleEvent

    interval = args.interval_seconds
    # TTL = the interval, no refresh-ahead, no jitter: each poll is one synchronous
    # fetch, so the rotation hook fires on this thread before get() returns.
    cache = SecretCache(
        _client(args),
        ttl_seconds=interval,
        refresh_ahead_fraction=0.0,
        ttl_jitter_fraction=0.0,
        backoff_base_seconds=interval,
        backoff_max_seconds=max(interval, 60.0),
    )
    rotations: list[RotationEvent] = []
    cache.on_rotation(rotations.append)

    def note_stale(event: StaleEvent) -> None:
        _warn(
            f"serving version {event.version_id} (stale {event.age_seconds:.0f} s): {event.error}"
        )

    cache.on_stale(note_stale)
    started = time.monotonic()
    deadline = started + args.duration_seconds if args.duration_seconds else None
    value = cache.get(args.secret_id, stage=args.stage)
    print(
        f"{_now_text()} watching {args.secret_id!r} {args.stage}: version {value.version_id} "
        f"[{', '.join(value.stages)}], every {interval:g} s",
        flush=True,
    )
    seen = 0
    try:
        while args.count is None or seen < args.count:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                print(
                    f"{_now_text()} stopped after {args.duration_seconds:g} s: "
                    f"{seen} rotation(s) | {_format_stats(cache.stats())}",
                    flush=True,
                )
                return EXIT_TIMEOUT if args.count is not None else EXIT_OK
            time.sleep(interval if remaining is None else min(interval, remaining))
            try:
                value = cache.get(args.secret_id, stage=args.stage)
            except SecretUnavailableError as exc:
                _warn(f"{exc}; still watching")
                continue
            while rotations:
                event = rotations.pop(0)
                seen += 1
                print(
                    f"{_now_text()} rotation: {event.stage} {event.previous_version_id} -> "
                    f"{event.version_id} [{', '.join(value.stages)}] | "
                    f"{_format_stats(cache.stats())}",
                    flush=True,
                )
    except KeyboardInterrupt:
        print(f"{_now_text()} interrupted | {_format_stats(cache.stats())}", flush=True)
        raise
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace, extra: Sequence[str]) -> int:
    from ._demo import run_demo

    return run_demo(database_url=args.database, out=sys.stdout)


def find_checkout(start: Path | None = None) -> Path | None:
    """The source checkout this package runs from (it holds benchmarks/), if any."""
    root = (start or Path(__file__).resolve().parent).parent
    if (root / "pyproject.toml").is_file() and (root / "benchmarks" / "__init__.py").is_file():
        return root
    return None


def run_bench(argv: Sequence[str], checkout: Path | None) -> int:
    """Run the checkout's ``benchmarks.main(argv)`` in a fresh interpreter."""
    if checkout is None:
        raise CliError(
            "'secretcache bench' needs a source checkout (benchmarks/ is not installed): "
            "clone the repository, pip install -e '.[all,bench]' and run it there"
        )
    # A subprocess, not an import: the harness measures import times in a clean
    # interpreter. It stays in the caller's directory, so relative paths given to the
    # harness mean what the caller meant; the checkout goes first on its sys.path.
    code = (
        "import sys; sys.path.insert(0, sys.argv.pop(1)); "
        "from benchmarks import main; sys.exit(main(sys.argv[1:]))"
    )
    command = [sys.executable, "-c", code, str(checkout), *argv]
    return subprocess.call(command)  # noqa: S603  # our interpreter, fixed code


def _cmd_bench(args: argparse.Namespace, extra: Sequence[str]) -> int:
    argv = list(extra[1:] if extra[:1] == ["--"] else extra)
    return run_bench(argv, find_checkout())


# -- the entry point -------------------------------------------------------------------------


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr, flush=True)


def _configure_logging(verbosity: int) -> None:
    if verbosity <= 0:
        # Without a handler, logging's last resort would print the cache's warnings
        # next to our one-line error; the CLI reports failures itself.
        logging.getLogger("secretcache").addHandler(logging.NullHandler())
        return
    logging.basicConfig(
        level=logging.DEBUG if verbosity > 1 else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "bench":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    _configure_logging(args.verbose)
    run: Callable[[argparse.Namespace, Sequence[str]], int] = args.run
    try:
        return run(args, extra)
    except SecretCacheError as exc:
        return _fail(str(exc) + _HINTS.get(exc.code or "", ""), exit_code_for(exc))
    except CliError as exc:
        return _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from
        # complaining when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE


_HINTS = {
    "NoCredentialsError": ": no AWS credentials found (environment, ~/.aws, or an instance role)",
}


def _fail(message: str, exit_code: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    return exit_code
