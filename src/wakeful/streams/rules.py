"""The protocol's decisions about an append, as pure functions of stored state.

Both storage backends load a stream's row and producer state inside their transaction,
ask these functions what to do, and write the outcome. Keeping the rules here means the
SQLite and PostgreSQL backends cannot drift apart on protocol semantics.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..errors import BadRequest, Conflict, ErrorCode, SequenceGap, StaleEpoch, StreamClosed, excerpt
from . import framing
from .model import AppendRequest, ProducerState, StreamRecord


class Outcome(Enum):
    APPEND = "append"  # write the messages (and close, if asked)
    CLOSE = "close"  # close without writing
    DUPLICATE = "duplicate"  # a producer retry already applied: succeed, write nothing
    ALREADY_CLOSED = "already_closed"  # idempotent close-only request


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    producer: ProducerState | None = None


def closed_conflict(stream: StreamRecord) -> StreamClosed:
    return StreamClosed("stream is closed", next_offset=stream.tail)


def decide_append(
    stream: StreamRecord, state: ProducerState | None, request: AppendRequest
) -> Verdict:
    """What an append does to ``stream``, given the producer's stored ``state``."""
    claim = request.producer
    if stream.closed:
        if claim is not None and stream.closed_by == claim:
            return Verdict(Outcome.DUPLICATE, state)
        if not request.messages and request.close:
            return Verdict(Outcome.ALREADY_CLOSED, state)
        raise closed_conflict(stream)

    if request.messages:
        if request.content_type is None:
            raise BadRequest(
                "Content-Type is required with a body", code=ErrorCode.MISSING_CONTENT_TYPE
            )
        if framing.media_type(request.content_type) != framing.media_type(stream.content_type):
            raise Conflict(
                f"content type {request.content_type!r} does not match the stream's "
                f"{stream.content_type!r}",
                code=ErrorCode.CONTENT_TYPE_MISMATCH,
            )

    new_state = state
    if claim is not None:
        if state is None or claim.epoch > state.epoch:
            if claim.seq != 0:
                if state is None:
                    raise _sequence_gap(0, claim.seq)
                raise BadRequest(
                    "a new producer epoch must start at Producer-Seq 0",
                    code=ErrorCode.INVALID_EPOCH_SEQ,
                )
            new_state = ProducerState(claim.epoch, 0)
        elif claim.epoch < state.epoch:
            raise StaleEpoch(
                f"producer epoch {claim.epoch} is stale; current epoch is {state.epoch}",
                current_epoch=state.epoch,
            )
        elif claim.seq <= state.last_seq:
            return Verdict(Outcome.DUPLICATE, state)
        elif claim.seq > state.last_seq + 1:
            raise _sequence_gap(state.last_seq + 1, claim.seq)
        else:
            new_state = ProducerState(state.epoch, claim.seq)

    if (
        request.stream_seq is not None
        and stream.last_seq is not None
        and request.stream_seq.encode() <= stream.last_seq.encode()
    ):
        raise Conflict(
            f"Stream-Seq {excerpt(request.stream_seq)} is not greater than"
            f" {excerpt(stream.last_seq)}",
            code=ErrorCode.SEQUENCE_REGRESSION,
        )

    outcome = Outcome.APPEND if request.messages else Outcome.CLOSE
    return Verdict(outcome, new_state)


def _sequence_gap(expected: int, received: int) -> SequenceGap:
    return SequenceGap(
        f"producer sequence gap: expected {expected}, received {received}",
        expected=expected,
        received=received,
    )
