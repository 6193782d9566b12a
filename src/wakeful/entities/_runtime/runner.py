"""What the :class:`~wakeful.entities.runtime.Runtime` calls to run a claimed wake, and
what the passes of one runtime share: storage, registry, the state cache, the runtime's
copies of shared states, and the resources every context is given."""

from __future__ import annotations

from ...errors import WakefulError
from ...state import StateStore
from ...streams.storage.access import PassStorage
from ...streams.subscriptions.model import SubscriptionRow
from ..addressing import Address
from ..definition import Registry
from ..loading import StateCache, read_messages
from ..resources import Resources
from .handler_pass import Pass


class PassRunner:
    def __init__(
        self,
        storage: PassStorage,
        registry: Registry,
        cache: StateCache,
        worker: str,
        resources: Resources | None = None,
    ) -> None:
        self.storage = storage
        self.registry = registry
        self.cache = cache
        self.worker = worker
        #: What every pass's context is given (the agent loop, in a server).
        self.resources = resources or Resources()
        #: Committed content of the shared states the entities joined, by stream.
        self.shared: dict[str, StateStore] = {}

    async def run(self, address: Address, row: SubscriptionRow) -> None:
        """Run the pass of the wake ``row`` claimed for ``address``, lease to commit."""
        await Pass(self, address, row).run()

    async def shared_store(self, stream: str) -> StateStore:
        """The shared state of ``stream`` as committed, brought up to its tail."""
        store = self.shared.get(stream)
        if store is None:
            store = self.shared[stream] = StateStore()
        try:
            tail = (await self.storage.head(stream)).tail
        except WakefulError:
            return store
        async for message in read_messages(self.storage, stream, store.position, tail):
            store.apply(message.value)
            store.position = message.end
        return store
