"""One run of a thread, followed on its stream: what every front-end protocol shares.

AG-UI (:mod:`.agui`) and the AI SDK's UI message stream (:mod:`.ui_stream`) each present
a run as their own events. Both pick the run the same way (the run a message started, the
first run after a point, or a run named by id), read the same typed rows and end at the
same moment (the run finished, failed, or waits for an outside answer), so that is
written once here; a protocol subclasses :class:`RunTranslator` and says what each row
becomes.

A run can also be replayed from the beginning of the stream (a page refreshed while it
streams): rows before ``caught_up_at`` are history, and a status the run had then (it
waited for an approval, say) does not end the replay; only the status it has once the
replay caught up does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import orjson

from ..agent import rows as r
from ..agent.rows import DeltaRow, RunRow, StepRow, ToolCallRow
from ..entities import vocabulary as v
from ..state.events import Change, InvalidEvent, parse
from ..streams.follow import follow
from ..streams.storage import Storage

E = TypeVar("E")


class RunTranslator(Generic[E]):
    """Picks one run and turns its rows into a protocol's events.

    The run is ``run_id`` when given; else the run ``message_id`` started or joined; else
    the first run inserted after the translator starts reading."""

    def __init__(self, *, message_id: str | None = None, run_id: str | None = None) -> None:
        self.message_id = message_id
        self.own_run = run_id
        self.done = False
        #: Set while rows before the replay's ``caught_up_at`` are read.
        self.catching_up = False
        self._settled: RunRow | None = None

    # --- what a protocol says ----------------------------------------------------------

    def begin(self) -> list[E]:
        """Events before any row is read (the run is already known when ``run_id`` is)."""
        return []

    def started(self, run: RunRow) -> list[E]:
        return []

    def ended(self, run: RunRow) -> list[E]:
        """The run finished, failed, was stopped, or waits for an outside answer."""
        return []

    def step(self, step: StepRow) -> list[E]:
        return []

    def text_delta(self, delta: DeltaRow) -> list[E]:
        return []

    def reasoning_delta(self, delta: DeltaRow) -> list[E]:
        return []

    def tool_call(self, call: ToolCallRow) -> list[E]:
        return []

    # --- the shared part -----------------------------------------------------------

    def translate(self, change: Change) -> list[E]:
        if change.type == v.RUN:
            run = RunRow.read(change.value)
            return self._run(change, run) if run is not None else []
        if self.own_run is None or not isinstance(change.value, dict):
            return []
        if change.value.get("run_id") != self.own_run:
            return []  # another run's row: not worth reading as a model
        if change.type == v.STEP:
            step = StepRow.read(change.value)
            return self.step(step) if step is not None else []
        if change.type == v.TEXT_DELTA:
            delta = DeltaRow.read(change.value)
            return self.text_delta(delta) if delta is not None else []
        if change.type == v.REASONING_DELTA:
            delta = DeltaRow.read(change.value)
            return self.reasoning_delta(delta) if delta is not None else []
        if change.type == v.TOOL_CALL:
            call = ToolCallRow.read(change.value)
            return self.tool_call(call) if call is not None else []
        return []

    def caught_up(self) -> list[E]:
        """The replay reached the point it was asked at: end now if the run had ended."""
        self.catching_up = False
        settled, self._settled = self._settled, None
        if settled is None:
            return []
        self.done = True
        return self.ended(settled)

    def _run(self, change: Change, run: RunRow) -> list[E]:
        if self.own_run is None:
            if self.message_id is None and change.operation != "insert":
                return []
            # A message can also join a run already going (one waiting for a tool result).
            if self.message_id is not None and self.message_id not in run.trigger:
                return []
            self.own_run = str(change.key)
            return self.started(run)
        if change.key != self.own_run:
            return []
        if run.status not in (*r.RUN_DONE, r.AWAITING):
            self._settled = None
            return []
        if self.catching_up:
            self._settled = run
            return []
        self.done = True
        return self.ended(run)


async def run_events(
    storage: Storage,
    stream: str,
    start: int,
    translator: RunTranslator[E],
    *,
    caught_up_at: int | None = None,
) -> AsyncIterator[E]:
    """``translator``'s events for its run, reading ``stream`` from position ``start``;
    rows before ``caught_up_at`` (when given) are a replay of the run's past."""
    for event in translator.begin():
        yield event
    translator.catching_up = caught_up_at is not None and start < caught_up_at
    async for entry in follow(storage, stream, start):
        try:
            change = parse(orjson.loads(entry.data))
        except (InvalidEvent, orjson.JSONDecodeError):
            change = None
        if isinstance(change, Change):
            for event in translator.translate(change):
                yield event
        if translator.catching_up and caught_up_at is not None and entry.end >= caught_up_at:
            for event in translator.caught_up():
                yield event
        if translator.done:
            return


@dataclass(frozen=True)  # no slots: a parametrized alias (Following[Chunk]) is called too
class Following(Generic[E]):
    """Where a front end's answer is read: ``stream`` from ``start`` by ``translator``,
    rows before ``caught_up_at`` being a replay."""

    stream: str
    start: int
    translator: RunTranslator[E]
    caught_up_at: int | None = None

    def events(self, storage: Storage) -> AsyncIterator[E]:
        return run_events(
            storage, self.stream, self.start, self.translator, caught_up_at=self.caught_up_at
        )
