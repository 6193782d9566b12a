"""Thread operations: create, send, stop, resume, read, list, delete, answer tools."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..agent.answers import ToolAnswers
from ..agent.budgets import BudgetReason
from ..agent.records import Rows
from ..agent.rows import AnswerStatus
from ..entities import vocabulary as v
from ..entities.addressing import Address
from ..entities.definition import Registry
from ..entities.loading import StateCache
from ..entities.service import EntityService
from ..errors import Conflict, ErrorCode, UnknownEntity, UnknownThread
from ..state import StateStore
from ..streams.storage import Storage
from .definition import CONTINUE
from .messages import FAILED, STOPPED, STREAMING, thread_messages, thread_status


@dataclass(frozen=True, slots=True)
class ThreadView:
    id: str
    url: str
    status: str
    title: str | None
    metadata: dict[str, Any]
    stream: str
    offset: str
    #: How the latest run ended (``budget``: a spending limit stopped it; see ``budget``).
    finish_reason: str | None = None
    budget: BudgetReason | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "status": self.status,
            "title": self.title,
            "metadata": self.metadata,
            "stream": self.stream,
            "offset": self.offset,
            "finish_reason": self.finish_reason,
            "budget": self.budget,
        }


@dataclass(frozen=True, slots=True)
class ThreadState:
    store: StateStore
    entity_status: str
    offset: str
    stream: str
    #: The stream position ``store`` reflects.
    position: int


class ThreadService:
    def __init__(self, storage: Storage, registry: Registry, type_name: str = "thread") -> None:
        self.storage = storage
        self.registry = registry
        self.type_name = type_name
        self.entities = EntityService(storage, registry)
        self.answers = ToolAnswers(storage, registry)
        self._cache = StateCache(storage, capacity=256)

    def _url(self, thread_id: str) -> str:
        return Address(self.type_name, thread_id).url

    async def _state(self, thread_id: str) -> tuple[StateStore, str, str, str]:
        state = await self.snapshot(thread_id)
        return state.store, state.entity_status, state.offset, state.stream

    async def snapshot(self, thread_id: str) -> ThreadState:
        """The thread's state as of one position of its stream (to follow from there)."""
        try:
            info = await self.entities.get(self._url(thread_id))
        except UnknownEntity as exc:
            raise UnknownThread(f"thread {thread_id!r} does not exist") from exc
        address = Address.parse(info.url)
        head = await self.storage.head(address.stream)
        loaded = await self._cache.load(address, self.registry.get(self.type_name), head.tail)
        self._cache.put(address.url, loaded)
        return ThreadState(loaded.store, info.status, info.offset, address.stream, head.tail)

    async def create(
        self,
        prompt: str | None = None,
        *,
        thread_id: str | None = None,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
        owner: str | None = None,
    ) -> ThreadView:
        info = await self.entities.spawn(
            self.type_name,
            thread_id,
            args={"title": title, "metadata": metadata or {}},
            message=prompt,
            owner=owner,
        )
        return await self.get(info.id)

    async def fork(
        self,
        thread_id: str,
        new_id: str | None = None,
        *,
        at: str | None = None,
        owner: str | None = None,
    ) -> ThreadView:
        """A new thread with this one's conversation up to the end of run ``at`` (or its
        last completed run): edit and retry from there."""
        try:
            info = await self.entities.fork(self._url(thread_id), new_id, at=at, owner=owner)
        except UnknownEntity as exc:
            raise UnknownThread(f"thread {thread_id!r} does not exist") from exc
        return await self.get(info.id)

    async def get(self, thread_id: str) -> ThreadView:
        store, entity_status, offset, stream = await self._state(thread_id)
        created = store.collection(v.ENTITY_CREATED).get("entity")
        args = (created or {}).get("args") or {} if isinstance(created, dict) else {}
        runs = Rows(store).runs()
        latest = runs[-1] if runs else None
        return ThreadView(
            id=thread_id,
            url=self._url(thread_id),
            status=thread_status(store, entity_status),
            title=args.get("title"),
            metadata=dict(args.get("metadata") or {}),
            stream=stream,
            offset=offset,
            finish_reason=latest.finish_reason if latest is not None else None,
            budget=latest.budget if latest is not None else None,
        )

    async def messages(self, thread_id: str) -> list[dict[str, Any]]:
        store, _, _, _ = await self._state(thread_id)
        return thread_messages(store)

    async def send(
        self,
        thread_id: str,
        content: str,
        *,
        sender: str | None = None,
        principal: str | None = None,
    ) -> str:
        """Queue a message: it starts a run now, or the next one if a run is going."""
        url = self._url(thread_id)
        return await self.entities.send(url, content, sender=sender, principal=principal)

    async def send_once(
        self, thread_id: str, content: Any, message_id: str, *, principal: str | None = None
    ) -> bool:
        """Queue a message under the client's id, unless it was sent before (False)."""
        url = self._url(thread_id)
        return await self.entities.send_once(url, content, message_id, principal=principal)

    async def regenerate(self, thread_id: str) -> None:
        """Start a run from the conversation so far, without a new message: a new answer
        to the last one."""
        await self.entities.signal(self._url(thread_id), CONTINUE)

    async def stop(self, thread_id: str) -> None:
        view = await self.get(thread_id)
        if view.status != STREAMING and view.status != "awaiting_tool_results":
            raise Conflict(
                f"thread {thread_id!r} is not running ({view.status})", code=ErrorCode.NOT_RUNNING
            )
        # A running pass sees the signal at once; a parked run ends when the signal wakes it.
        await self.entities.signal(self._url(thread_id), v.INTERRUPT)

    async def resume(self, thread_id: str) -> None:
        """Continue a stopped or failed thread from its conversation so far."""
        view = await self.get(thread_id)
        if view.status not in (STOPPED, FAILED):
            raise Conflict(
                f"only stopped or failed threads resume; {thread_id!r} is {view.status}",
                code=ErrorCode.NOT_RESUMABLE,
            )
        info = await self.entities.get(self._url(thread_id))
        if info.status == "failed":
            await self.entities.signal(self._url(thread_id), v.RESUME)
        await self.entities.signal(self._url(thread_id), CONTINUE)

    async def list(
        self, *, after: str | None = None, limit: int = 50, owner: str | None = None
    ) -> list[ThreadView]:
        """Threads in id order; with ``owner``, only those that principal created."""
        found = await self.entities.list(
            type_name=self.type_name,
            owner=owner,
            after=self._url(after) if after else "",
            limit=limit,
        )
        return [await self.get(info.id) for info in found]

    async def delete(self, thread_id: str) -> None:
        await self.entities.delete(self._url(thread_id))
        self._cache.drop(self._url(thread_id))

    async def tool_result(self, thread_id: str, call_id: str, result: Any) -> None:
        await self.answer(thread_id, call_id, "completed", result=result)

    async def tool_error(self, thread_id: str, call_id: str, error: str) -> None:
        await self.answer(thread_id, call_id, "failed", error=error)

    async def answer(
        self,
        thread_id: str,
        call_id: str,
        status: AnswerStatus,
        *,
        result: Any = None,
        error: str | None = None,
    ) -> None:
        """Answer a waiting call: a result or an error, or approve or deny it."""
        await self.answers.answer(self._url(thread_id), call_id, status, result=result, error=error)
