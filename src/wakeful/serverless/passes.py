"""Running one claimed wake's pass against the server, over HTTP only.

The pass is the server's own (``wakeful.entities._runtime``): gather the inputs, run the
handler with the same ``ctx`` and agent loop, flush the run's progress, commit with the
ack, hold the lease throughout. Only its storage differs: the server's pass routes,
authorized by the wake's token (:class:`~._http_storage.HttpPassStorage`). So what
docs/entities.md promises under "Exactly once" holds here unchanged: the commit that
acks the inputs carries the handler's writes; flushes go through the producer whose
epoch is the claim's generation, so a pass whose claim was taken over can never write.
"""

from __future__ import annotations

import httpx

from ..entities._runtime.runner import PassRunner
from ..entities.definition import Registry
from ..entities.loading import StateCache
from ..entities.resources import Resources
from ._http_storage import HttpPassStorage
from .claims import ClaimedWake


async def run_pass(
    client: httpx.AsyncClient,
    registry: Registry,
    wake: ClaimedWake,
    *,
    worker: str,
    resources: Resources | None = None,
) -> None:
    """Run ``wake``'s pass to its commit (raises what the in-process pass would raise:
    ``Fenced`` when the claim was lost, say, with nothing committed)."""
    address = wake.address
    if address is None:
        raise ValueError(f"{wake.subscription_id!r} is no entity's subscription")
    storage = HttpPassStorage(client, address, wake.token)
    # A cache per pass: a process outside the server keeps no state between wakes, and
    # the state loads from the snapshot plus the tail, as an idle entity's does.
    runner = PassRunner(storage, registry, StateCache(storage, 0), worker, resources)
    await runner.run(address, wake.row())
