"""Why a handler runs: the inputs coalesced into one pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Message:
    """An inbox message: ``payload`` is validated by the type's inbox schema when it has one."""

    id: str
    payload: Any
    sender: str | None
    sent_at: str | None
    #: Set when the sender asked for an answer (``ctx.request``): ``ctx.reply`` answers it.
    request_id: str | None = None
    #: The principal the server authenticated when the message was sent through its API.
    principal: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to a request this entity sent with ``ctx.request``, or its timeout.

    A request is answered once: the first of its reply and its timeout wakes the
    requester, and whatever comes after is dropped."""

    request_id: str
    #: The entity the request was sent to.
    target: str
    payload: Any = None
    sender: str | None = None
    timed_out: bool = False


@dataclass(frozen=True, slots=True)
class ChildStatus:
    """A child reporting that its run finished (or failed), with its response."""

    url: str
    status: str
    response: Any = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """A change observed on another entity's or a shared stream."""

    stream: str
    collection: str
    key: str
    operation: str
    value: Any
    shared: bool = False


@dataclass(frozen=True, slots=True)
class Signal:
    id: str
    name: str
    payload: Any = None


@dataclass(frozen=True, slots=True)
class Timer:
    """A scheduled wake that fired: a timeout, a cron tick or a one-off timer."""

    name: str
    kind: str
    payload: Any = None


@dataclass(frozen=True, slots=True)
class ToolResult:
    """An outside answer to a waiting tool call: a result, an error, or approve / deny."""

    call_id: str
    status: str  # completed | failed | approved | denied
    result: Any = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Range:
    """The events a pass consumed from one stream: ``[start, end)`` byte positions."""

    stream: str
    start: int
    end: int
    events: int


@dataclass(slots=True)
class Wake:
    first: bool = False
    messages: list[Message] = field(default_factory=list)
    #: Answers (or timeouts) of requests this entity sent with ``ctx.request``.
    replies: list[Reply] = field(default_factory=list)
    children: list[ChildStatus] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)
    tool_results: list[ToolResult] = field(default_factory=list)
    ranges: list[Range] = field(default_factory=list)
    #: An interrupt signal arrived since the last pass: an active agent run should end.
    interrupted: bool = False
    #: Where this wake's inputs begin on the entity's own stream: the same in every retry
    #: and re-claim of the same inputs, and new with every pass that commits. Agent runs
    #: record the keys they served, so a retried pass continues its run, never starts a
    #: second one ("" for a wake not made by the runtime).
    key: str = ""

    @property
    def reasons(self) -> list[str]:
        """Why the handler runs: any of spawn, message, reply, request_timeout, child,
        change, shared, signal and the timer kinds (timeout, cron, timer)."""
        found = []
        if self.first:
            found.append("spawn")
        if self.messages:
            found.append("message")
        if any(not reply.timed_out for reply in self.replies):
            found.append("reply")
        if any(reply.timed_out for reply in self.replies):
            found.append("request_timeout")
        if self.children:
            found.append("child")
        if any(not change.shared for change in self.changes):
            found.append("change")
        if any(change.shared for change in self.changes):
            found.append("shared")
        if self.signals:
            found.append("signal")
        if self.tool_results:
            found.append("tool_result")
        if self.interrupted:
            found.append("interrupt")
        for timer in self.timers:
            if timer.kind not in found:
                found.append(timer.kind)
        return found

    @property
    def count(self) -> int:
        return sum(r.events for r in self.ranges)

    def is_empty(self) -> bool:
        return not (
            self.first
            or self.messages
            or self.replies
            or self.children
            or self.changes
            or self.signals
            or self.timers
            or self.tool_results
            or self.interrupted
        )
