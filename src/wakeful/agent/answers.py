"""Outside answers to waiting tool calls: asynchronous results and approvals.

An answer is a ``tool_result`` event on the entity's stream; it wakes the entity and the
agent loop continues. The first answer to a call wins: each is appended through an
idempotent producer named after the call, so a second answer (even one racing the first
from another process) is detected by the database and refused with 409.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..entities import vocabulary as v
from ..entities.addressing import Address
from ..entities.definition import Registry
from ..entities.loading import StateCache
from ..entities.service import EntityService
from ..errors import AlreadyAnswered, BadRequest, ErrorCode, UnknownToolCall
from ..state.events import insert
from ..streams import batch
from ..streams.model import AppendRequest, AppendResult, ProducerClaim
from ..streams.storage import Storage
from .records import Rows
from .rows import CALL_DONE, AnsweredCall, AnswerStatus, ToolResultRow

_KIND_FOR = {"completed": "async", "failed": "async", "approved": "approval", "denied": "approval"}


class ToolAnswers:
    def __init__(self, storage: Storage, registry: Registry) -> None:
        self.storage = storage
        self.registry = registry
        self.entities = EntityService(storage, registry)
        self._cache = StateCache(storage, capacity=0)

    async def call(self, url: str, call_id: str) -> AnsweredCall:
        """The tool call as the entity's stream has it (404 if there is none)."""
        info = await self.entities.get(url)
        address = Address.parse(info.url)
        head = await self.storage.head(address.stream)
        loaded = await self._cache.load(address, self.registry.get(address.type), head.tail)
        rows = Rows(loaded.store)
        call = rows.call(call_id)
        if call is None:
            raise UnknownToolCall(f"{address.url} has no tool call {call_id!r}")
        return AnsweredCall.model_validate({**call.wire(), "answer": rows.answer(call_id)})

    async def answer(
        self,
        url: str,
        call_id: str,
        status: AnswerStatus,
        *,
        result: Any = None,
        error: str | None = None,
    ) -> None:
        if status not in _KIND_FOR:
            raise BadRequest(f"unknown answer status {status!r}", code=ErrorCode.INVALID_ANSWER)
        call = await self.call(url, call_id)
        kind = call.kind
        if kind != _KIND_FOR[status]:
            expected = "a result or an error" if kind == "async" else "approve or deny"
            if kind not in ("async", "approval"):
                expected = "nothing: it runs by itself"
            raise BadRequest(
                f"tool call {call_id!r} ({call.name}) takes {expected}",
                code=ErrorCode.WRONG_ANSWER_KIND,
            )
        if call.answer is not None or call.status in CALL_DONE:
            raise AlreadyAnswered(f"tool call {call_id!r} was already answered")
        answer = ToolResultRow(call_id=call_id, status=status, result=result, error=error)
        event = insert(v.TOOL_RESULT, call_id, answer.wire())
        address = Address.parse(url)
        request = AppendRequest(
            address.stream,
            "application/json",
            [orjson.dumps(event)],
            producer=ProducerClaim(f"tool-result:{call_id}", 0, 0),
        )
        (appended,) = await self.storage.commit([batch.Append(request)])
        if isinstance(appended, AppendResult) and appended.duplicate:
            raise AlreadyAnswered(f"tool call {call_id!r} was already answered")
