"""Charging model calls: their cost, the usage index entry that lands with each, and the
budget check before the next.

A :class:`Meter` is one per runtime (a resource of the agent loop, like the concurrency
caps): the price table, the server's budget, and the storage the usage index is read
from. The loop asks it three things: what a call cost, what to record for it (a
:class:`~wakeful.streams.batch.RecordUsage` in the flush that completes the step), and
whether a budget is spent before it calls the model again.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..streams import batch
from ..streams.storage import Storage
from ..streams.usage import UsageEntry, UsageQuery, utc_day
from .budgets import Budget, BudgetReason, Spent, exceeded
from .pricing import Prices

if TYPE_CHECKING:
    from ..entities.context import Context
    from ..settings import Settings
    from .rows import RunRow, StepRow


class Meter:
    """Prices, the server's budget, and where daily spending is read (``storage``; without
    one, as in a process that reaches the server over HTTP only, daily budgets cannot be
    checked and only run budgets apply)."""

    def __init__(
        self,
        storage: Storage | None = None,
        prices: Prices | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.storage = storage
        self.prices = prices if prices is not None else Prices()
        self.budget = budget if budget is not None else Budget()

    @classmethod
    def of(cls, settings: Settings, storage: Storage | None) -> Meter:
        """The meter ``--prices`` and the budget settings make."""
        prices = Prices.load(settings.prices) if settings.prices is not None else Prices()
        return cls(storage, prices, Budget.of(settings))

    def record(self, ctx: Context, run: RunRow, step: StepRow) -> batch.RecordUsage:
        """The index entry of a completed step, committed with its row."""
        entry = UsageEntry(
            key=f"{ctx.address.stream}#{step.id}",
            entity=ctx.url,
            entity_type=ctx.type,
            run_id=run.id,
            principal=run.principal,
            model=step.model,
            input_tokens=step.input_tokens,
            output_tokens=step.output_tokens,
            cost=step.cost,
            at=time.time(),
        )
        return batch.RecordUsage(entry)

    async def check(self, ctx: Context, run: RunRow, budget: Budget) -> BudgetReason | None:
        """The budget ``run`` has spent, if any: the run's own from its row, then the
        entity's and its principal's today from the usage index."""
        reason = exceeded(budget, "run", Spent(run.input_tokens + run.output_tokens, run.cost or 0))
        if reason is not None or not budget.daily or self.storage is None:
            return reason
        # What this pass flushed without waiting (a step's usage among it) lands first, so
        # the index holds every call the run completed.
        await ctx.flush()
        day = utc_day(time.time())
        if budget.per_day("entity"):
            spent = await self._spent(UsageQuery(entity=ctx.url, day=day))
            reason = exceeded(budget, "entity", spent, day)
        if reason is None and budget.per_day("principal") and run.principal is not None:
            spent = await self._spent(UsageQuery(principal=run.principal, day=day))
            reason = exceeded(budget, "principal", spent, day)
        return reason

    async def _spent(self, query: UsageQuery) -> Spent:
        assert self.storage is not None
        (total,) = await self.storage.usage_totals(query)
        return Spent(total.tokens, total.cost)


def run_principal(ctx: Context) -> str | None:
    """Whom a new run is charged to: the principal who sent the first message it answers,
    else the entity's owner (a child's owner is its parent's)."""
    wake = ctx.wake
    for message in wake.messages if wake is not None else ():
        if message.principal is not None:
            return message.principal
    return ctx.owner


def added(total: float | None, cost: float | None) -> float | None:
    """A run's cost with a step's added: None only while no step had a price."""
    if cost is None:
        return total
    return (total or 0.0) + cost
