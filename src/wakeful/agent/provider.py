"""How a runtime provides the agent loop to its handlers: ``ctx.use_agent(...)``.

:class:`Agents` implements the entities layer's :class:`~wakeful.entities.resources.
AgentFactory` with this process's shared pieces (the models, kept so that connection
pools outlive a pass, and the concurrency caps); :func:`agent_resources` puts it in the
resources a :class:`~wakeful.entities.runtime.Runtime` gives every context.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from ..entities.resources import AgentFactory, PassCloser, Resources
from .closing import OpenRuns
from .limits import UNLIMITED, Concurrency
from .loop import Agent
from .metering import Meter
from .models.base import Model
from .options import AgentOptions

if TYPE_CHECKING:
    from ..entities.context import Context


class ModelCache:
    """Models resolved by name, kept for the life of a runtime so connection pools are
    reused across passes, and closed with it."""

    def __init__(self) -> None:
        self._models: dict[str, Model] = {}

    def get(self, spec: Model | str | None) -> Model:
        if isinstance(spec, Model):
            return spec
        key = spec or ""
        model = self._models.get(key)
        if model is None:
            from .models import default_model, resolve

            model = self._models[key] = default_model() if spec is None else resolve(spec)
        return model

    async def aclose(self) -> None:
        for model in self._models.values():
            with contextlib.suppress(Exception):
                await model.aclose()
        self._models.clear()


class Agents(AgentFactory):
    """The agent loop as a runtime resource: one per process, shared by its passes."""

    def __init__(
        self,
        concurrency: Concurrency | None = None,
        models: ModelCache | None = None,
        meter: Meter | None = None,
    ) -> None:
        self.concurrency = concurrency or UNLIMITED
        self.models = models or ModelCache()
        self.meter = meter or Meter()

    def __call__(self, ctx: Context, /, *args: Any, **kwargs: Any) -> Agent:
        if len(args) == 1 and not kwargs and isinstance(args[0], AgentOptions):
            options = args[0]
        else:
            options = AgentOptions(*args, **kwargs)
        return Agent(
            ctx,
            options,
            model=self.models.get(options.model),
            concurrency=self.concurrency,
            meter=self.meter,
        )

    async def aclose(self) -> None:
        await self.models.aclose()


def agent_resources(
    concurrency: Concurrency | None = None,
    models: ModelCache | None = None,
    resources: Resources | None = None,
    meter: Meter | None = None,
) -> Resources:
    """``resources`` (or new ones) with the agent loop provided, for a ``Runtime``, and
    the closer that ends the runs a pass leaves open when it is over for good.
    ``meter`` prices model calls and checks budgets (none: no budget, default prices)."""
    return (
        (resources or Resources())
        .provide(AgentFactory, Agents(concurrency, models, meter))
        .provide(PassCloser, OpenRuns())
    )
