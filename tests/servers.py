"""Database servers for the integration tests: a private PostgreSQL cluster and MariaDB.

Plain helpers; ``tests/conftest.py`` turns them into session fixtures (``pg_server``,
``mariadb_server``). Both servers hand out logins through the same shape of helper:

- ``create_login(password=None, *, username=None, ...) -> DbLogin``: a login with a
  password and a database of its own (unique names unless ``username`` is given);
- ``set_password(username, password)``: the server-side rotation (safely quoted);
- ``drop_login(username)``: drop the login and its database;
- ``connect(username, password, dbname=None)``: a new connection over TCP.

PostgreSQL: ``initdb --auth-host=scram-sha-256 --auth-local=trust`` into a temp dir, run
as the ``postgres`` OS user when we are root (initdb refuses root), on a free port of
127.0.0.1 with its unix socket inside the temp dir. Host connections need a real
password; the admin connection uses the socket as the superuser.

MariaDB: the machine's server on 127.0.0.1:3306 (started before CI on this kind of
machine; if it is not reachable we try to start it), admin as root with an empty
password over TCP or, failing that, over the unix socket. Every user and database the
tests create has a unique ``sct_`` name and is dropped at session end.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PG_SUPERUSER = "postgres"
MARIADB_BINARY = "/usr/sbin/mariadbd"
MARIADB_SOCKETS = ("/run/mysqld/mysqld.sock", "/var/run/mysqld/mysqld.sock", "/tmp/mysql.sock")


def unique_name(prefix: str = "sct") -> str:
    """A short lower-case name no other test (or concurrent session) uses."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class DbLogin:
    """A login the tests created: what an RDS-style secret would hold."""

    engine: str
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    dbname: str

    def secret(self, **overrides: Any) -> dict[str, Any]:
        """The RDS-style secret JSON (as a dict) for this login."""
        value: dict[str, Any] = {
            "engine": self.engine,
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "password": self.password,
            "dbname": self.dbname,
        }
        value.update(overrides)
        return value


# --------------------------------------------------------------------------- PostgreSQL


