"""Helpers for the rotation tests: an engine adapter over the test servers, secret set-up."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from secretcache.integrations.rotation import RotationStrategy

ENGINES = ("postgres", "mariadb")
KINDS = ("single", "alternating")


@dataclass
class Engine:
    """One database engine as the rotation tests use it."""

    name: str
    server: Any  # tests.servers.PgServer or MariaDbServer

    def strategy(self, kind: str, **kwargs: Any) -> RotationStrategy:
        """The library's strategy of that kind for this engine."""
        if self.name == "postgres":
            from secretcache.integrations.rotation import postgresql as module
        else:
            from secretcache.integrations.rotation import mysql as module
        cls = module.SingleUser if kind == "single" else module.AlternatingUsers
        strategy: RotationStrategy = cls(**kwargs)
        return strategy

    def is_rejected(self, exc: BaseException) -> bool:
        """Whether a connection error is the server refusing the password."""
        if self.name == "postgres":
            import psycopg

            return isinstance(exc, psycopg.OperationalError) and (
                "password authentication failed" in str(exc)
            )
        import pymysql

        return isinstance(exc, pymysql.err.OperationalError) and exc.args[0] == 1045

    def logs_in(self, value: dict[str, Any]) -> bool:
        """Whether the secret value's username/password logs in over TCP (and can query)."""
        try:
            conn = self.server.connect(value["username"], value["password"], value["dbname"])
        except Exception as exc:
            if self.is_rejected(exc):
                return False
            raise
        try:
            self.query(conn, "SELECT 1")
        finally:
            conn.close()
        return True

    def query(self, conn: Any, statement: str) -> list[tuple[Any, ...]]:
        """Run a statement on a driver connection; its rows."""
        if self.name == "postgres":
            cur = conn.execute(statement)
            rows = list(cur.fetchall()) if cur.description else []
            conn.commit()
            return rows
        with conn.cursor() as cur:
            cur.execute(statement)
            rows = list(cur.fetchall())
        conn.commit()
        return rows

    def create_master(self) -> Any:
        """A login that may create users and grant privileges (what RDS's master user can)."""
        if self.name == "postgres":
            return self.server.create_login(createrole=True, with_database=False)
        return self.server.create_login(admin=True, with_database=False)


def create_secret(sm_client: Any, name: str, value: dict[str, Any]) -> str:
    """Create a JSON secret on moto; its ARN."""
    response = sm_client.create_secret(Name=name, SecretString=json.dumps(value))
    return str(response["ARN"])


def read(sm_client: Any, name: str, stage: str = "AWSCURRENT") -> dict[str, Any]:
    """A stage's JSON value (always naming the stage: moto can be stale without one)."""
    response = sm_client.get_secret_value(SecretId=name, VersionStage=stage)
    value: dict[str, Any] = json.loads(response["SecretString"])
    return value


def stages(sm_client: Any, name: str) -> dict[str, list[str]]:
    """Version id to stages, leaving out versions with none."""
    versions = sm_client.describe_secret(SecretId=name)["VersionIdsToStages"]
    return {version: sorted(labels) for version, labels in versions.items() if labels}


def assert_rotated_to(sm_client: Any, name: str, token: str, previous: str) -> None:
    """AWSCURRENT is the token, AWSPREVIOUS the old version, and no AWSPENDING anywhere."""
    assert stages(sm_client, name) == {token: ["AWSCURRENT"], previous: ["AWSPREVIOUS"]}


def current_version(sm_client: Any, name: str) -> str:
    """The version id staged AWSCURRENT."""
    response = sm_client.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    return str(response["VersionId"])


class Setup:
    """Creates database logins and their secrets for one test; drops users (clones too) after."""

    def __init__(self, engine: Engine, sm_client: Any, secret_name: str) -> None:
        self.engine = engine
        self.sm_client = sm_client
        self.secret_name = secret_name
        self.master_name = secret_name + "-master"
        self._users: list[str] = []

    def secret(
        self,
        kind: str,
        *,
        username: str | None = None,
        password: str | None = None,
        masterarn: str | None = None,
    ) -> dict[str, Any]:
        """A login and its secret (with a master secret for ``alternating``); the value."""
        login = self.engine.server.create_login(password, username=username)
        self._users.append(login.username)
        value = login.secret()
        if kind == "alternating":
            if masterarn is None:
                master = self.engine.create_master()
                self._users.append(master.username)
                masterarn = create_secret(self.sm_client, self.master_name, master.secret())
            value["masterarn"] = masterarn
        create_secret(self.sm_client, self.secret_name, value)
        return value

    def track(self, username: str) -> None:
        """Drop this user (and its clone) at cleanup."""
        self._users.append(username)

    def cleanup(self) -> None:
        """Drop every user this test made, and the clones rotations made of them."""
        for username in self._users:
            for name in (username + "_clone", username):
                self.engine.server.drop_login(name)


def spellings(password: str) -> set[str]:
    """The forms a password takes in a log line: raw, JSON-escaped, repr-escaped."""
    forms = {
        password,
        json.dumps(password)[1:-1],
        json.dumps(password, ensure_ascii=False)[1:-1],
        repr(password)[1:-1],
    }
    return {form for form in forms if form}


def assert_no_password_logged(
    records: list[logging.LogRecord], passwords: set[str], *extra: str
) -> None:
    """No record (its message, its args, its exception) nor ``extra`` holds a password."""
    for record in records:
        parts = [record.getMessage(), str(record.args), record.exc_text or ""]
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(str(record.exc_info[1]))
        text = "\n".join(parts)
        for password in passwords:
            for form in spellings(password):
                assert form not in text, f"a password in a {record.levelname} of {record.name}"
    for text in extra:
        for password in passwords:
            for form in spellings(password):
                assert form not in text, "a password in an error message"
