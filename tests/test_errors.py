"""The error vocabulary: every class travels over HTTP and comes back as itself, each kind
keeps its status, and nothing in the package branches on a code string."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest

import wakeful.errors as errors
from wakeful.client.errors import from_response
from wakeful.errors import (
    BY_CODE,
    AlreadyClaimed,
    Conflict,
    ErrorCode,
    Fenced,
    NotFound,
    SequenceGap,
    StaleEpoch,
    StreamClosed,
    StreamDeleted,
    StreamNotFound,
    UnknownThread,
    WakefulError,
)
from wakeful.streams.http.context import error_response
from wakeful.streams.http.statuses import STATUS_OF_KIND, headers_of, status_of

SOURCE = Path(errors.__file__).parent
CLASSES = [
    value
    for value in vars(errors).values()
    if isinstance(value, type) and issubclass(value, WakefulError)
]


def answered(error: WakefulError) -> httpx.Response:
    """The server's answer to ``error``, as the client receives it."""
    served = error_response(error)
    request = httpx.Request("POST", "http://127.0.0.1:8787/v1/anything")
    return httpx.Response(
        served.status_code, headers=dict(served.headers), content=served.body, request=request
    )


@pytest.mark.parametrize("kind", sorted(BY_CODE.values(), key=lambda kind: kind.__name__))
def test_each_class_with_a_code_comes_back_from_the_wire_as_itself(
    kind: type[WakefulError],
) -> None:
    sent = kind("it went wrong")
    received = from_response(answered(sent))
    assert type(received) is kind
    assert (received.code, received.message) == (sent.code, "it went wrong")
    assert received.status == status_of(sent) and sent.status is None


def test_kinds_keep_their_code_and_status_and_unknown_codes_survive() -> None:
    for kind, status in STATUS_OF_KIND.items():
        sent = kind("refused", code=ErrorCode.INVALID_BODY)
        received = from_response(answered(sent))
        assert isinstance(received, kind) and received.status == status
        assert received.code == "INVALID_BODY"
    # A code this version does not know arrives as the kind its status names.
    response = httpx.Response(
        409,
        json={"error": {"code": "SOMETHING_NEW", "message": "newer server"}},
        request=httpx.Request("GET", "http://127.0.0.1:8787/"),
    )
    received = from_response(response)
    assert type(received) is Conflict and received.code == "SOMETHING_NEW"


def test_classes_sharing_a_kinds_code_arrive_as_the_kind() -> None:
    for sent, kind in ((StreamNotFound("no"), NotFound), (StreamDeleted("gone"), errors.Gone)):
        assert sent.code == kind.default_code
        assert type(from_response(answered(sent))) is kind


def test_protocol_headers_travel_with_their_errors() -> None:
    closed = answered(StreamClosed("closed", next_offset=5))
    assert (closed.status_code, closed.headers["Stream-Closed"]) == (409, "true")
    assert closed.headers["Stream-Next-Offset"].endswith("5")
    stale = answered(StaleEpoch("stale", current_epoch=3))
    assert (stale.status_code, stale.headers["Producer-Epoch"]) == (403, "3")
    gap = answered(SequenceGap("gap", expected=2, received=7))
    assert (gap.headers["Producer-Expected-Seq"], gap.headers["Producer-Received-Seq"]) == (
        "2",
        "7",
    )
    assert headers_of(Fenced("fenced")) == {}


def test_details_are_part_of_the_error_shape() -> None:
    claimed = AlreadyClaimed("taken", details={"current_holder": "w1", "generation": 4})
    body = answered(claimed).json()["error"]
    assert body == {
        "code": "ALREADY_CLAIMED",
        "message": "taken",
        "current_holder": "w1",
        "generation": 4,
    }


def test_the_class_tree_says_what_callers_catch() -> None:
    assert issubclass(Fenced, Conflict) and issubclass(StaleEpoch, errors.Forbidden)
    assert issubclass(UnknownThread, errors.UnknownEntity)
    assert issubclass(errors.InvalidAddress, ValueError)
    assert issubclass(errors.ServerUnreachable, ConnectionError)
    for kind in CLASSES:
        assert status_of(kind("x")) in STATUS_OF_KIND.values() or kind in (
            WakefulError,
            errors.InvalidURL,
            errors.ServerUnreachable,
        )
    codes = {kind.default_code for kind in CLASSES}
    assert {ErrorCode.FENCED, ErrorCode.STALE_EPOCH, ErrorCode.NO_SUBSCRIPTION} <= codes


def test_no_code_branches_on_an_error_code_string() -> None:
    """``error.code == "FENCED"`` is what the classes replace; none may come back."""
    # Errors of other libraries keep codes of their own: the MCP SDK's JSON-RPC error
    # has one integer code for "connection closed" and no class for it.
    foreign = {"agent/mcp.py"}
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        if str(path.relative_to(SOURCE)) in foreign:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            if any(isinstance(side, ast.Attribute) and side.attr == "code" for side in sides):
                found.append(f"{path.relative_to(SOURCE)}:{node.lineno}")
    assert found == []
