"""Database rotation, engine-neutral: the single-user and alternating-users strategies.

An engine (``postgresql.py``, ``mysql.py``) supplies the SQL through ``Database``; the
strategies here decide which credential to connect with and what to change.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from secretcache._errors import CredentialsRejectedError, SecretFormatError

from .._credentials import showable_engine
from ._context import RotationContext, SecretDict, require
from ._strategy import RotationStrategy

__all__ = ["AlternatingUsersStrategy", "Database", "Login", "SingleUserStrategy"]

logger = logging.getLogger("secretcache.integrations.rotation")


@dataclass(frozen=True)
class Login:
    """Connection parameters from an RDS-style secret. ``repr`` hides the password."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    dbname: str | None = None

    @classmethod
    def from_secret(
        cls,
        value: Mapping[str, Any],
        *,
        secret_id: str,
        what: str,
        default_port: int,
        defaults: Mapping[str, Any] | None = None,
    ) -> Login:
        """Parse ``host, port, username, password, dbname``; ``defaults`` fill missing keys."""
        merged = {**(defaults or {}), **{k: v for k, v in value.items() if v not in (None, "")}}
        port_raw = merged.get("port", default_port)
        try:
            port = int(port_raw)
        except (TypeError, ValueError):
            raise SecretFormatError(
                f"{what} of secret {secret_id!r}: 'port' is not an integer", secret_id=secret_id
            ) from None
        dbname = merged.get("dbname")
        return cls(
            host=str(require(merged, "host", secret_id=secret_id, what=what)),
            port=port,
            username=str(require(merged, "username", secret_id=secret_id, what=what)),
            password=str(require(merged, "password", secret_id=secret_id, what=what)),
            dbname=str(dbname) if dbname else None,
        )


class Database(ABC):
    """One engine's operations. Stateless; connections are opened and closed per step."""

    name: str
    engines: frozenset[str]
    default_port: int

    @abstractmethod
    def connect(self, login: Login, *, timeout_seconds: float, options: Mapping[str, Any]) -> Any:
        """A new connection; a rejected credential raises what ``is_rejected`` recognises."""

    @abstractmethod
    def is_rejected(self, exc: BaseException) -> bool:
        """Whether a connection error means the credential was refused."""

    @abstractmethod
    def check_username(self, username: str, *, secret_id: str) -> None:
        """Raise SecretFormatError if the engine cannot have a user of that name."""

    @abstractmethod
    def set_own_password(self, conn: Any, login: Login, password: str) -> None:
        """As ``login``, change its own password."""

    @abstractmethod
    def upsert_user(
        self, conn: Any, *, template: str, username: str, password: str, copy_grants: bool
    ) -> None:
        """As a master user: create ``username`` or set its password; copy ``template``'s grants.

        Grants are copied when ``copy_grants`` is true or the user had to be created.
        """

    @abstractmethod
    def ping(self, conn: Any) -> None:
        """Run a trivial query."""


class _DatabaseStrategy(RotationStrategy):
    database: Database

    def __init__(
        self,
        database: Database,
        *,
        connect_timeout_seconds: float = 5.0,
        connect_options: Mapping[str, Any] | None = None,
        connection_defaults: Mapping[str, Any] | None = None,
    ) -> None:
        if connect_timeout_seconds <= 0:
            raise ValueError("connect_timeout_seconds must be positive")
        self.database = database
        self.connect_timeout_seconds = connect_timeout_seconds
        self.connect_options: Mapping[str, Any] = dict(connect_options or {})
        self.connection_defaults: Mapping[str, Any] = dict(connection_defaults or {})

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}(database={self.database.name!r})"

    def login(self, value: Mapping[str, Any], ctx: RotationContext, what: str) -> Login:
        """The connection parameters in one stage's value."""
        engine = value.get("engine")
        if engine and str(engine).lower() not in self.database.engines:
            # The value is the secret's: quote it only if it looks like an engine name.
            shown = f" {engine!r}" if showable_engine(str(engine)) else ""
            raise SecretFormatError(
                f"{what} of secret {ctx.secret_id!r} is for engine{shown},"
                f" not {self.database.name}",
                secret_id=ctx.secret_id,
            )
        return Login.from_secret(
            value,
            secret_id=ctx.secret_id,
            what=what,
            default_port=self.database.default_port,
            defaults=self.connection_defaults,
        )

    def try_connect(self, login: Login) -> Any | None:
        """A connection, or None if the credential was rejected; other errors propagate."""
        try:
            return self.database.connect(
                login, timeout_seconds=self.connect_timeout_seconds, options=self.connect_options
            )
        except Exception as exc:
            if self.database.is_rejected(exc):
                return None
            raise

    def connect_or_reject(self, login: Login, *, secret_id: str, what: str) -> Any:
        """A connection, or CredentialsRejectedError naming what was refused."""
        conn = self.try_connect(login)
        if conn is None:
            raise CredentialsRejectedError(
                f"{self.database.name} at {login.host}:{login.port} rejected the {what}"
                f" of secret {secret_id!r} (user {login.username!r})",
                secret_id=secret_id,
            )
        return conn

    def test_credential(self, ctx: RotationContext) -> None:
        """Log in with AWSPENDING and run a query."""
        pending = self.login(ctx.pending, ctx, "AWSPENDING")
        conn = self.connect_or_reject(pending, secret_id=ctx.secret_id, what="AWSPENDING value")
        try:
            self.database.ping(conn)
        finally:
            conn.close()


