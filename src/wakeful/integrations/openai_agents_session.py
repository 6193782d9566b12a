"""The OpenAI Agents SDK's ``Session``, kept in an entity's stream.

::

    async def handle(ctx, wake):
        session = WakefulSession(ctx)
        result = await Runner.run(agent, text, session=session)

The SDK's own runner then keeps the conversation in Wakeful: each item it adds is a row of
the entity's ``state:openai_agents_session`` collection, written with the pass's other
output (so once, and never for a pass that failed), and read back from the entity's state
(a snapshot plus the tail) by the next pass. Several sessions can share one entity, each by
its ``session_id``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._extras import require

require("agents", extra="openai-agents", feature="OpenAI Agents SDK sessions")

from agents.items import TResponseInputItem
from agents.memory import SessionSettings

from ..entities import vocabulary as v
from ..state.events import delete, insert
from ._durable import jsonable

if TYPE_CHECKING:
    from ..entities.context import Context

__all__ = ["SESSION_COLLECTION", "WakefulSession"]

#: The state collection the items live in (``state:openai_agents_session`` on the stream).
SESSION_COLLECTION = "openai_agents_session"


class WakefulSession:
    """A session (the SDK's ``Session`` protocol) whose items are the entity's state."""

    session_settings: SessionSettings | None = None

    def __init__(self, ctx: Context, session_id: str = "default") -> None:
        self.ctx = ctx
        self.session_id = session_id
        self._kind = v.state_type(SESSION_COLLECTION)

    def _rows(self) -> list[dict[str, Any]]:
        rows = self.ctx.store.collection(self._kind)
        mine = [
            row
            for _, row in rows.items()
            if isinstance(row, dict) and row.get("session_id") == self.session_id
        ]
        return sorted(mine, key=lambda row: int(row["seq"]))

    def _write(self, event: dict[str, Any]) -> None:
        self.ctx.output.events.append(event)
        self.ctx.store.apply(event)

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        rows = self._rows()
        if limit is not None:
            rows = rows[-limit:] if limit > 0 else []
        return [row["item"] for row in rows]

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        rows = self._rows()
        seq = int(rows[-1]["seq"]) + 1 if rows else 0
        for number, item in enumerate(items, seq):
            key = f"{self.session_id}:{number:012d}"
            value = {"session_id": self.session_id, "seq": number, "item": jsonable(item)}
            self._write(insert(self._kind, key, value))

    async def pop_item(self) -> TResponseInputItem | None:
        rows = self._rows()
        if not rows:
            return None
        last = rows[-1]
        self._write(delete(self._kind, f"{self.session_id}:{int(last['seq']):012d}"))
        item: TResponseInputItem = last["item"]
        return item

    async def clear_session(self) -> None:
        for row in self._rows():
            self._write(delete(self._kind, f"{self.session_id}:{int(row['seq']):012d}"))
