"""An offline model for when no API key is set, so that a first run still shows something.

It is not a language model and does not pretend to be one: it is labelled as a demo, it
echoes or summarises what the user wrote, and it exercises the tool path with a few
transparent rules. A tool is called when the message names it (``get_weather``, "get
weather") or shares a distinctive word with its name ("what's the *weather* in Paris?").
Arguments are filled from the tool's JSON schema: ``name=value`` / ``name: value`` in the
message, enum values the message mentions, numbers in order for numeric parameters, and
for the first required string the quoted text or the words after "in", "for", "of", ...
The tool's result is then reported back. Everything is deterministic.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

from .base import (
    Finish,
    Message,
    Model,
    ModelEvent,
    ModelRequest,
    TextDelta,
    ToolCall,
    ToolCallReady,
    ToolSpec,
    Usage,
)

LABEL = "offline demo model (no API key set)"

# Words in tool names too common to say which tool a message is about.
_GENERIC = {
    "get", "set", "fetch", "find", "list", "lookup", "look", "search", "make", "run", "call",
    "create", "read", "write", "update", "delete", "tool", "the", "for", "and", "with", "from",
    "info", "data", "current",
}  # fmt: skip
_PREPOSITIONS = r"(?:in|for|of|about|to|at|on|from|called|named)"
_SUMMARY_CHARS = 200


class DemoModel(Model):
    """Deterministic stand-in used when neither OPENAI_API_KEY nor ANTHROPIC_API_KEY is set."""

    name = "demo"
    label = LABEL

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        messages = request.messages
        if messages and messages[-1].role == "tool":
            text = _report_results(messages)
        else:
            said = next((m.content for m in reversed(messages) if m.role == "user"), "")
            spec = pick_tool(request.tools, said)
            if spec is not None:
                arguments = infer_arguments(spec.parameters, said, spec.name)
                call = ToolCall(f"call_demo_{len(messages)}", spec.name, arguments)
                yield ToolCallReady(call)
                yield Usage(_tokens(messages), 1)
                yield Finish("tool_calls")
                return
            text = _reply(said)
        for word in re.findall(r"\S+\s*|\s+", text):
            await asyncio.sleep(0)
            yield TextDelta(word)
        yield Usage(_tokens(messages), len(text) // 4)
        yield Finish("stop")


def _tokens(messages: tuple[Message, ...]) -> int:
    return sum(len(m.content) for m in messages) // 4  # a rough count, like ~4 chars a token


def _reply(said: str) -> str:
    intro = f"[{LABEL}] Set OPENAI_API_KEY or ANTHROPIC_API_KEY to talk to a real model."
    said = " ".join(said.split())
    if not said:
        return f"{intro} Send me a message and I will echo it."
    if len(said) <= _SUMMARY_CHARS:
        return f'{intro} You said: "{said}"'
    first = re.split(r"(?<=[.!?])\s", said, maxsplit=1)[0][:_SUMMARY_CHARS]
    return f'{intro} You wrote {len(said.split())} words, beginning: "{first}"'


def _report_results(messages: tuple[Message, ...]) -> str:
    results: list[Message] = []
    for message in reversed(messages):
        if message.role != "tool":
            break
        results.insert(0, message)
    lines = [
        f"{m.name or 'the tool'} {'failed' if m.is_error else 'returned'}: {m.content}"
        for m in results
    ]
    return f"[{LABEL}] " + "\n".join(lines)


def _name_words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [word.lower() for word in re.split(r"[\W_]+", spaced) if word]


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def pick_tool(tools: tuple[ToolSpec, ...], said: str) -> ToolSpec | None:
    """The tool the message names, else the one sharing most distinctive words with it."""
    lowered = said.lower()
    said_words = {_stem(word) for word in re.findall(r"[a-z0-9]+", lowered)}
    best: tuple[int, ToolSpec] | None = None
    for spec in tools:
        words = _name_words(spec.name)
        names = [spec.name.lower()] + ([" ".join(words)] if len(words) > 1 else [])
        if any(re.search(rf"\b{re.escape(name)}\b", lowered) for name in names):
            return spec
        score = sum(
            1
            for word in words
            if word not in _GENERIC and len(word) >= 3 and _stem(word) in said_words
        )
        if score and (best is None or score > best[0]):
            best = (score, spec)
    return best[1] if best else None


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = root.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {})
        return target if isinstance(target, dict) else {}
    for option in schema.get("anyOf", ()):  # Optional[X] is anyOf [X, null]
        if isinstance(option, dict) and option.get("type") != "null":
            return {**_resolve(option, root), **{k: v for k, v in schema.items() if k != "anyOf"}}
    return schema


def _coerce(value: str, kind: Any) -> Any:
    try:
        if kind == "integer":
            return int(float(value))
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean":
        return value.lower() in ("true", "yes", "1", "on")
    return value


def _subject(said: str, skip: list[str]) -> str:
    quoted = re.search(r"\"([^\"]+)\"|(?<!\w)'([^']+)'(?!\w)", said)
    if quoted:
        return quoted.group(1) or quoted.group(2)
    after = re.search(rf"\b{_PREPOSITIONS}\s+([^?.!,;]+)", said, re.IGNORECASE)
    if after:
        return after.group(1).strip()
    words = [w for w in re.findall(r"[\w'-]+", said) if w.lower() not in skip]
    return " ".join(words)


def infer_arguments(parameters: dict[str, Any], said: str, tool_name: str = "") -> dict[str, Any]:
    """Arguments for a tool with JSON schema ``parameters``, read off the message."""
    properties = parameters.get("properties") or {}
    required = set(parameters.get("required") or ())
    numbers = iter(re.findall(r"-?\d+(?:\.\d+)?", said))
    subject_used = False
    arguments: dict[str, Any] = {}
    for name, raw in properties.items():
        schema = _resolve(raw if isinstance(raw, dict) else {}, parameters)
        kind = schema.get("type")
        label = re.escape(name).replace("_", "[ _]")
        explicit = re.search(
            rf"\b{label}\s*(?:=|:|\bis\b)\s*(\"[^\"]*\"|'[^']*'|[^\s,;?!]+)", said, re.IGNORECASE
        )
        if explicit:
            arguments[name] = _coerce(explicit.group(1).strip("\"'"), kind)
        elif "enum" in schema:
            mentioned = [v for v in schema["enum"] if str(v).lower() in said.lower()]
            if mentioned or name in required:
                arguments[name] = (mentioned or schema["enum"])[0]
        elif kind in ("integer", "number"):
            number = next(numbers, None)
            if number is not None:
                arguments[name] = _coerce(number, kind)
            elif name in required:
                arguments[name] = 0
        elif name not in required:
            continue
        elif kind == "string" and not subject_used:
            arguments[name] = _subject(said, _name_words(name) + _name_words(tool_name))
            subject_used = True
        elif kind == "boolean":
            arguments[name] = bool(schema.get("default", False))
        elif kind == "array":
            arguments[name] = []
        elif kind == "object":
            arguments[name] = {}
        else:
            arguments[name] = schema.get("default", "")
    return arguments
