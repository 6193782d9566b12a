"""Budgets: how many tokens (or dollars) a run, an entity or a principal may spend.

A budget is checked before every model request; once what was spent reaches a limit, the
run ends ``aborted`` with ``finish_reason="budget"`` and a :class:`BudgetReason` on its
row saying which limit. What was spent is what the stream recorded: the run's own totals
from its row, an entity's or a principal's today (UTC) from the usage index, which lands
in the transaction that records each model call. So a check never sees less than every
call that completed, and a run never goes past a limit by more than the one step that
started below it, whatever process dies when (a call cut short by a crash reports no
usage, so its tokens are not counted; docs/usage.md).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ..settings import Settings

Scope = Literal["run", "entity", "principal"]
Unit = Literal["tokens", "cost"]


class BudgetReason(BaseModel):
    """Why a run was stopped by its budget: the limit of ``scope`` in ``unit`` (tokens, or
    US dollars for cost) and what was spent when it was checked; ``day`` for daily ones."""

    model_config = ConfigDict(frozen=True, extra="allow")

    scope: Scope
    unit: Unit
    limit: float
    used: float
    day: str | None = None

    def describe(self) -> str:
        spent = f"{self.used:g} of {self.limit:g} {'tokens' if self.unit == 'tokens' else 'USD'}"
        when = f" on {self.day}" if self.day else ""
        return f"{self.scope} budget spent ({spent}{when})"


@dataclass(frozen=True, slots=True)
class Budget:
    """Limits, each None for none: per run, and per entity and per principal per UTC day.

    Tokens are input plus output; cost is US dollars from the price table
    (:mod:`wakeful.agent.pricing`), counting only calls whose price was known."""

    run_tokens: int | None = None
    run_cost: float | None = None
    entity_daily_tokens: int | None = None
    entity_daily_cost: float | None = None
    principal_daily_tokens: int | None = None
    principal_daily_cost: float | None = None

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if value is not None and value < 0:
                raise ValueError(f"budget {item.name} cannot be negative")

    @classmethod
    def of(cls, settings: Settings) -> Budget:
        """The server's budget (``--run-token-budget`` and the others)."""
        return cls(**{item.name: getattr(settings, setting_of(item.name)) for item in fields(cls)})

    def over(self, other: Budget | None) -> Budget:
        """``other``'s limits where it sets them, this budget's elsewhere: a type's or a
        thread's budget over the server's."""
        if other is None:
            return self
        given = {
            item.name: value
            for item in fields(other)
            if (value := getattr(other, item.name)) is not None
        }
        return replace(self, **given)

    @property
    def daily(self) -> bool:
        return self.per_day("entity") or self.per_day("principal")

    def per_day(self, scope: Literal["entity", "principal"]) -> bool:
        return self.limit(scope, "tokens") is not None or self.limit(scope, "cost") is not None

    def limit(self, scope: Scope, unit: Unit) -> float | None:
        name = f"{scope}_{'' if scope == 'run' else 'daily_'}{unit}"
        value: float | None = getattr(self, name)
        return value


def setting_of(limit: str) -> str:
    """The setting of a limit: ``entity_daily_tokens`` is ``entity_daily_token_budget``."""
    return limit.replace("tokens", "token") + "_budget"


@dataclass(frozen=True, slots=True)
class Spent:
    """Tokens and dollars spent in one scope."""

    tokens: int = 0
    cost: float = 0.0


def exceeded(
    budget: Budget, scope: Scope, spent: Spent, day: str | None = None
) -> BudgetReason | None:
    """The limit of ``scope`` that ``spent`` reached, if any (tokens checked first)."""
    measures: tuple[tuple[Unit, float], ...] = (("tokens", spent.tokens), ("cost", spent.cost))
    for unit, used in measures:
        limit = budget.limit(scope, unit)
        if limit is not None and used >= limit:
            return BudgetReason(scope=scope, unit=unit, limit=limit, used=used, day=day)
    return None
