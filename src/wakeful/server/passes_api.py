"""The routes a pass run outside the server goes through: load, flush and commit.

A handler pass in a web app, a function or an HTTP-only worker (``wakeful.serverless``)
never touches the database: it reads the entity's streams and commits its batches here,
with the wake's callback token (from the webhook, or from the claim) as its only
credential. So these routes are open to that token and to nothing else, and only for the
entity the token's wake belongs to:

- ``GET .../pass/streams/{path}``: a stream's head and labels (the snapshot label);
- ``GET .../pass/messages/{path}?position=``: its messages from a position, each exactly
  as stored (their sizes are positions the pass counts with);
- ``POST .../pass/commit``: a batch (:mod:`wakeful.streams.batch_wire`), checked by
  :class:`~wakeful.entities.pass_policy.PassPolicy` and applied in one transaction with
  the same ``Storage.commit`` an in-process pass ends in.

A pass reads its own stream, its snapshots, and the streams its subscription links (what
it observes, the shared states it joined); nothing else.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from ..entities.addressing import Address, from_subscription_id
from ..entities.definition import Registry
from ..entities.pass_policy import PassPolicy
from ..errors import ErrorCode, Forbidden, excerpt
from ..streams import batch_wire, json_limits
from ..streams.http.writes import read_body
from ..streams.model import StreamRecord
from ..streams.storage import Storage
from ..streams.subscriptions.tokens import TokenClaims, verify

P = "/entities/{type_name}/{entity_id}/pass"
MAX_READ_BYTES = 1 << 20


class PassStream(BaseModel):
    id: int
    path: str
    tail: int = Field(..., description="The stream's tail position.")
    closed: bool
    retained_from: int
    labels: dict[str, str]


class PassMessages(BaseModel):
    messages: list[str] = Field(..., description="Each message as stored, base64.")
    next_position: int
    up_to_date: bool


class PassCommitted(BaseModel):
    results: list[dict[str, int | bool] | None] = Field(
        ..., description="Per operation: where an append left its stream, else null."
    )


class Wakes(BaseModel):
    subscriptions: list[str] = Field(
        ..., description="Entity subscriptions with a wake announced and not yet claimed."
    )


def passes_router(
    storage: Storage,
    registry: Registry,
    secret: Callable[[], bytes],
    max_body_bytes: int,
    max_json_depth: int,
    guard: Callable[[Request], Awaitable[None]],
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["passes"])

    @router.get(
        "/wakes",
        summary="Wakes waiting for a worker",
        description=(
            "What an HTTP-only worker claims when it starts, or when no announcement came"
            " for a while: the wake stream only announces wakes, this table is the truth."
        ),
        dependencies=[Depends(guard)],
    )
    async def wakes(
        type: Annotated[list[str] | None, Query(description="Only wakes of these types.")] = None,
    ) -> Wakes:
        wanted = set(type or ())
        found = []
        for subscription_id in await storage.subscriptions.outstanding_wakes():
            address = from_subscription_id(subscription_id)
            if address is not None and (not wanted or address.type in wanted):
                found.append(subscription_id)
        return Wakes(subscriptions=found)

    def claims_for(request: Request, type_name: str, entity_id: str) -> TokenClaims:
        address = Address(type_name, entity_id)
        return verify(secret(), request.headers.get("authorization"), address.subscription_id)

    async def readable(claims: TokenClaims, address: Address, path: str) -> StreamRecord:
        if path not in (address.stream, address.snapshots):
            row = await storage.subscriptions.get(claims.subscription_id)
            if path not in {link.path for link in row.links}:
                raise Forbidden(
                    f"a pass of {address.url} may not read {excerpt(path)}",
                    code=ErrorCode.NOT_ALLOWED,
                )
        return await storage.head(path)

    @router.get(f"{P}/streams/{{path:path}}", summary="A pass reads a stream's head")
    async def stream(request: Request, type_name: str, entity_id: str, path: str) -> PassStream:
        claims = claims_for(request, type_name, entity_id)
        record = await readable(claims, Address(type_name, entity_id), path)
        return PassStream(
            id=record.id,
            path=record.path,
            tail=record.tail,
            closed=record.closed,
            retained_from=record.retained_from,
            labels=await storage.labels(path),
        )

    @router.get(f"{P}/messages/{{path:path}}", summary="A pass reads a stream's messages")
    async def messages(
        request: Request,
        type_name: str,
        entity_id: str,
        path: str,
        position: int = Query(..., ge=0),
        max_bytes: int = Query(MAX_READ_BYTES, ge=1, le=MAX_READ_BYTES),
    ) -> PassMessages:
        claims = claims_for(request, type_name, entity_id)
        record = await readable(claims, Address(type_name, entity_id), path)
        result = await storage.read_from(record, position, max_bytes)
        return PassMessages(
            messages=[base64.b64encode(message).decode() for message in result.messages],
            next_position=result.next_position,
            up_to_date=result.up_to_date,
        )

    @router.post(
        f"{P}/commit",
        summary="A pass commits a batch",
        description=(
            "One transaction, all or nothing: the pass's events through its claim's"
            " producer, what its handler asked for, and (at the end of the pass) the ack"
            " of its wake. 409 FENCED / 403 STALE_EPOCH when the claim was taken over."
        ),
        response_model=PassCommitted,
    )
    async def commit(request: Request, type_name: str, entity_id: str) -> Response:
        claims = claims_for(request, type_name, entity_id)
        raw = await read_body(request, max_body_bytes)
        body = json_limits.loads(raw, max_json_depth, integers=True)
        operations = batch_wire.decode(body)
        checked = PassPolicy(registry, claims).check(operations)
        results = await storage.commit(checked)
        # The heartbeat the policy may add at the end is not the caller's operation.
        answer = {"results": batch_wire.encode_results(results[: len(operations)])}
        return Response(orjson.dumps(answer), media_type="application/json")

    return router