def find_pg_bindir() -> Path | None:
    """The directory holding initdb/pg_ctl/postgres, or None if PostgreSQL is not installed.

    ``PG_BINDIR`` wins; then the newest ``/usr/lib/postgresql/*/bin``; then ``PATH``.
    """
    candidates: list[str] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(os.environ["PG_BINDIR"])
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    versions.sort(key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    candidates.extend(reversed(versions))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for directory in candidates:
        path = Path(directory)
        if all((path / exe).is_file() for exe in ("initdb", "pg_ctl", "postgres")):
            return path
    return None


class PgServer:
    """A private PostgreSQL cluster with scram-sha-256 on TCP; start() once, stop() at end."""

    engine = "postgres"

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.host = "127.0.0.1"
        self.port = 0
        self.base_dir = Path()
        self.data_dir = Path()
        self.socket_dir = Path()
        self.log_file = Path()
        self.admin: Any = None
        self._as_postgres = os.geteuid() == 0
        self._started = False

    # -- lifecycle

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", PG_SUPERUSER, "--", *cmd]
        return subprocess.run(
            cmd, cwd=self.base_dir, capture_output=True, text=True, check=check, timeout=120
        )

    def start(self) -> None:
        """initdb, configure, start and connect the admin; raises with the log if it fails."""
        import psycopg

        self.base_dir = Path(tempfile.mkdtemp(prefix="sct-pg-"))
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "sock"
        self.log_file = self.base_dir / "postgres.log"
        self.socket_dir.mkdir()
        if self._as_postgres:
            user = pwd.getpwnam(PG_SUPERUSER)
            for path in (self.base_dir, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
        try:
            self._run(
                str(self.bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                PG_SUPERUSER,
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            )
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"initdb failed:\n{exc.stdout}\n{exc.stderr}") from None
        # A port picked free may be taken before postgres binds it: retry on a fresh one.
        for _attempt in range(3):
            self.port = free_port()
            self._write_config()
            result = self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                "60",
                "start",
                check=False,
            )
            if result.returncode == 0:
                break
        else:
            log = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
            raise RuntimeError(
                f"PostgreSQL did not start (pg_ctl: {result.stdout}{result.stderr}):\n{log[-4000:]}"
            )
        self._started = True
        self.admin = psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=PG_SUPERUSER,
            dbname="postgres",
            autocommit=True,
        )

    def _write_config(self) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "max_connections": "200",
            "shared_buffers": "16MB",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "password_encryption": "'scram-sha-256'",
            "log_min_messages": "warning",
        }
        # postgresql.auto.conf is read last, so rewriting it wins over postgresql.conf.
        text = "".join(f"{key} = {value}\n" for key, value in settings.items())
        auto = self.data_dir / "postgresql.auto.conf"
        auto.write_text(text)
        if self._as_postgres:
            user = pwd.getpwnam(PG_SUPERUSER)
            os.chown(auto, user.pw_uid, user.pw_gid)

    def stop(self) -> None:
        """Stop the cluster (immediate) and remove its directory."""
        if self.admin is not None:
            with contextlib.suppress(Exception):
                self.admin.close()
            self.admin = None
        if self._started:
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-m",
                "immediate",
                "stop",
                check=False,
            )
            self._started = False
        if self.base_dir != Path():
            shutil.rmtree(self.base_dir, ignore_errors=True)

    # -- helpers

    def execute(self, query: Any, params: Any = None) -> list[tuple[Any, ...]]:
        """Run one statement on the admin connection; rows if it returns any."""
        with self.admin.cursor() as cur:
            cur.execute(query, params)
            return list(cur.fetchall()) if cur.description else []

    def create_login(
        self,
        password: str | None = None,
        *,
        username: str | None = None,
        superuser: bool = False,
        createrole: bool = False,
        with_database: bool = True,
    ) -> DbLogin:
        """A LOGIN role with a scram password and (by default) a database it owns."""
        from psycopg import sql

        username = username or unique_name()
        password = password if password is not None else uuid.uuid4().hex
        options = [sql.SQL("LOGIN")]
        if superuser:
            options.append(sql.SQL("SUPERUSER"))
        if createrole:
            options.append(sql.SQL("CREATEROLE"))
        self.execute(
            sql.SQL("CREATE ROLE {} {} PASSWORD {}").format(
                sql.Identifier(username), sql.SQL(" ").join(options), sql.Literal(password)
            )
        )
        dbname = "postgres"
        if with_database:
            dbname = unique_name("sctdb")
            self.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(dbname), sql.Identifier(username)
                )
            )
        return DbLogin(self.engine, self.host, self.port, username, password, dbname)

    def set_password(self, username: str, password: str) -> None:
        """``ALTER ROLE ... PASSWORD`` with the identifier and the literal quoted."""
        from psycopg import sql

        self.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(username), sql.Literal(password)
            )
        )

    def role_exists(self, username: str) -> bool:
        """Whether a role of that name exists."""
        return bool(self.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (username,)))

    def drop_login(self, username: str) -> None:
        """Drop the role, the databases it owns and whatever it was granted; idempotent."""
        import psycopg
        from psycopg import sql

        if not self.role_exists(username):
            return
        self.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (username,)
        )
        owned = self.execute(
            "SELECT datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba"
            " WHERE r.rolname = %s",
            (username,),
        )
        for (dbname,) in owned:
            self.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(dbname)))
        try:
            self.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(username)))
        except psycopg.errors.DependentObjectsStillExist:
            # Privileges in other databases: DROP OWNED in each, then drop the role.
            for (dbname,) in self.execute(
                "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate"
            ):
                with psycopg.connect(
                    host=str(self.socket_dir),
                    port=self.port,
                    user=PG_SUPERUSER,
                    dbname=dbname,
                    autocommit=True,
                ) as conn:
                    conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(username)))
            self.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(username)))

    def connect(self, username: str, password: str, dbname: str = "postgres", **kwargs: Any) -> Any:
        """A psycopg connection over TCP: the path that checks the scram password."""
        import psycopg

        kwargs.setdefault("connect_timeout", 10)
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=username,
            password=password,
            dbname=dbname,
            **kwargs,
        )


# --------------------------------------------------------------------------- MariaDB


