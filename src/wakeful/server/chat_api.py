"""The AI SDK's chat routes: ``DefaultChatTransport({api: "<server>/v1/chat"})`` posts to
``/v1/chat`` and resumes at ``/v1/chat/{id}/stream``; both answer with the UI message
stream (see :mod:`wakeful.threads.chat`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from ..errors import BadRequest, ErrorCode, UnknownEntity
from ..threads.chat import Answer, Chat
from ..threads.service import ThreadService
from ..threads.ui_messages import ChatRequest, as_ui_messages, tool_answers
from ..threads.ui_stream import HEADERS, sse
from .access import Access, principal_of

_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "UI message chunks"}
}


def chat_router(
    threads: ThreadService, guard: Callable[[Request], Awaitable[None]], access: Access | None
) -> APIRouter:
    """Chat routes. The post names its thread in the body, so it checks access itself:
    ``send`` on the thread (``spawn`` on the type to create it, ``answer`` to answer its
    tool calls); the resume route is guarded as a thread read."""
    router = APIRouter(prefix="/v1/chat", tags=["chat"], dependencies=[Depends(guard)])
    chat = Chat(threads)

    def streamed(answer: Answer) -> StreamingResponse:
        chunks = answer.events(threads.storage)
        return StreamingResponse(sse(chunks), media_type="text/event-stream", headers=HEADERS)

    @router.post(
        "",
        summary="Chat as the AI SDK does: UIMessages in, the UI message stream out (SSE)",
        response_class=StreamingResponse,
        responses=_STREAM,
    )
    async def post(request: Request) -> StreamingResponse:
        try:
            body = ChatRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            raise BadRequest(
                f"invalid chat request: {where}: {error['msg']}", code=ErrorCode.INVALID_REQUEST
            ) from None
        principal = principal_of(request)
        try:
            await threads.get(body.id)
        except UnknownEntity:
            chat.check(body, thread_exists=False)
            if access is not None:
                await access.entity(principal, "spawn", threads.type_name, None)
            await threads.create(thread_id=body.id, owner=principal.name)
        if access is not None:
            await access.entity(principal, "send", threads.type_name, body.id)
            if body.messages[-1].role == "assistant" and tool_answers(body.messages[-1]):
                await access.entity(principal, "answer", threads.type_name, body.id)
        return streamed(await chat.post(body, principal=principal.name))

    @router.get(
        "/{thread_id}/stream",
        summary="Reattach to the run in progress (204 when nothing runs)",
        response_class=StreamingResponse,
        responses={**_STREAM, 204: {"description": "Nothing runs on this chat."}},
    )
    async def resume(thread_id: str, request: Request) -> Response:
        answer = await chat.resume(thread_id)
        return streamed(answer) if answer is not None else Response(status_code=204)

    @router.get(
        "/{thread_id}/messages",
        summary="The chat so far as the AI SDK's UIMessages (to load into useChat)",
    )
    async def history(thread_id: str, request: Request) -> list[dict[str, Any]]:
        return as_ui_messages(await threads.messages(thread_id))

    return router
