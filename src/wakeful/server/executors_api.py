"""The JSON API of executors: list the calls waiting for one, claim, heartbeat, complete,
fail. Any language can run an executor with these five requests (see
docs/coordination.md); ``wakeful executor`` is the Python one.

Each call belongs to an entity: a principal may see and work on the calls of the entities
it may ``answer``, as it may answer their asynchronous tool calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from ..agent.executor_queue import DEFAULT_LEASE_SECONDS, MAX_LEASE_SECONDS, ExecutorQueues
from ..agent.executor_rows import ExecutorCall, Refusal
from ..entities.addressing import Address
from ..errors import Forbidden
from .access import Access, principal_of

LEASE_FIELD = Field(
    DEFAULT_LEASE_SECONDS,
    gt=0,
    le=MAX_LEASE_SECONDS,
    description="How long the claim holds without a heartbeat, in seconds.",
)
GENERATION_FIELD = Field(..., ge=1, le=2**31 - 2, description="The claim's generation.")


class ClaimBody(BaseModel):
    holder: str = Field(..., min_length=1, max_length=200, description="Who claims (free text).")
    lease_seconds: float = LEASE_FIELD


class HeartbeatBody(BaseModel):
    generation: int = GENERATION_FIELD
    lease_seconds: float = LEASE_FIELD


class CompleteBody(BaseModel):
    generation: int = GENERATION_FIELD
    result: Any = Field(None, description="The tool's result, as JSON.")


class FailBody(BaseModel):
    generation: int = GENERATION_FIELD
    error: str = Field(..., min_length=1, max_length=10_000)
    retryable: bool = Field(
        True, description="Whether another attempt may succeed (the tool's retry policy decides)."
    )


class CallList(BaseModel):
    calls: list[ExecutorCall]


class RefusalList(BaseModel):
    refused: list[Refusal]


def executors_router(
    queues: ExecutorQueues,
    guard: Callable[[Request], Awaitable[None]],
    access: Access | None,
) -> APIRouter:
    router = APIRouter(
        prefix="/v1/executors/{name}", tags=["executors"], dependencies=[Depends(guard)]
    )

    async def may_answer(request: Request, call: ExecutorCall) -> bool:
        if access is None:
            return True
        address = Address.parse(call.entity)
        try:
            await access.entity(principal_of(request), "answer", address.type, address.id)
        except Forbidden:
            return False
        return True

    async def allowed(request: Request, name: str, key: str) -> ExecutorCall:
        call = await queues.get(name, key)
        if not await may_answer(request, call):
            raise Forbidden(f"not allowed to answer {call.entity}'s tool calls")
        return call

    @router.get("/calls", summary="List the calls an executor may claim now, oldest first")
    async def pending(
        name: str, request: Request, limit: int = Query(100, ge=1, le=1000)
    ) -> CallList:
        found = await queues.pending(name, limit=limit)
        return CallList(calls=[call for call in found if await may_answer(request, call)])

    @router.get("/calls/{key}", summary="Get a call of an executor's queue")
    async def get_call(name: str, key: str, request: Request) -> ExecutorCall:
        return await allowed(request, name, key)

    @router.post("/calls/{key}/claim", summary="Claim a call: its generation and lease")
    async def claim(name: str, key: str, body: ClaimBody, request: Request) -> ExecutorCall:
        await allowed(request, name, key)
        return await queues.claim(name, key, body.holder, body.lease_seconds)

    @router.post("/calls/{key}/heartbeat", summary="Extend the lease of a claimed call")
    async def heartbeat(name: str, key: str, body: HeartbeatBody, request: Request) -> ExecutorCall:
        await allowed(request, name, key)
        return await queues.heartbeat(name, key, body.generation, body.lease_seconds)

    @router.post("/calls/{key}/complete", summary="Give a claimed call's result")
    async def complete(name: str, key: str, body: CompleteBody, request: Request) -> ExecutorCall:
        await allowed(request, name, key)
        return await queues.complete(name, key, body.generation, body.result)

    @router.post("/calls/{key}/fail", summary="Fail a claimed call's attempt")
    async def fail(name: str, key: str, body: FailBody, request: Request) -> ExecutorCall:
        await allowed(request, name, key)
        return await queues.fail(name, key, body.generation, body.error, retryable=body.retryable)

    @router.get("/refused", summary="Results and failures refused as too late")
    async def refused(name: str, request: Request) -> RefusalList:
        found = await queues.refusals(name)
        kept = []
        for refusal in found:
            call = await queues.get(name, refusal.key)
            if await may_answer(request, call):
                kept.append(refusal)
        return RefusalList(refused=kept)

    return router