class SingleUserStrategy(_DatabaseStrategy):
    """The user changes its own password. Clients briefly see it rejected between setSecret
    and finishSecret (secretcache's integrations then try AWSPENDING)."""

    def create_credential(self, ctx: RotationContext) -> SecretDict:
        """AWSCURRENT with a new password."""
        self.login(ctx.current, ctx, "AWSCURRENT")  # fail before anything changes
        return {**ctx.current, "password": ctx.random_password()}

    def set_credential(self, ctx: RotationContext) -> None:
        """Log in with AWSPENDING, AWSCURRENT or AWSPREVIOUS (in that order) and set AWSPENDING."""
        pending = self.login(ctx.pending, ctx, "AWSPENDING")
        current = self.login(ctx.current, ctx, "AWSCURRENT")
        if (pending.username, pending.host, pending.port) != (
            current.username,
            current.host,
            current.port,
        ):
            raise SecretFormatError(
                f"AWSPENDING of secret {ctx.secret_id!r} names another user or server than"
                " AWSCURRENT; a single-user rotation changes one user's password",
                secret_id=ctx.secret_id,
            )
        conn = self.try_connect(pending)
        if conn is not None:
            conn.close()
            logger.info("setSecret %r: the AWSPENDING password is already set", ctx.secret_id)
            return
        candidates = [("AWSCURRENT", current.password)]
        previous = ctx.previous
        if previous is not None and previous.get("password"):
            candidates.append(("AWSPREVIOUS", str(previous["password"])))
        for stage, password in candidates:
            conn = self.try_connect(replace(pending, password=password))
            if conn is None:
                continue
            try:
                self.database.set_own_password(conn, pending, pending.password)
            finally:
                conn.close()
            logger.info("setSecret %r: password set, logged in with %s", ctx.secret_id, stage)
            return
        raise CredentialsRejectedError(
            f"{self.database.name} at {pending.host}:{pending.port} rejected user"
            f" {pending.username!r} with AWSPENDING, AWSCURRENT and AWSPREVIOUS of secret"
            f" {ctx.secret_id!r}",
            secret_id=ctx.secret_id,
        )


class AlternatingUsersStrategy(_DatabaseStrategy):
    """Two users take turns: ``name`` and ``name_clone``, created and updated by a master.

    The secret names its master secret under ``master_key`` (``masterarn``, as RDS
    does). The user AWSPREVIOUS names keeps working until the next rotation, so clients
    never see a rejected password.
    """

    def __init__(
        self,
        database: Database,
        *,
        master_key: str = "masterarn",
        clone_suffix: str = "_clone",
        connect_timeout_seconds: float = 5.0,
        connect_options: Mapping[str, Any] | None = None,
        connection_defaults: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            database,
            connect_timeout_seconds=connect_timeout_seconds,
            connect_options=connect_options,
            connection_defaults=connection_defaults,
        )
        if not clone_suffix:
            raise ValueError("clone_suffix must not be empty")
        self.master_key = master_key
        self.clone_suffix = clone_suffix

    def other_user(self, username: str) -> str:
        """The user the next rotation switches to: ``name`` <-> ``name`` + suffix."""
        if username.endswith(self.clone_suffix) and len(username) > len(self.clone_suffix):
            return username[: -len(self.clone_suffix)]
        return username + self.clone_suffix

    def create_credential(self, ctx: RotationContext) -> SecretDict:
        """AWSCURRENT with the other user's name and a new password."""
        current = self.login(ctx.current, ctx, "AWSCURRENT")
        require(ctx.current, self.master_key, secret_id=ctx.secret_id, what="AWSCURRENT")
        username = self.other_user(current.username)
        self.database.check_username(username, secret_id=ctx.secret_id)
        return {**ctx.current, "username": username, "password": ctx.random_password()}

    def set_credential(self, ctx: RotationContext) -> None:
        """As the master user, create the other user or set its password."""
        current = self.login(ctx.current, ctx, "AWSCURRENT")
        pending = self.login(ctx.pending, ctx, "AWSPENDING")
        if pending.username == current.username:
            raise SecretFormatError(
                f"AWSPENDING of secret {ctx.secret_id!r} names the AWSCURRENT user; an"
                " alternating-users rotation switches users",
                secret_id=ctx.secret_id,
            )
        self.database.check_username(pending.username, secret_id=ctx.secret_id)
        master_id = str(
            require(ctx.current, self.master_key, secret_id=ctx.secret_id, what="AWSCURRENT")
        )
        master_value = ctx.read_secret(master_id, what="master secret")
        # The master secret may omit the server: it is the one the user lives on.
        server = {k: v for k, v in ctx.current.items() if k in {"host", "port", "dbname"}}
        master = Login.from_secret(
            {**server, **master_value},
            secret_id=master_id,
            what="master secret",
            default_port=self.database.default_port,
            defaults=self.connection_defaults,
        )
        conn = self.connect_or_reject(master, secret_id=master_id, what="master secret")
        try:
            self.database.upsert_user(
                conn,
                template=current.username,
                username=pending.username,
                password=pending.password,
                copy_grants=pending.username == current.username + self.clone_suffix,
            )
        finally:
            conn.close()
        logger.info("setSecret %r: user %r is set", ctx.secret_id, pending.username)
