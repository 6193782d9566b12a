"""The append decisions: producer epoch / sequence state machine, closed-stream precedence,
content types and ``Stream-Seq`` ordering, as pure functions of stored state."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wakeful.errors import BadRequest, Conflict, Forbidden, WakefulError
from wakeful.streams import rules
from wakeful.streams.http.statuses import headers_of, status_of
from wakeful.streams.model import AppendRequest, ProducerClaim, ProducerState, StreamRecord
from wakeful.streams.offsets import format_offset
from wakeful.streams.rules import Outcome

JSON = "application/json"


def stream(
    *,
    content_type: str = JSON,
    tail: int = 10,
    closed: bool = False,
    closed_by: ProducerClaim | None = None,
    last_seq: str | None = None,
) -> StreamRecord:
    return StreamRecord(
        id=1,
        path="s",
        content_type=content_type,
        created_at=0.0,
        ttl_seconds=None,
        expires_at=None,
        last_access=0.0,
        tail=tail,
        closed=closed,
        closed_by=closed_by,
        last_seq=last_seq,
        fork_of=None,
        fork_pos=0,
        fork_request=None,
        forks=0,
        deleted=False,
    )


def append(
    *messages: bytes,
    content_type: str | None = JSON,
    close: bool = False,
    seq: str | None = None,
    producer: ProducerClaim | None = None,
) -> AppendRequest:
    return AppendRequest("s", content_type, list(messages), close, seq, producer)


def claim(epoch: int, seq: int, producer_id: str = "p") -> ProducerClaim:
    return ProducerClaim(producer_id, epoch, seq)


# -- plain appends ----------------------------------------------------------------------


def test_plain_append_and_close_outcomes() -> None:
    assert rules.decide_append(stream(), None, append(b"1")).outcome is Outcome.APPEND
    assert rules.decide_append(stream(), None, append(b"1", close=True)).outcome is Outcome.APPEND
    assert rules.decide_append(stream(), None, append(close=True)).outcome is Outcome.CLOSE
    # A close-only request carries no body, so its content type does not matter.
    close_only = append(close=True, content_type="text/plain")
    assert rules.decide_append(stream(), None, close_only).outcome is Outcome.CLOSE


def test_missing_content_type_with_body() -> None:
    with pytest.raises(BadRequest) as caught:
        rules.decide_append(stream(), None, append(b"1", content_type=None))
    assert caught.value.code == "MISSING_CONTENT_TYPE"


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "APPLICATION/JSON", " application/json"]
)
def test_content_type_compares_media_types(content_type: str) -> None:
    verdict = rules.decide_append(stream(), None, append(b"1", content_type=content_type))
    assert verdict.outcome is Outcome.APPEND


@pytest.mark.parametrize("content_type", ["text/plain", "application/ndjson", "application/jsonx"])
def test_content_type_mismatch_is_conflict(content_type: str) -> None:
    with pytest.raises(Conflict) as caught:
        rules.decide_append(stream(), None, append(b"1", content_type=content_type))
    assert caught.value.code == "CONTENT_TYPE_MISMATCH"
    assert "Stream-Closed" not in headers_of(caught.value)


# -- closed streams ---------------------------------------------------------------------


def _assert_closed_conflict(error: WakefulError, tail: int) -> None:
    assert isinstance(error, Conflict)
    assert error.code == "STREAM_CLOSED"
    assert headers_of(error)["Stream-Closed"] == "true"
    assert headers_of(error)["Stream-Next-Offset"] == format_offset(tail)


def test_append_to_closed_stream_is_conflict_with_final_offset() -> None:
    with pytest.raises(Conflict) as caught:
        rules.decide_append(stream(closed=True, tail=77), None, append(b"1"))
    _assert_closed_conflict(caught.value, 77)


def test_close_only_on_closed_stream_is_idempotent() -> None:
    verdict = rules.decide_append(stream(closed=True), None, append(close=True))
    assert verdict.outcome is Outcome.ALREADY_CLOSED


def test_append_and_close_on_closed_stream_is_not_idempotent() -> None:
    with pytest.raises(Conflict) as caught:
        rules.decide_append(stream(closed=True, tail=5), None, append(b"1", close=True))
    _assert_closed_conflict(caught.value, 5)


@pytest.mark.parametrize(
    ("state", "request_"),
    [
        # closed beats a content type mismatch
        (None, append(b"x", content_type="text/plain")),
        # closed beats a missing content type
        (None, append(b"x", content_type=None)),
        # closed beats a Stream-Seq regression
        (None, append(b"1", seq="a")),
        # closed beats a stale producer epoch
        (ProducerState(5, 3), append(b"1", producer=claim(4, 0))),
        # closed beats a producer sequence gap
        (ProducerState(5, 3), append(b"1", producer=claim(5, 9))),
        # closed beats a bad new-epoch sequence
        (ProducerState(5, 3), append(b"1", producer=claim(6, 1))),
        # closed beats what would otherwise be a producer duplicate
        (ProducerState(5, 3), append(b"1", producer=claim(5, 2))),
    ],
)
def test_closed_takes_precedence_over_every_other_error(
    state: ProducerState | None, request_: AppendRequest
) -> None:
    closed = stream(closed=True, tail=12, last_seq="z", closed_by=claim(5, 3, "closer"))
    with pytest.raises(Conflict) as caught:
        rules.decide_append(closed, state, request_)
    _assert_closed_conflict(caught.value, 12)


def test_retry_of_the_closing_producer_request_is_a_duplicate() -> None:
    closer = claim(2, 7)
    closed = stream(closed=True, closed_by=closer)
    state = ProducerState(2, 7)
    verdict = rules.decide_append(closed, state, append(b"1", close=True, producer=closer))
    assert verdict.outcome is Outcome.DUPLICATE
    assert verdict.producer == state
    # The same producer with any other triple gets the closed conflict.
    for other in (claim(2, 8), claim(2, 6), claim(3, 0), claim(2, 7, "q")):
        with pytest.raises(Conflict):
            rules.decide_append(closed, state, append(b"1", producer=other))


# -- Stream-Seq -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last", "sent", "accepted"),
    [
        (None, "anything", True),
        ("a", "b", True),
        ("a", "a", False),
        ("b", "a", False),
        ("9", "10", False),  # byte-wise, not numeric
        ("10", "9", True),
        ("a", "B", False),  # upper case sorts before lower case
        ("abc", "abcd", True),
        ("abcd", "abc", False),
        ("é", "z", False),  # UTF-8 bytes of é (0xc3...) sort after z (0x7a)
    ],
)
def test_stream_seq_must_increase_bytewise(last: str | None, sent: str, accepted: bool) -> None:
    request = append(b"1", seq=sent)
    if accepted:
        assert rules.decide_append(stream(last_seq=last), None, request).outcome is Outcome.APPEND
    else:
        with pytest.raises(Conflict) as caught:
            rules.decide_append(stream(last_seq=last), None, request)
        assert caught.value.code == "SEQUENCE_REGRESSION"


def test_content_type_mismatch_precedes_seq_regression() -> None:
    with pytest.raises(Conflict) as caught:
        rules.decide_append(
            stream(last_seq="b"), None, append(b"1", seq="a", content_type="text/plain")
        )
    assert caught.value.code == "CONTENT_TYPE_MISMATCH"


# -- idempotent producers ---------------------------------------------------------------


def test_new_producer_starts_at_seq_zero() -> None:
    verdict = rules.decide_append(stream(), None, append(b"1", producer=claim(0, 0)))
    assert verdict == rules.Verdict(Outcome.APPEND, ProducerState(0, 0))
    verdict = rules.decide_append(stream(), None, append(b"1", producer=claim(7, 0)))
    assert verdict == rules.Verdict(Outcome.APPEND, ProducerState(7, 0))


def test_new_producer_with_nonzero_seq_is_a_gap() -> None:
    with pytest.raises(Conflict) as caught:
        rules.decide_append(stream(), None, append(b"1", producer=claim(0, 3)))
    assert caught.value.code == "SEQUENCE_GAP"
    assert headers_of(caught.value) == {"Producer-Expected-Seq": "0", "Producer-Received-Seq": "3"}


def test_next_seq_is_accepted() -> None:
    verdict = rules.decide_append(stream(), ProducerState(1, 4), append(b"1", producer=claim(1, 5)))
    assert verdict == rules.Verdict(Outcome.APPEND, ProducerState(1, 5))


@pytest.mark.parametrize("seq", [0, 3, 4])
def test_seen_seq_is_a_duplicate(seq: int) -> None:
    state = ProducerState(1, 4)
    verdict = rules.decide_append(stream(), state, append(b"1", producer=claim(1, seq)))
    assert verdict == rules.Verdict(Outcome.DUPLICATE, state)


def test_seq_gap_reports_expected_and_received() -> None:
    with pytest.raises(Conflict) as caught:
        rules.decide_append(stream(), ProducerState(1, 4), append(b"1", producer=claim(1, 9)))
    assert caught.value.code == "SEQUENCE_GAP"
    assert headers_of(caught.value) == {"Producer-Expected-Seq": "5", "Producer-Received-Seq": "9"}


def test_stale_epoch_is_fenced_with_current_epoch() -> None:
    with pytest.raises(Forbidden) as caught:
        rules.decide_append(stream(), ProducerState(3, 0), append(b"1", producer=claim(2, 0)))
    assert status_of(caught.value) == 403
    assert caught.value.code == "STALE_EPOCH"
    assert headers_of(caught.value) == {"Producer-Epoch": "3"}


def test_new_epoch_must_start_at_zero() -> None:
    with pytest.raises(BadRequest) as caught:
        rules.decide_append(stream(), ProducerState(3, 9), append(b"1", producer=claim(4, 1)))
    assert caught.value.code == "INVALID_EPOCH_SEQ"
    verdict = rules.decide_append(stream(), ProducerState(3, 9), append(b"1", producer=claim(4, 0)))
    assert verdict == rules.Verdict(Outcome.APPEND, ProducerState(4, 0))


def test_producer_close_only_advances_state() -> None:
    verdict = rules.decide_append(
        stream(), ProducerState(0, 0), append(close=True, producer=claim(0, 1))
    )
    assert verdict == rules.Verdict(Outcome.CLOSE, ProducerState(0, 1))


def test_producer_and_stream_seq_checks_both_apply() -> None:
    # A fresh producer sequence does not excuse a Stream-Seq regression.
    with pytest.raises(Conflict) as caught:
        rules.decide_append(
            stream(last_seq="m"), ProducerState(0, 0), append(b"1", seq="a", producer=claim(0, 1))
        )
    assert caught.value.code == "SEQUENCE_REGRESSION"


# -- the state machine against the specification's pseudo-code --------------------------


@dataclass(frozen=True)
class Expected:
    status: int
    state: tuple[int, int] | None  # stored (epoch, last_seq) afterwards
    appended: bool


def spec(state: tuple[int, int] | None, epoch: int, seq: int) -> Expected:
    """PROTOCOL.md 5.2.1 "Validation Logic", written out independently of the server."""
    if state is None:
        if seq == 0:
            return Expected(200, (epoch, 0), True)
        return Expected(409, None, False)
    current_epoch, last_seq = state
    if epoch < current_epoch:
        return Expected(403, state, False)
    if epoch > current_epoch:
        if seq != 0:
            return Expected(400, state, False)
        return Expected(200, (epoch, 0), True)
    if seq <= last_seq:
        return Expected(204, state, False)
    if seq == last_seq + 1:
        return Expected(200, (epoch, seq), True)
    return Expected(409, state, False)


claims = st.tuples(st.integers(0, 3), st.integers(0, 5))


@given(st.lists(claims, max_size=40))
def test_producer_state_machine_matches_the_specification(sequence: list[tuple[int, int]]) -> None:
    state: ProducerState | None = None
    model: tuple[int, int] | None = None
    accepted: list[tuple[int, int]] = []
    for epoch, seq in sequence:
        expected = spec(model, epoch, seq)
        try:
            verdict = rules.decide_append(stream(), state, append(b"1", producer=claim(epoch, seq)))
        except WakefulError as error:
            assert status_of(error) == expected.status, (model, epoch, seq)
        else:
            status = 204 if verdict.outcome is Outcome.DUPLICATE else 200
            assert status == expected.status, (model, epoch, seq)
            if verdict.outcome is Outcome.APPEND:
                accepted.append((epoch, seq))
            state = verdict.producer
        assert (None if state is None else (state.epoch, state.last_seq)) == expected.state
        model = expected.state
    # What was written is, per epoch, exactly the sequence numbers 0, 1, 2, ... in order,
    # and epochs never go backwards: retries can never duplicate or reorder data.
    assert accepted == sorted(accepted)
    for epoch in {e for e, _ in accepted}:
        seqs = [s for e, s in accepted if e == epoch]
        assert seqs == list(range(len(seqs)))
