"""Closing what a pass left open once it is over for good.

A run is continued by the next try of its pass (after an exception or a crash), so an
open run, step or tool call is normal between tries. When no try will follow (the entity
was killed or stopped, its handler ran out of attempts, its commit failed), the runtime
asks this closer for the events that end them with a terminal status and a reason, and
commits them with the pass: nothing stays ``running`` on the stream forever.
"""

from __future__ import annotations

import time
from typing import Any

from ..entities.resources import KILLED, PASS_FAILED, PassCloser
from ..state import StateStore
from ..state.events import now_timestamp
from . import records as r
from . import rows as s

#: How a run ends, by the reason its pass is over.
_RUN_STATUS: dict[str, s.RunStatus] = {PASS_FAILED: s.FAILED, KILLED: s.ABORTED}


class OpenRuns(PassCloser):
    """Ends every open run of the entity, with its open steps and tool calls."""

    def __call__(
        self, store: StateStore, reason: str, error: str | None = None
    ) -> list[dict[str, Any]]:
        rows = r.Rows(store)
        found: list[dict[str, Any]] = []
        for run in rows.runs():
            if run.status in s.RUN_DONE:
                continue
            for step in rows.steps(run.id):
                if step.status == s.RUNNING:
                    found.append(_closed(store, step, status=s.SUPERSEDED, error=reason))
                for call in rows.calls(step.id):
                    if call.status not in s.CALL_DONE:
                        found.append(
                            _closed(
                                store,
                                call,
                                status=s.FAILED,
                                error=f"the run ended ({reason})",
                                finished_at=now_timestamp(),
                            )
                        )
            started = run.started if run.started is not None else time.time()
            found.append(
                _closed(
                    store,
                    run,
                    status=_RUN_STATUS.get(reason, s.ABORTED),
                    finish_reason=reason,
                    error=error,
                    finished_at=now_timestamp(),
                    duration_ms=int((time.time() - started) * 1000),
                )
            )
        return found


def _closed(
    store: StateStore, row: s.RunRow | s.StepRow | s.ToolCallRow, **changes: Any
) -> dict[str, Any]:
    kind = r.COLLECTION_OF[type(row)]
    stored = store.collection(kind).raw(row.id)
    return r.change_event(kind, row.id, {**(stored or row.wire()), **changes})
