"""What the AI SDK's chat transport posts: ``{id, messages, trigger, messageId}``.

Only what Wakeful acts on is read: the newest message (a user's text, or the assistant
message whose tool parts the browser answered: a client tool's output, an approval).
The rest of the history is the client's copy of what the thread already holds, so it
is not sent to the thread again.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..agent.rows import AWAITING_APPROVAL, COMPLETED, DENIED, FAILED
from .answering import ToolAnswer

Trigger = Literal["submit-message", "regenerate-message"]


class UIMessage(BaseModel):
    """A message of the chat as the client holds it (parts are read loosely: a client
    may carry part types this server has never heard of)."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(..., min_length=1, max_length=200)
    role: Literal["system", "user", "assistant"]
    parts: list[dict[str, Any]] = Field(default_factory=list, max_length=10_000)

    def text(self) -> str:
        texts = [part.get("text") for part in self.parts if part.get("type") == "text"]
        return "".join(text for text in texts if isinstance(text, str))


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # a transport's `body` option adds fields

    id: str = Field(..., min_length=1, max_length=128, description="The chat id: the thread id.")
    messages: list[UIMessage] = Field(..., min_length=1, max_length=10_000)
    trigger: Trigger = "submit-message"
    messageId: str | None = Field(None, max_length=200)  # the protocol spells it so


def tool_answers(message: UIMessage) -> list[ToolAnswer]:
    """The answers an assistant message's tool parts carry: a client tool's output or
    error (``addToolOutput``), or an approval's response (``addToolApprovalResponse``)."""
    found: list[ToolAnswer] = []
    for part in message.parts:
        kind, call_id, state = part.get("type"), part.get("toolCallId"), part.get("state")
        if not isinstance(kind, str) or not isinstance(call_id, str):
            continue
        if not (kind.startswith("tool-") or kind == "dynamic-tool"):
            continue
        if state == "output-available":
            found.append(ToolAnswer(call_id, "completed", result=part.get("output")))
        elif state == "output-error":
            error = part.get("errorText")
            found.append(ToolAnswer(call_id, "failed", error=str(error or "the tool failed")))
        elif state in ("approval-responded", "output-denied"):
            approval = part.get("approval")
            approved = isinstance(approval, dict) and approval.get("approved") is True
            found.append(ToolAnswer(call_id, "approved" if approved else "denied"))
    return found


_PART_STATE = {
    COMPLETED: "output-available",
    FAILED: "output-error",
    DENIED: "output-denied",
    AWAITING_APPROVAL: "approval-requested",
}


def as_ui_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A thread's messages (:func:`~.messages.thread_messages`) as the AI SDK's
    ``UIMessage`` list: one assistant message per run (its id the run's, as the stream
    names it), a ``step-start`` part before each step. What a page loads into ``useChat``
    before it resumes the run in progress."""
    found: list[dict[str, Any]] = []
    for message in messages:
        if message["role"] == "user":
            text = {"type": "text", "text": message["content"], "state": "done"}
            found.append({"id": message["id"], "role": "user", "parts": [text]})
            continue
        if message["status"] == "superseded":
            continue
        run_id = message.get("run_id")
        if not found or found[-1]["role"] != "assistant" or found[-1]["id"] != run_id:
            found.append({"id": run_id, "role": "assistant", "parts": []})
        parts: list[dict[str, Any]] = found[-1]["parts"]
        parts.append({"type": "step-start"})
        if message["content"]:
            state = "streaming" if message["status"] == "streaming" else "done"
            parts.append({"type": "text", "text": message["content"], "state": state})
        parts.extend(_tool_part(call) for call in message.get("tool_calls", []))
    return found


def _tool_part(call: dict[str, Any]) -> dict[str, Any]:
    state = _PART_STATE.get(call["status"], "input-available")
    part: dict[str, Any] = {
        "type": f"tool-{call['name']}",
        "toolCallId": call["id"],
        "state": state,
        "input": call["args"],
    }
    if state == "output-available":
        part["output"] = call["result"]
    elif state == "output-error":
        error = call["error"]
        part["errorText"] = error if isinstance(error, str) else "the tool failed"
    if call["kind"] == "approval" and state in ("approval-requested", "output-denied"):
        part["approval"] = {"id": call["id"]}
        if state == "output-denied":
            part["approval"]["approved"] = False
    elif call["kind"] == "approval" and state in ("output-available", "output-error"):
        part["approval"] = {"id": call["id"], "approved": True}
    return part
