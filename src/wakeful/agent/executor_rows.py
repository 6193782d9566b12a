"""A call in an executor's queue and a refused late write, as the queue stream and the
executors API spell them (see :mod:`wakeful.agent.executor_queue`)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ..errors import BadRequest, ErrorCode

NAME_PATTERN = re.compile(r"\A[a-z][a-z0-9_-]{0,63}\Z")

CallState = Literal["pending", "claimed", "completed", "failed", "cancelled"]
DONE: frozenset[str] = frozenset({"completed", "failed", "cancelled"})


def check_name(name: str) -> str:
    if NAME_PATTERN.match(name) is None:
        raise BadRequest(
            f"executor name {name!r} must be 1-64 lowercase letters, digits, '_' or '-',"
            " starting with a letter",
            code=ErrorCode.INVALID_EXECUTOR,
        )
    return name


class ExecutorCall(BaseModel):
    """A call in an executor's queue, as listed and claimed (the wire vocabulary)."""

    model_config = ConfigDict(frozen=True)

    key: str
    executor: str
    entity: str
    call_id: str
    run_id: str
    tool: str
    args: dict[str, Any] = {}
    idempotency_key: str
    status: CallState = "pending"
    #: How many claims the call had (the first claim is attempt 1).
    attempt: int = 0
    max_attempts: int = 1
    backoff_seconds: float = 0.5
    #: The current claim's generation (its producer epoch); 0 before the first claim.
    generation: int = 0
    #: The producer sequence of the last write at this generation.
    seq: int = 0
    holder: str | None = None
    lease_until: float | None = None
    #: A call failed by its executor and retried waits until then.
    not_before: float | None = None
    error: str | None = None
    created_at: str | None = None

    def claimable(self, now: float) -> bool:
        if self.status == "pending":
            return self.not_before is None or self.not_before <= now
        return self.status == "claimed" and (self.lease_until or 0.0) <= now


class Refusal(BaseModel):
    """A write that came too late (after a newer claim, or the run's end): kept on the
    queue so that an operator sees what an executor tried to report."""

    key: str
    generation: int
    holder: str | None = None
    operation: str
    reason: str
    result: Any = None
    error: str | None = None
    at: str
