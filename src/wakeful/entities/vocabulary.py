"""The event types on an entity's stream and how they are spelled.

Entity streams carry State Protocol change events whose ``type`` names a collection, so a
generic reader materializes any entity. The types follow Electric's Durable Agents;
``timer`` (a scheduled wake that fired) and ``tool_result`` (an outside answer to a waiting
tool call) are our additions; ``context_inserted`` (a compaction summary or a context
window notice) is Electric's name for what its runtime puts into the model's context.
User collections are ``state:<name>``.
"""

from __future__ import annotations

ENTITY_CREATED = "entity_created"
ENTITY_STOPPED = "entity_stopped"
INBOX = "inbox"
WAKE = "wake"
SIGNAL = "signal"
CHILD_STATUS = "child_status"
MANIFEST = "manifest"
TAGS = "tags"
TIMER = "timer"
TOOL_RESULT = "tool_result"
ERROR = "error"
RUN = "run"
STEP = "step"
TEXT = "text"
TEXT_DELTA = "text_delta"
TOOL_CALL = "tool_call"
REASONING = "reasoning"
REASONING_DELTA = "reasoning_delta"
CONTEXT_INSERTED = "context_inserted"

STATE_PREFIX = "state:"

# The kind of timer that ends a request's wait for its reply (``ctx.request(timeout=...)``).
REQUEST_TIMEOUT = "request_timeout"

# Events that others write to an entity's stream and that its handler reacts to.
# ``tool_result`` carries the answer to a waiting tool call (a result, or approve / deny).
INPUTS = frozenset({INBOX, SIGNAL, CHILD_STATUS, TIMER, TOOL_RESULT})

# Signals the runtime itself acts on; any other name goes to the handler.
PAUSE, RESUME, STOP, KILL, INTERRUPT = "pause", "resume", "stop", "kill", "interrupt"
CONTROL_SIGNALS = frozenset({PAUSE, RESUME, STOP, KILL, INTERRUPT})

# Entity statuses, kept as the ``status`` label of the main stream.
IDLE, PAUSED, FAILED, STOPPED, KILLED = "idle", "paused", "failed", "stopped", "killed"
TERMINAL = frozenset({STOPPED, KILLED})


def state_type(collection: str) -> str:
    return STATE_PREFIX + collection
