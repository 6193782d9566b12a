"""One handler pass: gather the inputs of a claimed wake, run the handler, commit.

The inputs are the events between the entity's cursor (recorded on its own stream) and
the tails the claim saw. The commit is one transaction holding the entity's events
(through a producer fenced by the claim's generation), everything the handler asked for,
the new cursor, and the acknowledgement of the wake. Crash anywhere before it and the
next claim starts from the same inputs; after it, the inputs are never handled again.

A :class:`Pass` is made per claimed wake and owns what belongs to it (the claim, the
state as claimed, the inputs, the attempts, the flushes, the outcome); each step of its
life is a module of this package: :mod:`.inputs`, :mod:`.attempts`, :mod:`.flushes`,
:mod:`.watchers`, :mod:`.commit`.

Exactly once, with an agent in the pass (docs/entities.md, "Exactly once"):

- The handler's writes (``ctx.output``) are held until that final commit, so they land
  exactly once, with the acknowledgement. Flushes commit only ``ctx.progress``: the agent
  loop's rows, and a tool's writes, moved there with its result. The other way (ack the
  inputs with the first flush and continue runs through a run-level wake) would need a
  second kind of wake and would split one pass's writes across commits; holding costs
  only the ordering: on the stream, handler rows come after the run's flushed rows.
- A run's progress is a record of facts (a tool that completed did run), so a failed
  attempt's progress is flushed before the retry, and each attempt loads the state to the
  end of this pass's flushes: the retry finds the run and continues it. A run records
  the wake keys it served (``Wake.key``, stable across retries and re-claims of the same
  inputs), so a retry whose run had already ended gets its result, not a second run.
- A pass over for good (kill, stop, attempts exhausted, a commit that failed) closes the
  runs, steps and tool calls it left open, through the ``PassCloser`` the agent layer
  provides as a resource (this layer does not import the agent).
- The lease is heartbeated from the claim until the commit returns; losing it cancels the
  handler and the pass commits nothing.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ...errors import Fenced, WakefulError
from ...state import StateStore
from ...streams.storage import Storage
from ...streams.subscriptions.model import Link, SubscriptionRow
from ...streams.subscriptions.tokens import TokenClaims
from .. import loading
from .. import vocabulary as v
from ..addressing import Address
from ..context import Context
from ..loading import Loaded
from ..wake import Wake
from .attempts import run_attempts
from .commit import ack, commit
from .flushes import Flushes
from .inputs import Gathering, Inputs, fold_status, status_of
from .watchers import Lease

if TYPE_CHECKING:
    from .runner import PassRunner


class Pass:
    """One claimed wake of one entity, from its lease to its commit."""

    def __init__(self, runner: PassRunner, address: Address, row: SubscriptionRow) -> None:
        assert row.wake_id is not None
        self.runner = runner
        self.address = address
        self.row = row
        self.claims = TokenClaims(row.id, row.generation, row.wake_id)
        self.definition = runner.registry.get(address.type)
        self.lease = Lease(runner.storage, row, self.claims)
        main = next((link for link in row.links if link.path == address.stream), None)
        self.main: Link | None = main
        #: How far the claim saw the entity's own stream: the state loads up to here.
        self.tail = main.tail if main is not None else 0
        # Set as the pass goes:
        self.loaded: Loaded
        self.created: dict[str, Any] = {}
        self.inputs = Inputs()
        self.status = v.IDLE
        self.new_status = v.IDLE
        self.snapshot: dict[str, Any] | None = None
        self.attempts = 0
        self.flushes: Flushes | None = None
        self.ctx: Context | None = None  # the context of the attempt that succeeded
        self.store: StateStore | None = None  # and its state
        self.failure: BaseException | None = None
        self.killed = False  # a kill signal cancelled the handler
        self.closing: list[dict[str, Any]] = []  # ends what the pass left open

    @property
    def wake(self) -> Wake:
        return self.inputs.wake

    async def run(self) -> None:
        """Hold the lease from now until the commit returns (see :class:`Lease`)."""
        keeper = asyncio.create_task(self.lease.keep())
        try:
            await self._run()
        finally:
            # Not waited for: the pass is over as its commit returns (the loop holds the
            # cancelled task until it ends; a heartbeat still on its way is harmless, as
            # the wake it names has ended).
            keeper.cancel()

    async def _run(self) -> None:
        runner, address = self.runner, self.address
        if self.main is None:
            await self._ack_only()
            return
        self.loaded = loaded = await runner.cache.load(address, self.definition, self.tail)
        created = loaded.store.collection(v.ENTITY_CREATED).get("entity")
        if not isinstance(created, dict):
            await self._ack_only()  # not (yet) an entity's stream
            return
        self.created = created
        gathering = Gathering(runner.storage, runner.shared, address, self.definition, loaded.store)
        self.inputs = await gathering.gather(self.row.links)
        self.status = status_of(loaded.store)
        self.new_status = fold_status(self.status, self.inputs.control)
        if loaded.store.events - loaded.snapshot_events >= loading.SNAPSHOT_EVERY_EVENTS:
            self.snapshot = loaded.store.snapshot()
        if self.new_status == v.IDLE and not self.wake.is_empty():
            await run_attempts(self)
        runner.cache.drop(address.url)
        if self.lease.lost:
            raise Fenced(f"{self.row.id}: lost the lease; nothing commits")
        await commit(self)
        if self.ctx is not None and self.store is not None:
            # Cache the state as read from the stream, not the handler's copy: that one holds
            # the pass's own writes without their stream positions (the next load replays
            # them from the stream, in order).
            if self.snapshot is not None:
                loaded.snapshot_events = int(self.snapshot["events"])
            runner.cache.put(address.url, loaded)

    async def _ack_only(self) -> None:
        await self.runner.storage.commit([ack(self.row, self.claims)])

    async def context(self, store: StateStore, flushes: Flushes) -> Context:
        """A fresh context for one attempt, over ``store``, flushing through ``flushes``."""
        runner, created = self.runner, self.created
        tags = {
            str(row.get("name")): str(row.get("value"))
            for row in store.collection(v.TAGS)
            if isinstance(row, dict)
        }
        shared: dict[str, StateStore] = {}
        for row in store.collection(v.MANIFEST):
            if isinstance(row, dict) and "stream" in row and "name" in row and "target" not in row:
                shared[str(row["name"])] = await runner.shared_store(str(row["stream"]))
        try:
            args = self.definition.validate_args(created.get("args"))
        except WakefulError:
            args = created.get("args")
        return Context(
            address=self.address,
            definition=self.definition,
            registry=runner.registry,
            store=store,
            args=args,
            parent=created.get("parent"),
            tags=tags,
            first_wake=self.wake.first,
            shared=shared,
            known=set(),
            resources=runner.resources,
            flusher=flushes.flush,
            shared_loader=runner.shared_store,
            # Forking reads storage the pass routes do not serve: a pass run over HTTP
            # (wakeful.serverless) has none, and ctx.fork says so.
            storage=runner.storage if isinstance(runner.storage, Storage) else None,
        )
