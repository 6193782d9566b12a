"""How request bodies become stored messages, and stored messages become read bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wakeful.errors import BadRequest
from wakeful.streams import framing

JSON = "application/json"


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", "application/json"),
        ("Application/JSON; charset=utf-8", "application/json"),
        ("  text/plain ;charset=latin-1", "text/plain"),
        ("application/octet-stream", "application/octet-stream"),
    ],
)
def test_media_type_ignores_case_parameters_and_spaces(content_type: str, expected: str) -> None:
    assert framing.media_type(content_type) == expected


def test_json_and_text_detection() -> None:
    assert framing.is_json("application/json; charset=utf-8")
    assert not framing.is_json("application/ndjson")
    assert not framing.is_json("text/json+x")
    assert framing.is_text("text/plain")
    assert framing.is_text("TEXT/Markdown")
    assert framing.is_text("application/json")
    assert not framing.is_text("application/octet-stream")
    assert not framing.is_text("application/x-protobuf")


@pytest.mark.parametrize("creating", [True, False])
def test_bytes_are_one_message_verbatim(creating: bool) -> None:
    body = b"\x00\xff[not json]\r\n\x80"
    assert framing.frame("application/octet-stream", body, creating=creating) == [body]
    assert framing.frame("text/plain", b"[1,2]", creating=creating) == [b"[1,2]"]
    assert framing.frame("application/octet-stream", b"", creating=creating) == []


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        (b'{"event": "created"}', [b'{"event":"created"}']),
        (b'[{"event": "a"}, {"event": "b"}]', [b'{"event":"a"}', b'{"event":"b"}']),
        (b"[[1,2], [3,4]]", [b"[1,2]", b"[3,4]"]),
        (b"[[[1,2,3]]]", [b"[[1,2,3]]"]),
        (b'"just a string"', [b'"just a string"']),
        (b"  42  ", [b"42"]),
        (b"null", [b"null"]),
        (b"[null, true, false]", [b"null", b"true", b"false"]),
        (b"[[]]", [b"[]"]),
        (b'{"text": "h\\u00e9llo \\ud83d\\ude00"}', ['{"text":"héllo 😀"}'.encode()]),
    ],
)
def test_json_arrays_flatten_exactly_one_level(body: bytes, messages: list[bytes]) -> None:
    assert framing.frame(JSON, body, creating=False) == messages


def test_empty_json_array_appends_nothing_but_may_create() -> None:
    assert framing.frame(JSON, b"[]", creating=True) == []
    assert framing.frame(JSON, b" [ ] ", creating=True) == []
    with pytest.raises(BadRequest) as caught:
        framing.frame(JSON, b"[]", creating=False)
    assert caught.value.code == "EMPTY_ARRAY"


def test_empty_json_body_is_no_messages() -> None:
    assert framing.frame(JSON, b"", creating=True) == []


LONG = b"123456789012345678901234567890"  # takes the exact (standard library) parser


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[1,2",
        b"{'single': 'quotes'}",
        b"undefined",
        b"NaN",
        b"[Infinity]",
        b"-Infinity",
        b"1e400",
        b"[1, 2,]",
        b"{} {}",
        b"\xff\xfe",
        b" ",
        b"// comment\n1",
        # The same mistakes on the exact path, taken for bodies with very long integers.
        b"[" + LONG + b", NaN]",
        b"[" + LONG + b", Infinity]",
        b"[" + LONG + b", 1e400]",
        b"[" + LONG + b", -1e400]",
        b"[" + LONG + b",",
        b"[" + LONG + b"] x",
        b"[" + LONG + b', "\xff"]',
        b'"\\ud800"',  # a lone surrogate: no UTF-8 text can hold it
        b"[" + LONG + b', "\\ud800"]',
    ],
)
def test_invalid_json_is_rejected(body: bytes) -> None:
    with pytest.raises(BadRequest) as caught:
        framing.frame(JSON, body, creating=False)
    assert caught.value.code == "INVALID_JSON"
    assert "JSON" in caught.value.message


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 255 + b"]" * 255,
        b"[" * 1_000 + LONG + b"]" * 1_000,
        b"[" * 100_000 + b"]" * 100_000,  # past what either parser reads
        b"[" * 100_000 + LONG + b"]" * 100_000,
    ],
    ids=["255", "1000-long", "100000", "100000-long"],
)
def test_deep_nesting_is_refused_as_too_deep(body: bytes) -> None:
    with pytest.raises(BadRequest) as caught:
        framing.frame(JSON, body, creating=False)
    assert caught.value.code == "JSON_TOO_DEEP"


@pytest.mark.parametrize(
    "number",
    [
        b"12345678901234567890",
        b"-12345678901234567890",
        b"123456789012345678901234567890123456789",
        b"18446744073709551616",  # 2**64
        b"9223372036854775808",  # 2**63
    ],
)
def test_integers_beyond_64_bits_are_kept_exactly(number: bytes) -> None:
    messages = framing.frame(JSON, b'[{"n": ' + number + b"}, " + number + b"]", creating=False)
    assert messages == [b'{"n":' + number + b"}", number]


def test_stored_messages_are_always_valid_json() -> None:
    body = b'[1.5e300, -0.0, 0.1, "\\u0000", {"a": [1, {"b": null}]}, ' + LONG + b"]"
    for message in framing.frame(JSON, body, creating=False):
        json.loads(message)


def test_render_wraps_json_and_concatenates_bytes() -> None:
    assert framing.render(JSON, []) == b"[]"
    assert framing.render(JSON, [b"1", b'{"a":2}']) == b'[1,{"a":2}]'
    assert framing.render("text/plain", [b"ab", b"", b"c"]) == b"abc"
    assert framing.render("application/octet-stream", []) == b""


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.lists(json_values, min_size=1, max_size=8))
def test_frame_then_render_round_trips_values(values: list[Any]) -> None:
    body = json.dumps(values).encode()
    messages = framing.frame(JSON, body, creating=False)
    assert len(messages) == len(values)
    assert json.loads(framing.render(JSON, messages)) == values
    for message, value in zip(messages, values, strict=True):
        assert json.loads(message) == value


@given(json_values)
def test_a_non_array_value_is_one_message(value: Any) -> None:
    if isinstance(value, list):
        return
    messages = framing.frame(JSON, json.dumps(value).encode(), creating=False)
    assert len(messages) == 1
    assert json.loads(messages[0]) == value


@given(st.binary(min_size=1))
def test_any_bytes_are_stored_verbatim(body: bytes) -> None:
    assert framing.frame("application/octet-stream", body, creating=False) == [body]
    assert framing.render("application/octet-stream", [body]) == body
