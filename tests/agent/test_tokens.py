"""Counting tokens: the default estimate, a tiktoken encoding (made here byte by byte, as
no encoding can be downloaded in the tests), and a request measured as a whole."""

from __future__ import annotations

import tiktoken

from wakeful.agent.models.base import Message, ModelRequest, ToolCall
from wakeful.agent.tokens import (
    ESTIMATE,
    MESSAGE_OVERHEAD,
    TiktokenCounter,
    calibrated,
    count_request,
)


def test_the_estimate_rounds_characters_up_to_tokens() -> None:
    assert [ESTIMATE.count(text) for text in ("", "abc", "abcd", "abcde")] == [0, 1, 1, 2]


def test_a_tiktoken_encoding_counts_its_tokens() -> None:
    encoding = tiktoken.Encoding(
        "bytes",
        pat_str=r"\S+|\s+",
        mergeable_ranks={bytes([byte]): byte for byte in range(256)},
        special_tokens={},
    )
    counter = TiktokenCounter(encoding)
    assert counter.count("héllo") == len("héllo".encode())


def test_a_request_counts_system_tools_calls_and_messages() -> None:
    call = ToolCall("c1", "look", {"q": "x"})
    request = ModelRequest(
        messages=(Message("user", "abcd"), Message("assistant", "", (call,))),
        system="abcdefgh",
    )
    expected = (MESSAGE_OVERHEAD + 2) + (MESSAGE_OVERHEAD + 1) + (MESSAGE_OVERHEAD + 1 + 3)
    assert count_request(ESTIMATE, request) == expected


def test_the_last_reported_step_corrects_the_estimate() -> None:
    assert calibrated(100, None, None) == 100
    assert calibrated(100, 80, 200) == 220
    assert calibrated(10, 80, 20) == 0
