"""How many tokens each model's context window holds: a table of name prefixes.

A model is looked up by the name runs record (``openai:gpt-4o-mini``); the longest prefix
in the table that the name starts with wins, so ``openai:gpt-4o`` covers its dated
snapshots and ``anthropic:claude-`` every Claude model. Extend the table with
:meth:`ContextWindows.with_models`; a model's own ``context_window``, or the agent's
``context_window`` option, overrides it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_KNOWN: dict[str, int] = {
    "openai:gpt-3.5-turbo": 16_385,
    "openai:gpt-4": 8_192,
    "openai:gpt-4-turbo": 128_000,
    "openai:gpt-4o": 128_000,
    "openai:gpt-4.1": 1_047_576,
    "openai:gpt-5": 400_000,
    "openai:o1": 200_000,
    "openai:o3": 200_000,
    "openai:o4-mini": 200_000,
    "anthropic:claude-": 200_000,
}


@dataclass(frozen=True)
class ContextWindows:
    """Context window sizes by model-name prefix."""

    windows: Mapping[str, int] = field(default_factory=lambda: MappingProxyType(dict(_KNOWN)))

    def __post_init__(self) -> None:
        for name, size in self.windows.items():
            if not isinstance(size, int) or isinstance(size, bool) or size < 1:
                raise ValueError(f"the context window of {name!r} must be a positive int")

    def with_models(self, windows: Mapping[str, int]) -> ContextWindows:
        """This table with ``windows`` added (or replacing entries of the same name)."""
        return ContextWindows(MappingProxyType({**self.windows, **windows}))

    def window_for(self, model_name: str) -> int | None:
        """The window of the longest prefix ``model_name`` starts with; None if none."""
        best: str | None = None
        for prefix in self.windows:
            if model_name.startswith(prefix) and (best is None or len(prefix) > len(best)):
                best = prefix
        return None if best is None else self.windows[best]


CONTEXT_WINDOWS = ContextWindows()
