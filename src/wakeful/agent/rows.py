"""The rows the agent loop keeps on the entity stream: ``run``, ``step``, ``text``,
``tool_call`` and their companions, each defined once.

Field names are the wire vocabulary (Electric's built-in collections: status, finish
reason, model, duration, input / output tokens, tool name, args, result, error), so a model
dumps to exactly the value that goes on the stream and reads back any row written since
the first version of the loop:

- every field but the key has a default, because older rows lack the fields added later;
- extra fields are kept (``extra="allow"``), so a row that another writer (or a newer
  version) extended survives our read-modify-write;
- :meth:`Row.wire` leaves out fields that were never set, so a row is no bigger on the
  stream than the dict it replaced, and no reader sees a ``null`` it did not see before.

Rows are frozen: the state store hands the same validated row to every reader of the pass
(:meth:`~wakeful.state.Collection.view`).
"""

from __future__ import annotations

from typing import Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from ..state.collections import read_row
from .budgets import BudgetReason

R = TypeVar("R", bound="Row")

RunStatus = Literal["running", "awaiting_tool_results", "completed", "failed", "aborted"]
StepStatus = Literal["running", "completed", "failed", "superseded"]
CallStatus = Literal[
    "pending", "running", "awaiting_result", "awaiting_approval", "completed", "failed", "denied"
]
TextStatus = Literal["completed", "superseded"]
AnswerStatus = Literal["completed", "failed", "approved", "denied"]
CallKind = Literal["call", "async", "approval", "executor"]

# Statuses, each spelled once (``Final``: each is its own literal type, so one constant
# serves every status type it belongs to).
# run.status
RUNNING: Final = "running"
AWAITING: Final = "awaiting_tool_results"
COMPLETED: Final = "completed"
FAILED: Final = "failed"
ABORTED: Final = "aborted"
RUN_DONE: frozenset[str] = frozenset({COMPLETED, FAILED, ABORTED})
# step.status (also running, completed, failed) and text.status
SUPERSEDED: Final = "superseded"
# tool_call.status (also completed, failed)
PENDING: Final = "pending"
CALLING: Final = "running"
AWAITING_RESULT: Final = "awaiting_result"
AWAITING_APPROVAL: Final = "awaiting_approval"
DENIED: Final = "denied"
CALL_DONE: frozenset[str] = frozenset({COMPLETED, FAILED, DENIED})


class Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    def wire(self) -> dict[str, Any]:
        """The row's value on the stream: the fields that were set, extras included.

        Python mode, not JSON mode (twice as fast): every field holds JSON values already
        (a tool's result is made JSON before it is stored)."""
        return self.model_dump(exclude_unset=True)

    @classmethod
    def read(cls: type[R], value: Any) -> R | None:
        """``value`` (a row as the stream has it) as this model; None if not an object."""
        return read_row(cls, value) if isinstance(value, dict) else None


class RunRow(Row):
    """One run of the loop: from the messages that started it to its answer (or end)."""

    id: str
    status: RunStatus = RUNNING
    model: str | None = None
    model_label: str | None = None
    started_at: str | None = None
    #: The start as seconds since the epoch, for ``duration_ms`` across passes.
    started: float | None = None
    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    #: US dollars its steps cost, from the price table; None while no step had a price.
    cost: float | None = None
    #: Whom the run is charged to (docs/usage.md): the principal who sent the message
    #: that started it, else the entity's owner.
    principal: str | None = None
    #: The limit that ended it, when ``finish_reason`` is ``budget``.
    budget: BudgetReason | None = None
    #: The inbox messages this run answers (those that started it and those that joined).
    trigger: list[str] = []
    #: The keys of the wakes this run served (:attr:`wakeful.Wake.key`, one per call of
    #: ``run()`` in a pass): a retry of one of them continues this run, never a second.
    wakes: list[str] = []
    finished_at: str | None = None
    duration_ms: int | None = None
    finish_reason: str | None = None
    error: str | None = None
    text: str = ""


class StepRow(Row):
    """One model call of a run (``{run_id}:{index}``) and what it produced."""

    id: str
    run_id: str = ""
    index: int = 0
    status: StepStatus = RUNNING
    model: str | None = None
    started_at: str | None = None
    finish_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    duration_ms: int | None = None
    #: US dollars the call cost, from the price table; None when its price is unknown.
    cost: float | None = None
    #: How many tool calls the step asked for.
    tool_calls: int = 0
    error: str | None = None
    #: The request's size as known before it was sent (the counter's estimate corrected
    #: by the last reported step), the counter's own estimate, and the model's window.
    context_tokens: int | None = None
    context_estimate: int | None = None
    context_window: int | None = None


class ToolCallRow(Row):
    """One tool call a step asked for, with its progress and outcome."""

    id: str
    run_id: str = ""
    step_id: str = ""
    name: str = ""
    args: dict[str, Any] = {}
    kind: CallKind = "call"
    status: CallStatus = PENDING
    attempts: int = 0
    idempotency_key: str | None = None
    result: Any = None
    error: Any = None
    last_error: str | None = None
    finished_at: str | None = None
    duration_ms: int | None = None


class ReasoningRow(Row):
    """A step's whole reasoning text, once the step completed (keyed, like the step, by
    its id)."""

    id: str
    run_id: str = ""
    step_id: str = ""
    text: str = ""


class TextRow(ReasoningRow):
    """A step's whole text, once the step ended: the reasoning row's fields and a status."""

    status: TextStatus = COMPLETED


class DeltaRow(Row):
    """A coalesced piece of streamed text (``text_delta``) or reasoning
    (``reasoning_delta``), numbered across a step's attempts."""

    step_id: str
    run_id: str = ""
    seq: int = 0
    attempt: int = 1
    delta: str = ""


class ErrorRow(Row):
    """An error the loop met (a model call failed, or was retried)."""

    message: str = ""
    kind: str = ""
    run_id: str | None = None
    at: str | None = None


ContextKind = Literal["summary", "notice"]


class ContextRow(Row):
    """Something put into the model's context by the runtime (``context_inserted``): a
    ``summary`` of the older conversation, which history building uses instead of every
    turn up to and including ``through`` (``through_type``/``through_key``: the inbox
    message or step it ends at), or a ``notice`` that the window is ``percent`` full."""

    id: str
    kind: ContextKind = "summary"
    text: str = ""
    run_id: str | None = None
    through_type: str | None = None
    through_key: str | None = None
    #: How many summaries came before this row (a notice is given again after each).
    generation: int = 0
    percent: int | None = None
    #: The conversation's size before and after (summaries), or when noticed.
    tokens_before: int | None = None
    tokens_after: int | None = None
    context_window: int | None = None
    #: What the summarising model call used.
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    at: str | None = None


class ToolResultRow(Row):
    """An outside answer to a waiting call: an asynchronous result, or an approval."""

    call_id: str
    status: AnswerStatus
    result: Any = None
    error: str | None = None


class AnsweredCall(ToolCallRow):
    """A tool call with the outside answer it got, if any (what the tool-calls API shows)."""

    answer: ToolResultRow | None = None
