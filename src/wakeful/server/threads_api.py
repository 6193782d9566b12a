"""The JSON API for chat threads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from ag_ui.core import RunAgentInput
from ag_ui.encoder import EventEncoder
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, ValidationError

from ..agent.budgets import BudgetReason
from ..errors import BadRequest, ErrorCode, UnknownEntity
from ..threads.agui import agui_run, last_user
from ..threads.service import ThreadService
from .access import Access, principal_of
from .entities_api import ForkBody


class CreateThread(BaseModel):
    prompt: str | None = Field(None, description="A first message, which starts a run.")
    id: str | None = Field(None, max_length=128, description="Thread id; generated when omitted.")
    title: str | None = Field(None, max_length=200)
    metadata: dict[str, Any] = Field(default_factory=dict)


class SendMessage(BaseModel):
    content: str = Field(..., min_length=1, max_length=200_000)


class ToolResult(BaseModel):
    result: Any


class ToolError(BaseModel):
    error: str = Field(..., min_length=1, max_length=10_000)


class Thread(BaseModel):
    id: str
    url: str
    status: str = Field(
        ..., description="streaming, awaiting_tool_results, completed, failed or stopped"
    )
    title: str | None
    metadata: dict[str, Any]
    stream: str
    offset: str
    finish_reason: str | None = Field(
        None,
        description="How the latest run ended: stop, tool_calls, interrupted, max_steps,"
        " max_tokens, budget, error, ...",
    )
    budget: BudgetReason | None = Field(
        None, description="The spending limit that stopped the latest run (finish_reason budget)."
    )


class ThreadPage(BaseModel):
    threads: list[Thread]
    next: str | None


class Queued(BaseModel):
    id: str


def threads_router(
    threads: ThreadService, guard: Callable[[Request], Awaitable[None]], access: Access | None
) -> APIRouter:
    """Thread routes; ``guard`` checks each against its rule (threads are entities of the
    thread type to the policy)."""
    router = APIRouter(prefix="/v1/threads", tags=["threads"], dependencies=[Depends(guard)])

    @router.post("", status_code=201, summary="Create a thread, optionally with a first prompt")
    async def create(body: CreateThread, request: Request, response: Response) -> Thread:
        view = await threads.create(
            body.prompt,
            thread_id=body.id,
            title=body.title,
            metadata=body.metadata,
            owner=principal_of(request).name,
        )
        response.headers["Location"] = f"/v1/threads/{view.id}"
        return Thread(**view.as_dict())

    @router.get("", summary="List threads")
    async def list_threads(
        request: Request,
        after: str | None = Query(None, description="Thread id to continue after."),
        limit: int = Query(50, ge=1, le=500),
    ) -> ThreadPage:
        principal = principal_of(request)
        owner = await access.listing_owner(principal, threads.type_name) if access else None
        views = await threads.list(after=after, limit=limit, owner=owner)
        page = [Thread(**view.as_dict()) for view in views]
        return ThreadPage(threads=page, next=page[-1].id if len(page) == limit else None)

    @router.get("/{thread_id}", summary="Get a thread")
    async def get(thread_id: str, request: Request) -> Thread:
        return Thread(**(await threads.get(thread_id)).as_dict())

    @router.get("/{thread_id}/messages", summary="List messages, including text still streaming")
    async def messages(thread_id: str, request: Request) -> list[dict[str, Any]]:
        return await threads.messages(thread_id)

    @router.post(
        "/{thread_id}/messages",
        status_code=202,
        summary="Send a message (queued while a run is going)",
    )
    async def send(thread_id: str, body: SendMessage, request: Request) -> Queued:
        principal = principal_of(request).name
        return Queued(id=await threads.send(thread_id, body.content, principal=principal))

    @router.post("/{thread_id}/stop", status_code=202, summary="Stop the running run")
    async def stop(thread_id: str, request: Request) -> Response:
        await threads.stop(thread_id)
        return Response(status_code=202)

    @router.post(
        "/{thread_id}/resume", status_code=202, summary="Resume a stopped or failed thread"
    )
    async def resume(thread_id: str, request: Request) -> Response:
        await threads.resume(thread_id)
        return Response(status_code=202)

    @router.post(
        "/{thread_id}/fork",
        status_code=201,
        summary="Fork a thread at the end of a completed run (edit and retry from there)",
    )
    async def fork(thread_id: str, body: ForkBody, request: Request, response: Response) -> Thread:
        principal = principal_of(request)
        if access is not None:
            await access.entity(principal, "spawn", threads.type_name, body.id)
        view = await threads.fork(thread_id, body.id, at=body.at, owner=principal.name)
        response.headers["Location"] = f"/v1/threads/{view.id}"
        return Thread(**view.as_dict())

    @router.delete("/{thread_id}", status_code=204, summary="Delete a thread")
    async def delete(thread_id: str, request: Request) -> Response:
        await threads.delete(thread_id)
        return Response(status_code=204)

    @router.post(
        "/{thread_id}/tool-calls/{call_id}/result",
        status_code=202,
        summary="Give an asynchronous tool's result",
    )
    async def tool_result(
        thread_id: str, call_id: str, body: ToolResult, request: Request
    ) -> Response:
        await threads.tool_result(thread_id, call_id, body.result)
        return Response(status_code=202)

    @router.post(
        "/{thread_id}/tool-calls/{call_id}/error",
        status_code=202,
        summary="Fail an asynchronous tool call",
    )
    async def tool_error(
        thread_id: str, call_id: str, body: ToolError, request: Request
    ) -> Response:
        await threads.tool_error(thread_id, call_id, body.error)
        return Response(status_code=202)

    @router.post(
        "/{thread_id}/agui",
        summary="Run the thread as an AG-UI agent: RunAgentInput in, AG-UI events out (SSE)",
        response_class=StreamingResponse,
    )
    async def agui(thread_id: str, request: Request) -> StreamingResponse:
        try:
            run_input = RunAgentInput.model_validate_json(await request.body())
        except ValidationError as exc:
            raise BadRequest(
                f"invalid RunAgentInput: {exc.errors()[0]['msg']}", code=ErrorCode.INVALID_REQUEST
            ) from None
        if last_user(run_input) is None:
            raise BadRequest(
                "RunAgentInput has no user message to send", code=ErrorCode.NO_USER_MESSAGE
            )
        try:
            await threads.get(thread_id)
        except UnknownEntity:
            # Creating it takes what POST /v1/threads takes.
            principal = principal_of(request)
            if access is not None:
                await access.entity(principal, "spawn", threads.type_name, None)
            await threads.create(thread_id=thread_id, owner=principal.name)
        following = await agui_run(
            threads, thread_id, run_input, principal=principal_of(request).name
        )
        encoder = EventEncoder(accept=request.headers.get("accept", "text/event-stream"))

        async def body() -> AsyncIterator[str]:
            async for event in following.events(threads.storage):
                yield encoder.encode(event)

        return StreamingResponse(body(), media_type=encoder.get_content_type())

    return router
