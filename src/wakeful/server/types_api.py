"""The JSON API for entity types: list and describe them all, register remote ones.

A remote type's handler is an outside HTTP service: registering ``{name, webhook: {url}}``
makes ``POST /v1/entities/{name}`` create entities whose wakes are signed webhooks to that
URL (see docs/entities.md, "Remote types over HTTP").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from ..entities.remote import RemoteTypeSpec, WebhookTarget
from ..entities.type_service import TypeService
from .stream_schema import StreamSchema, stream_schema


class EntityTypeInfo(BaseModel):
    name: str
    kind: Literal["local", "remote"] = Field(
        ..., description="local: defined in Python here; remote: run by a webhook service."
    )
    description: str
    state: dict[str, Any] = Field(..., description="State collections with their schemas.")
    args_schema: dict[str, Any] | None
    inbox_schema: dict[str, Any] | None
    webhook: WebhookTarget | None = Field(None, description="Remote types only.")
    lease_seconds: float | None = Field(None, description="Remote types only.")
    request_timeout_seconds: float | None = Field(
        None, description="Remote types only: a wake request's timeout (None: the lease)."
    )


def types_router(types: TypeService, guard: Callable[[Request], Awaitable[None]]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["types"], dependencies=[Depends(guard)])

    @router.get("/types", summary="List the entity types, local and remote")
    async def list_types() -> list[EntityTypeInfo]:
        return [EntityTypeInfo(**described) for described in await types.describe_all()]

    @router.get("/types/{type_name}", summary="Describe one entity type")
    async def get_type(type_name: str) -> EntityTypeInfo:
        return EntityTypeInfo(**await types.describe(type_name))

    @router.get(
        "/types/{type_name}/schema",
        summary="The State Protocol schema of the type's entity streams",
        description=(
            "One collection per event type on the stream of an entity of this type, in the"
            " shape `createStateSchema` of `@durable-streams/state` takes: the runtime's"
            " events, the agent's rows and the type's `state:<name>` collections, each with"
            " its event type, primary key and rows' JSON Schema. See docs/frontends.md."
        ),
    )
    async def get_type_schema(type_name: str) -> StreamSchema:
        return stream_schema(await types.describe(type_name))

    @router.post(
        "/types",
        status_code=201,
        summary="Register or update a remote type",
        description=(
            "201 when the type is new; 200 when it existed (updated, or unchanged when the"
            " body is the same). A changed webhook URL applies to entities spawned from"
            " then on; schemas apply to every later spawn and message. 409 for a name"
            " defined in Python."
        ),
        responses={200: {"description": "The type existed and now matches the body."}},
    )
    async def register_type(body: RemoteTypeSpec, response: Response) -> EntityTypeInfo:
        described, outcome = await types.register(body)
        if outcome != "created":
            response.status_code = 200
        response.headers["Location"] = f"/v1/types/{body.name}"
        return EntityTypeInfo(**described)

    @router.delete(
        "/types/{type_name}",
        status_code=204,
        summary="Remove a remote type",
        description="409 while entities of the type exist: delete them first.",
    )
    async def delete_type(type_name: str) -> Response:
        await types.remove(type_name)
        return Response(status_code=204)

    return router
