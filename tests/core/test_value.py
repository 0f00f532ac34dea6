"""SecretValue: text, binary, JSON, immutability, and no secret material in reprs or errors."""

from __future__ import annotations

import json
import pickle

import pytest

from secretcache import SecretFormatError, SecretValue, Stage, cache_key
from secretcache._value import FrozenDict

SECRET = "hunter2-do-not-leak"


def make(string: str | None = None, binary: bytes | None = None) -> SecretValue:
    return SecretValue(
        name="prod/db", version_id="v1", stages=["AWSCURRENT"], string=string, binary=binary
    )


def test_text_and_metadata() -> None:
    """A text secret exposes its string and identifiers."""
    value = make(string=SECRET)
    assert value.text == SECRET
    assert (value.name, value.version_id, value.stages) == ("prod/db", "v1", ("AWSCURRENT",))
    assert not value.is_binary


def test_repr_and_str_hide_the_value() -> None:
    """repr and str name the secret and version, never the value."""
    value = make(string=SECRET)
    for text in (repr(value), str(value), f"{value}"):
        assert SECRET not in text
        assert "prod/db" in text


def test_binary_read_as_text_is_a_format_error() -> None:
    """Reading a binary secret as text raises SecretFormatError, without the bytes."""
    value = make(binary=SECRET.encode())
    assert value.binary == SECRET.encode()
    with pytest.raises(SecretFormatError, match="binary") as info:
        _ = value.text
    assert SECRET not in str(info.value)


def test_text_read_as_binary_is_a_format_error() -> None:
    """Reading a text secret as binary raises SecretFormatError."""
    with pytest.raises(SecretFormatError, match="text, not binary"):
        _ = make(string=SECRET).binary


def test_json_is_parsed_once_and_read_only() -> None:
    """json() returns the same read-only object every time."""
    value = make(string=json.dumps({"password": SECRET, "hosts": ["a", "b"], "n": {"k": 1}}))
    document = value.json()
    assert document is value.json()
    assert isinstance(document, FrozenDict)
    assert document["hosts"] == ("a", "b")
    with pytest.raises(TypeError):
        document["password"] = "x"
    with pytest.raises(TypeError):
        document["n"].update(k=2)
    assert json.loads(json.dumps(document)) == {
        "password": SECRET,
        "hosts": ["a", "b"],
        "n": {"k": 1},
    }


@pytest.mark.parametrize("text", ["", SECRET, "{'single': 'quotes'}", '{"a": 1', "[1,,2]"])
def test_invalid_json_error_never_quotes_the_document(text: str) -> None:
    """Not-JSON raises SecretFormatError with a position, not chained to JSONDecodeError."""
    with pytest.raises(SecretFormatError, match="not valid JSON") as info:
        make(string=text).json()
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    if text:
        assert text not in str(info.value)


def test_field_names_the_missing_key_only() -> None:
    """field() on a missing key names the key, not the document."""
    value = make(string=json.dumps({"username": "app", "password": SECRET}))
    assert value.field("username") == "app"
    with pytest.raises(SecretFormatError, match="'host'") as info:
        value.field("host")
    assert SECRET not in str(info.value)


def test_field_on_a_json_array_is_a_format_error() -> None:
    """field() needs a JSON object."""
    with pytest.raises(SecretFormatError, match="not a JSON object"):
        make(string="[1, 2]").field("x")


def test_value_is_immutable_and_not_picklable() -> None:
    """Attributes cannot be set or deleted; pickling refuses to write the value out."""
    value = make(string=SECRET)
    with pytest.raises(AttributeError):
        value.version_id = "v2"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del value.name
    with pytest.raises(TypeError):
        pickle.dumps(value)


def test_unicode_and_large_values_round_trip() -> None:
    """A 64 KiB secret and non-ASCII text come back unchanged."""
    big = "é" * 32 + "x" * (64 * 1024 - 64)
    assert make(string=big).text == big
    assert make(string='{"pässword": "ключ🔑"}').json() == {"pässword": "ключ🔑"}


def test_cache_key_normalises_stages() -> None:
    """AWSCURRENT in any spelling is the bare id; other stages and versions differ."""
    assert cache_key("s") == cache_key("s", "AWSCURRENT") == cache_key("s", Stage.CURRENT) == "s"
    assert cache_key("s", Stage.PENDING) == cache_key("s", "AWSPENDING") != cache_key("s")
    assert cache_key("s", version_id="v") != cache_key("s", "v")
    with pytest.raises(ValueError, match="either"):
        cache_key("s", "AWSCURRENT", "v")
