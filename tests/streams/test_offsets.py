"""Offset tokens: fixed width, lexicographic order equal to numeric order, strict parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wakeful.errors import BadRequest
from wakeful.streams import offsets
from wakeful.streams.http.statuses import status_of

# Stream positions are byte counts stored as 64-bit integers.
positions = st.integers(min_value=0, max_value=(1 << 63) - 1)


def test_known_values() -> None:
    assert offsets.format_offset(0) == "0000000000000000_0000000000000000"
    assert offsets.format_offset(42) == "0000000000000000_0000000000000042"
    assert offsets.format_offset(10**16) == "0000000000000001_0000000000000000"
    assert offsets.format_offset(10**16 + 7) == "0000000000000001_0000000000000007"
    assert offsets.format_offset(0) == offsets.ZERO
    assert offsets.parse_offset("0000000000000001_0000000000000007") == 10**16 + 7


@given(positions)
def test_round_trip_and_fixed_width(position: int) -> None:
    token = offsets.format_offset(position)
    assert len(token) == 33
    assert token[16] == "_"
    assert offsets.parse_offset(token) == position


@given(positions, positions)
def test_lexicographic_order_is_numeric_order(a: int, b: int) -> None:
    ta, tb = offsets.format_offset(a), offsets.format_offset(b)
    assert (ta < tb) == (a < b)
    assert (ta == tb) == (a == b)


@given(positions)
def test_tokens_are_url_safe_and_never_sentinels(position: int) -> None:
    token = offsets.format_offset(position)
    assert token not in (offsets.BEGINNING, offsets.NOW)
    assert not set(token) & set(",&=?/ %+#")
    assert token.isascii()


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "../x",
        "1_2",
        "-1",
        "now",
        "42",
        "0000000000000000-0000000000000042",
        "0000000000000000_000000000000004",  # one digit short
        "0000000000000000_00000000000000420",  # one digit long
        " 0000000000000000_0000000000000042",
        "0000000000000000_0000000000000042 ",
        "0000000000000000_0000000000000042\n",
        "+000000000000000_0000000000000042",
        "0000000000000000_-000000000000042",
        "0000000000000000_00000000000000x2",
        "0000000000000000__000000000000042",
        "0" * 10_000,
        "1" * 16 + "_" + "1" * 10_000,
        # Digits outside ASCII are still "digits" to Python; they are not offsets.
        "\u0660" * 16 + "_" + "\u0660" * 15 + "\u0664",
        "０" * 16 + "_" + "０" * 16,  # noqa: RUF001 (fullwidth digits on purpose)
    ],
)
def test_malformed_tokens_are_rejected(token: str) -> None:
    with pytest.raises(BadRequest) as caught:
        offsets.parse_offset(token)
    assert caught.value.code == "INVALID_OFFSET"
    assert status_of(caught.value) == 400
    # The message quotes the offending token, but never echoes an unbounded amount of it.
    assert "offset" in caught.value.message
    assert len(caught.value.message) < 200


@given(st.text(max_size=40))
def test_parse_accepts_exactly_what_format_produces(token: str) -> None:
    try:
        position = offsets.parse_offset(token)
    except BadRequest:
        return
    assert offsets.format_offset(position) == token