class MariaDbServer:
    """The machine's MariaDB, used through users and databases the tests create and drop."""

    engine = "mariadb"

    def __init__(self, host: str = "127.0.0.1", port: int = 3306) -> None:
        self.host = host
        self.port = port
        self.admin: Any = None
        self._logins: set[str] = set()
        self._databases: dict[str, str] = {}

    def start(self, wait_seconds: float = 30.0) -> None:
        """Connect the admin; start the server if nothing listens; raise if it cannot be had."""
        if not port_open(self.host, self.port) and os.path.exists(MARIADB_BINARY):
            subprocess.run(
                [
                    "start-stop-daemon",
                    "--start",
                    "--oknodo",
                    "--background",
                    "--chuid",
                    "mysql",
                    "--exec",
                    MARIADB_BINARY,
                ],
                capture_output=True,
                check=False,
                timeout=30,
            )
            deadline = time.monotonic() + wait_seconds
            while not port_open(self.host, self.port) and time.monotonic() < deadline:
                time.sleep(0.2)
        self.admin = self._admin_connection()

    def _admin_connection(self) -> Any:
        import pymysql

        errors: list[str] = []
        try:
            return pymysql.connect(
                host=self.host,
                port=self.port,
                user="root",
                password="",
                autocommit=True,
                connect_timeout=10,
                charset="utf8mb4",
            )
        except pymysql.MySQLError as exc:
            errors.append(f"root@{self.host}:{self.port}: {exc.args}")
        for path in MARIADB_SOCKETS:
            if os.path.exists(path):
                try:
                    return pymysql.connect(
                        unix_socket=path,
                        user="root",
                        autocommit=True,
                        connect_timeout=10,
                        charset="utf8mb4",
                    )
                except pymysql.MySQLError as exc:
                    errors.append(f"root via {path}: {exc.args}")
        raise RuntimeError("no admin connection to MariaDB: " + "; ".join(errors))

    def stop(self) -> None:
        """Drop every user and database the session created, then close the admin."""
        if self.admin is None:
            return
        for username in sorted(self._logins | set(self._databases)):
            with contextlib.suppress(Exception):
                self.drop_login(username)
        with contextlib.suppress(Exception):
            self.admin.close()
        self.admin = None

    # -- helpers

    def execute(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Run one statement on the admin connection; rows if it returns any."""
        with self.admin.cursor() as cur:
            cur.execute(query, params)
            return list(cur.fetchall())

    def account(self, username: str, host: str) -> str:
        """``'name'@'host'`` with both parts escaped by the driver."""
        return f"{self.admin.escape(username)}@{self.admin.escape(host)}"

    def create_login(
        self,
        password: str | None = None,
        *,
        username: str | None = None,
        admin: bool = False,
        with_database: bool = True,
    ) -> DbLogin:
        """A user ``'name'@'%'`` and ``'name'@'localhost'`` with a password and its own database.

        ``admin=True`` grants everything on ``*.*`` WITH GRANT OPTION (a master user).
        """
        username = username or unique_name()
        password = password if password is not None else uuid.uuid4().hex
        literal = self.admin.escape(password)
        self._logins.add(username)
        dbname = ""
        if with_database:
            dbname = unique_name("sctdb")
            self._databases[username] = dbname
            self.execute(f"CREATE DATABASE {quote_mysql_identifier(dbname)}")
        for host in ("%", "localhost"):
            account = self.account(username, host)
            self.execute(f"CREATE USER {account} IDENTIFIED BY {literal}")
            if admin:
                self.execute(f"GRANT ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION")
            if dbname:
                self.execute(
                    f"GRANT ALL PRIVILEGES ON {quote_mysql_identifier(dbname)}.* TO {account}"
                )
        return DbLogin(self.engine, self.host, self.port, username, password, dbname)

    def set_password(self, username: str, password: str) -> None:
        """``ALTER USER ... IDENTIFIED BY`` for both hosts, the password escaped by the driver."""
        literal = self.admin.escape(password)
        for host in self.user_hosts(username):
            self.execute(f"ALTER USER {self.account(username, host)} IDENTIFIED BY {literal}")

    def user_hosts(self, username: str) -> list[str]:
        """The hosts a user name exists for."""
        rows = self.execute("SELECT Host FROM mysql.user WHERE User = %s", (username,))
        return sorted(str(row[0]) for row in rows)

    def drop_login(self, username: str) -> None:
        """Drop the user on every host and the databases created with it; idempotent."""
        for host in self.user_hosts(username):
            self.execute(f"DROP USER IF EXISTS {self.account(username, host)}")
        self._logins.discard(username)
        dbname = self._databases.pop(username, "")
        if dbname:
            self.execute(f"DROP DATABASE IF EXISTS {quote_mysql_identifier(dbname)}")

    def connect(self, username: str, password: str, dbname: str = "", **kwargs: Any) -> Any:
        """A PyMySQL connection over TCP.

        The password goes as UTF-8 bytes: PyMySQL encodes a ``str`` password as latin-1,
        which the server (that hashed the UTF-8 bytes) rejects for any non-ASCII password.
        """
        import pymysql

        kwargs.setdefault("connect_timeout", 10)
        kwargs.setdefault("charset", "utf8mb4")
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=username,
            password=password.encode("utf-8"),
            database=dbname or None,
            **kwargs,
        )


def quote_mysql_identifier(name: str) -> str:
    """A backtick-quoted MySQL identifier (backticks doubled)."""
    return "`" + name.replace("`", "``") + "`"
