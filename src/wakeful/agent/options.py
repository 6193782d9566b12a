"""The agent's options, declared once: ``ctx.use_agent(...)`` takes them as arguments,
:class:`~wakeful.threads.ThreadConfig` extends them, and :class:`~wakeful.agent.Agent`
is built from them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Any

from .budgets import Budget
from .compaction import DEFAULT_POLICY, CompactionPolicy
from .models.base import Message, Model
from .models.windows import CONTEXT_WINDOWS, ContextWindows
from .pricing import Price
from .tokens import ESTIMATE, TokenCounter
from .tools import Tool, as_tool

if TYPE_CHECKING:
    from ..entities.context import Context

#: Builds the model's messages instead of the stream's conversation (see ``history``).
MessagesHook = Callable[["Context"], list[Message]]


@dataclass(frozen=True)
class AgentOptions:
    """How the agent loop runs for a pass.

    ``model`` is a :class:`Model` or a name like ``openai:gpt-4o-mini``; without one the
    default is picked from the environment (an offline demo model when no key is set)."""

    model: Model | str | None = None
    _: KW_ONLY
    system: str | None = None
    tools: Sequence[Tool | Callable[..., Any]] = ()
    max_steps: int = 20
    #: Per run: input plus output tokens over all its steps.
    max_tokens: int | None = None
    #: Spending limits over the server's (each limit it sets wins; docs/usage.md).
    budget: Budget | None = None
    #: Prices (USD per million tokens) by model name, over the server's table.
    prices: Mapping[str, Price] | None = None
    #: Per model call.
    max_output_tokens: int | None = None
    temperature: float | None = None
    #: Tokens of one tool result shown to the model; the rest is cut off.
    tool_result_budget: int | None = 2000
    build_messages: MessagesHook | None = None
    #: Seconds between ``text_delta`` appends while the model streams.
    delta_interval: float = 0.05
    #: Tries of a model call that fails with a retryable error, and the first backoff.
    model_attempts: int = 4
    model_backoff: float = 1.0
    #: Tokens the model's context window holds, overriding the model's own figure and
    #: ``context_windows`` (the table of known models, which ``with_models`` extends).
    context_window: int | None = None
    context_windows: ContextWindows = CONTEXT_WINDOWS
    #: Measures requests between the provider's reports (see ``wakeful.agent.tokens``).
    token_counter: TokenCounter = ESTIMATE
    #: Notices and compaction as the window fills; None for neither.
    compaction: CompactionPolicy | None = DEFAULT_POLICY

    def tool_table(self) -> dict[str, Tool]:
        """The tools by name; a name given twice is an error."""
        table: dict[str, Tool] = {}
        for item in self.tools:
            made = as_tool(item)
            if made.name in table:
                names = [as_tool(each).name for each in self.tools]
                raise ValueError(f"tool names must be unique, got {names}")
            table[made.name] = made
        return table
