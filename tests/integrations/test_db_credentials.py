"""RDS-style secrets parsed into database credentials; errors name keys, never values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from secretcache import SecretFormatError, SecretValue
from secretcache.integrations._credentials import (
    MYSQL,
    POSTGRESQL,
    parse_credentials,
    reject_credential_kwargs,
)

PASSWORD = "s3cr3t-Pa55word"


def _value(document: Any) -> SecretValue:
    text = document if isinstance(document, str) else json.dumps(document)
    return SecretValue(name="prod/db", version_id="v1", stages=("AWSCURRENT",), string=text)


def _rds(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "engine": "postgres",
        "host": "db.example.internal",
        "port": 5432,
        "username": "app",
        "password": PASSWORD,
        "dbname": "orders",
    }
    document.update(overrides)
    return {key: item for key, item in document.items() if item is not ...}


def test_full_rds_secret() -> None:
    """Every field of an RDS secret lands in the credentials, with the engine's family."""
    creds = parse_credentials(_value(_rds()))
    assert (creds.username, creds.password, creds.host, creds.port, creds.dbname) == (
        "app",
        PASSWORD,
        "db.example.internal",
        5432,
        "orders",
    )
    assert (creds.engine, creds.family, creds.version_id) == ("postgres", POSTGRESQL, "v1")


def test_repr_hides_password() -> None:
    """The credentials' repr shows the login's address and user, not the password."""
    text = repr(parse_credentials(_value(_rds())))
    assert "app" in text
    assert PASSWORD not in text


@pytest.mark.parametrize(
    ("engine", "family"),
    [
        ("postgres", POSTGRESQL),
        ("aurora-postgresql", POSTGRESQL),
        ("mysql", MYSQL),
        ("mariadb", MYSQL),
        ("aurora-mysql", MYSQL),
        ("aurora", MYSQL),
        ("MySQL", MYSQL),
    ],
)
def test_engine_families(engine: str, family: str) -> None:
    """RDS's engine names map to the driver family that connects to them."""
    assert parse_credentials(_value(_rds(engine=engine))).family == family


def test_port_as_string() -> None:
    """RDS writes port as a number, other tools as a string: both parse to an int."""
    assert parse_credentials(_value(_rds(port="3306"))).port == 3306


@pytest.mark.parametrize("port", ["abc", 0, 70000, True, 5432.5, "-1"])
def test_bad_port_names_the_key(port: object) -> None:
    """A port that is no port number is a SecretFormatError naming 'port'."""
    with pytest.raises(SecretFormatError, match="'port' is not a port number"):
        parse_credentials(_value(_rds(port=port)))


def test_username_and_password_only() -> None:
    """A secret with only a login parses; the rest is left for the code to give."""
    creds = parse_credentials(_value({"username": "app", "password": PASSWORD}))
    assert (creds.host, creds.port, creds.dbname, creds.engine, creds.family) == (
        None,
        None,
        None,
        None,
        None,
    )


def test_dbname_optional() -> None:
    """No dbname (or an empty one) means the server's default database."""
    assert parse_credentials(_value(_rds(dbname=...))).dbname is None
    assert parse_credentials(_value(_rds(dbname=""))).dbname is None


@pytest.mark.parametrize("key", ["password", "username"])
def test_missing_login_key_is_named(key: str) -> None:
    """A missing username or password is a SecretFormatError naming the key, not a value."""
    with pytest.raises(SecretFormatError) as info:
        parse_credentials(_value(_rds(**{key: ...})))
    assert f"has no {key!r}" in str(info.value)
    assert PASSWORD not in str(info.value)
    assert info.value.secret_id == "prod/db"


def test_non_string_password_is_named_not_shown() -> None:
    """A password of the wrong type names the key and does not show the value."""
    with pytest.raises(SecretFormatError, match="'password' is not a string") as info:
        parse_credentials(_value(_rds(password=123456789)))
    assert "123456789" not in str(info.value)


def test_unknown_engine_is_named() -> None:
    """An unknown engine is refused, quoting its name and the known ones."""
    with pytest.raises(SecretFormatError, match="unknown 'engine' 'oracle-ee'") as info:
        parse_credentials(_value(_rds(engine="oracle-ee")))
    assert "aurora-postgresql" in str(info.value)
    assert PASSWORD not in str(info.value)


def test_unknown_engine_with_odd_text_is_not_quoted() -> None:
    """An engine value that looks like anything but a name is not repeated in the error."""
    odd = "x" * 60 + " " + PASSWORD
    with pytest.raises(SecretFormatError) as info:
        parse_credentials(_value(_rds(engine=odd)))
    assert PASSWORD not in str(info.value)


def test_engine_of_the_other_family_is_refused() -> None:
    """A MySQL secret given to a PostgreSQL driver fails clearly instead of connecting."""
    with pytest.raises(SecretFormatError, match="is for a mysql engine, not postgresql"):
        parse_credentials(_value(_rds(engine="mariadb")), family=POSTGRESQL)


def test_not_an_object() -> None:
    """A JSON array or a plain string secret is not a database secret."""
    with pytest.raises(SecretFormatError, match="not a JSON object"):
        parse_credentials(_value([1, 2]))
    with pytest.raises(SecretFormatError, match="not valid JSON"):
        parse_credentials(_value(PASSWORD))


def test_login_given_in_code_is_refused() -> None:
    """user=/password= in code would be silently overridden: they are a TypeError instead."""
    with pytest.raises(TypeError, match="password, user: the login comes from the secret"):
        reject_credential_kwargs({"user": "x", "password": "y", "host": "h"}, "user", "password")
    reject_credential_kwargs({"host": "h"}, "user", "password")
