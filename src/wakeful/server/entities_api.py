"""The JSON API for entities, documented by OpenAPI at ``/openapi.json`` and ``/docs``.

Reading an entity is reading its stream: ``GET /v1/stream/{type}/{id}/main`` with the
Durable Streams protocol (catch-up, long-poll or SSE).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from ..entities.addressing import Address
from ..entities.service import EntityService
from ..entities.vocabulary import KILL
from ..errors import BadRequest, ErrorCode
from .access import Access, principal_of

STATUSES = frozenset({"idle", "paused", "failed", "stopped", "killed"})
ID_FIELD = Field(None, description="Entity id; generated when omitted.", max_length=128)


class SpawnBody(BaseModel):
    id: str | None = ID_FIELD
    args: Any = Field(None, description="Spawn arguments, validated by the type's args schema.")
    message: Any = Field(None, description="A first inbox message, validated like any other.")
    tags: dict[str, str] = Field(default_factory=dict)


class MessageBody(BaseModel):
    payload: Any = Field(..., description="Validated by the type's inbox schema, if it has one.")
    sender: str | None = Field(None, alias="from", description="Who sends it (free text).")
    request_id: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="Asks for an answer: the entity's reply goes to `from` (an entity URL).",
    )
    in_reply_to: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="Answers the entity's request with this id (not checked by its inbox"
        " schema); wakes it with the reply.",
    )


class SignalBody(BaseModel):
    name: str = Field(
        ...,
        min_length=1,
        max_length=100,
        description="pause, resume, stop, kill, interrupt, or a custom name",
    )
    payload: Any = None


class ForkBody(BaseModel):
    id: str | None = ID_FIELD
    at: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="Fork at the end of this completed run (its id); by default at the end"
        " of the last completed run, or of the last committed pass for an entity without runs.",
    )


class Entity(BaseModel):
    url: str
    type: str
    id: str
    status: str
    parent: str | None
    tags: dict[str, str]
    stream: str = Field(..., description="Path of the entity's stream under /v1/stream/.")
    offset: str = Field(..., description="The stream's tail offset when this was read.")


class EntityList(BaseModel):
    entities: list[Entity]
    next: str | None = Field(None, description="Pass as `after` for the next page.")


class Accepted(BaseModel):
    id: str


def entities_router(
    service: EntityService, guard: Callable[[Request], Awaitable[None]], access: Access | None
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["entities"], dependencies=[Depends(guard)])

    @router.post("/entities/{type_name}", status_code=201, summary="Spawn an entity")
    async def spawn(
        type_name: str, body: SpawnBody, request: Request, response: Response
    ) -> Entity:
        info = await service.spawn(
            type_name,
            body.id,
            args=body.args,
            message=body.message,
            tags=body.tags,
            owner=principal_of(request).name,
        )
        response.headers["Location"] = f"/v1/entities{info.url}"
        return Entity(**info.as_dict())

    @router.get("/entities", summary="List entities")
    async def list_entities(
        request: Request,
        type: str | None = Query(None, description="Only entities of this type."),
        status: str | None = Query(None, description="idle, paused, failed, stopped or killed."),
        parent: str | None = Query(None, description="Only children of this entity URL."),
        tag: str | None = Query(None, description="name:value"),
        after: str | None = Query(None, description="Entity URL to continue after."),
        limit: int = Query(100, ge=1, le=1000),
    ) -> EntityList:
        if status is not None and status not in STATUSES:
            raise BadRequest(
                f"unknown status {status!r}; use one of {', '.join(sorted(STATUSES))}",
                code=ErrorCode.INVALID_STATUS,
            )
        tag_filter = None
        if tag is not None:
            name, separator, value = tag.partition(":")
            if not separator or not name:
                raise BadRequest("tag must look like name:value", code=ErrorCode.INVALID_TAG)
            tag_filter = (name, value)
        owner = await access.listing_owner(principal_of(request), type) if access else None
        found = await service.list(
            type_name=type,
            owner=owner,
            status=status,
            parent=parent,
            tag=tag_filter,
            after=after or "",
            limit=limit,
        )
        entities = [Entity(**info.as_dict()) for info in found]
        next_page = entities[-1].url if len(entities) == limit else None
        return EntityList(entities=entities, next=next_page)

    @router.get("/entities/{type_name}/{entity_id}", summary="Get an entity")
    async def get_entity(type_name: str, entity_id: str) -> Entity:
        info = await service.get(Address.parse(f"/{type_name}/{entity_id}").url)
        return Entity(**info.as_dict())

    @router.post(
        "/entities/{type_name}/{entity_id}/messages",
        status_code=202,
        summary="Send a message to an entity's inbox",
    )
    async def send(type_name: str, entity_id: str, body: MessageBody, request: Request) -> Accepted:
        url = Address.parse(f"/{type_name}/{entity_id}").url
        message_id = await service.send(
            url,
            body.payload,
            sender=body.sender,
            request_id=body.request_id,
            in_reply_to=body.in_reply_to,
            principal=principal_of(request).name,
        )
        return Accepted(id=message_id)

    @router.post(
        "/entities/{type_name}/{entity_id}/signals", status_code=202, summary="Signal an entity"
    )
    async def signal(
        type_name: str, entity_id: str, body: SignalBody, request: Request
    ) -> Accepted:
        if access is not None and body.name == KILL:
            # Killing by signal is killing: a policy that refuses kill refuses it too.
            await access.entity(principal_of(request), "kill", type_name, entity_id)
        url = Address.parse(f"/{type_name}/{entity_id}").url
        return Accepted(id=await service.signal(url, body.name, body.payload))

    @router.post(
        "/entities/{type_name}/{entity_id}/fork",
        status_code=201,
        summary="Fork an entity: a new one with its state and history up to a completed run",
    )
    async def fork(
        type_name: str, entity_id: str, body: ForkBody, request: Request, response: Response
    ) -> Entity:
        principal = principal_of(request)
        if access is not None:
            await access.entity(principal, "spawn", type_name, body.id)
        url = Address.parse(f"/{type_name}/{entity_id}").url
        info = await service.fork(url, body.id, at=body.at, owner=principal.name)
        response.headers["Location"] = f"/v1/entities{info.url}"
        return Entity(**info.as_dict())

    @router.delete("/entities/{type_name}/{entity_id}", status_code=204, summary="Delete an entity")
    async def delete(type_name: str, entity_id: str) -> Response:
        await service.delete(Address.parse(f"/{type_name}/{entity_id}").url)
        return Response(status_code=204)

    return router
