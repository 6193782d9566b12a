"""The JSON API for waiting tool calls: results, errors, approvals and denials."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from ..agent.answers import ToolAnswers
from ..agent.rows import AnsweredCall
from ..entities.addressing import Address


class ResultBody(BaseModel):
    result: Any = Field(..., description="The tool's result, as JSON.")


class ErrorBody(BaseModel):
    error: str = Field(..., min_length=1, max_length=10_000)


class DecisionBody(BaseModel):
    reason: str | None = Field(None, max_length=10_000)


class Accepted(BaseModel):
    call_id: str
    status: str


def agent_router(answers: ToolAnswers, guard: Callable[[Request], Awaitable[None]]) -> APIRouter:
    router = APIRouter(
        prefix="/v1/entities/{type_name}/{entity_id}/tool-calls",
        tags=["tool calls"],
        dependencies=[Depends(guard)],
    )

    def url(type_name: str, entity_id: str) -> str:
        return Address.parse(f"/{type_name}/{entity_id}").url

    # Fields the stream's row never had stay out, as they do on the stream.
    @router.get(
        "/{call_id}",
        summary="Get a tool call and its answer, if any",
        response_model_exclude_unset=True,
    )
    async def get_call(type_name: str, entity_id: str, call_id: str) -> AnsweredCall:
        return await answers.call(url(type_name, entity_id), call_id)

    @router.post("/{call_id}/result", status_code=202, summary="Give an asynchronous tool's result")
    async def result(type_name: str, entity_id: str, call_id: str, body: ResultBody) -> Accepted:
        await answers.answer(url(type_name, entity_id), call_id, "completed", result=body.result)
        return Accepted(call_id=call_id, status="completed")

    @router.post("/{call_id}/error", status_code=202, summary="Fail an asynchronous tool call")
    async def error(type_name: str, entity_id: str, call_id: str, body: ErrorBody) -> Accepted:
        await answers.answer(url(type_name, entity_id), call_id, "failed", error=body.error)
        return Accepted(call_id=call_id, status="failed")

    @router.post("/{call_id}/approve", status_code=202, summary="Approve a tool call")
    async def approve(type_name: str, entity_id: str, call_id: str, body: DecisionBody) -> Accepted:
        await answers.answer(url(type_name, entity_id), call_id, "approved", error=body.reason)
        return Accepted(call_id=call_id, status="approved")

    @router.post("/{call_id}/deny", status_code=202, summary="Deny a tool call")
    async def deny(type_name: str, entity_id: str, call_id: str, body: DecisionBody) -> Accepted:
        await answers.answer(url(type_name, entity_id), call_id, "denied", error=body.reason)
        return Accepted(call_id=call_id, status="denied")

    return router
