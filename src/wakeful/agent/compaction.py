"""When to compact the conversation, and when to tell the model how full its window is.

Before each model request the loop measures the request (:mod:`.tokens`) against the
model's window (:mod:`.models.windows`) and asks a :class:`CompactionPolicy` what to do.
The default, :class:`ThresholdPolicy`, follows Electric's runtime: a notice at 25, 50 and
75 % of the window; a summary of the older turns once a new turn starts at 85 % or more;
and a blocking floor at 90 %, where the conversation is compacted before the request
whatever the turn (a long tool loop inside one run would otherwise overflow it). Anything
with a ``decide`` method is a policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

SUMMARY_INSTRUCTIONS = (
    "Summarise the conversation above for your own later use: it will replace these turns "
    "in your context. Keep every fact, decision, name, number, open question and promise "
    "that later turns may need, and what each tool call found. Leave out pleasantries. "
    "Write plain prose or short bullet points, without a preamble."
)


@dataclass(frozen=True, slots=True)
class ContextUsage:
    """How full the next request would leave the window.

    ``turn_start`` is true for the first step of a run (a new turn of the conversation),
    ``noticed`` the highest percent already noticed since the latest summary (0 if none)."""

    tokens: int
    window: int
    turn_start: bool = False
    noticed: int = 0

    @property
    def percent(self) -> float:
        return 100.0 * self.tokens / self.window


@dataclass(frozen=True, slots=True)
class Decision:
    """What a policy wants before the request: a ``notice`` (a percent crossed), or to
    ``compact`` everything but the newest ``keep_tokens`` of the conversation into a
    summary written by the agent's model following ``instructions``."""

    notice: int | None = None
    compact: bool = False
    keep_tokens: int = 0
    instructions: str = SUMMARY_INSTRUCTIONS
    summary_max_tokens: int | None = None


@runtime_checkable
class CompactionPolicy(Protocol):
    def decide(self, usage: ContextUsage) -> Decision: ...


@dataclass(frozen=True)
class ThresholdPolicy:
    """Notices at ``notices`` percent; a summary at ``compact_at`` percent when a turn
    starts and at ``floor`` percent before any request; the newest ``keep`` of the window
    (a fraction) kept word for word."""

    notices: Sequence[int] = (25, 50, 75)
    compact_at: float = 85.0
    floor: float = 90.0
    keep: float = 0.3
    instructions: str = SUMMARY_INSTRUCTIONS
    summary_max_tokens: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.compact_at <= self.floor:
            raise ValueError("ThresholdPolicy needs 0 < compact_at <= floor")
        if not 0 < self.keep < self.compact_at / 100:
            raise ValueError("ThresholdPolicy.keep must be a fraction below compact_at")
        if any(not 0 < notice < 100 for notice in self.notices):
            raise ValueError("ThresholdPolicy.notices are percents between 0 and 100")

    def decide(self, usage: ContextUsage) -> Decision:
        percent = usage.percent
        compact = percent >= self.floor or (usage.turn_start and percent >= self.compact_at)
        crossed = [n for n in self.notices if usage.noticed < n <= percent]
        return Decision(
            notice=max(crossed) if crossed else None,
            compact=compact,
            keep_tokens=int(usage.window * self.keep),
            instructions=self.instructions,
            summary_max_tokens=self.summary_max_tokens,
        )


DEFAULT_POLICY = ThresholdPolicy()
