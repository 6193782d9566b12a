"""``GET /v1/usage``: tokens and cost added up from the usage index (docs/usage.md).

An admin sees everyone's usage; any other principal sees only the runs charged to it (a
filter on another principal is refused with 403), so one query serves a team's dashboard
and a user's own "what did I spend today".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from ..errors import BadRequest, ErrorCode, Forbidden
from ..streams.storage import Storage
from ..streams.usage import GROUP_BY, GroupBy, UsageQuery, UsageTotal
from .access import principal_of

EMPTY: list[str] = []  # never changed: the default of a query list


class Total(BaseModel):
    group: dict[str, str | None] = Field(
        ..., description="The value of each grouping asked for (empty without group_by)."
    )
    calls: int = Field(..., description="Model calls added up.")
    input_tokens: int
    output_tokens: int
    tokens: int = Field(..., description="Input plus output tokens.")
    cost: float = Field(..., description="US dollars of the calls whose price was known.")
    unpriced: int = Field(..., description="Calls of models the price table does not know.")

    @classmethod
    def of(cls, total: UsageTotal) -> Total:
        return cls(**asdict(total), tokens=total.tokens)


class Usage(BaseModel):
    group_by: list[GroupBy]
    totals: list[Total]


def _seconds(moment: datetime | None) -> float | None:
    """Seconds since the epoch; a time without a zone is UTC (as the index's days are)."""
    if moment is None:
        return None
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


def usage_router(storage: Storage, guard: Callable[[Request], Awaitable[None]]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["usage"], dependencies=[Depends(guard)])

    @router.get("/usage", summary="Tokens and cost of model calls, filtered and grouped")
    async def usage(
        request: Request,
        entity: str | None = Query(None, max_length=400, description="An entity URL, /type/id."),
        type: str | None = Query(None, max_length=200, description="Only entities of this type."),
        principal: str | None = Query(
            None, max_length=200, description="Only runs charged to this principal."
        ),
        run: str | None = Query(None, max_length=200, description="Only this run (its id)."),
        since: Annotated[
            datetime | None, Query(description="From this time (ISO 8601), inclusive.")
        ] = None,
        until: Annotated[datetime | None, Query(description="Before this time (ISO 8601).")] = None,
        group_by: Annotated[
            list[str], Query(description=f"Group by any of {', '.join(GROUP_BY)} (repeatable).")
        ] = EMPTY,
    ) -> Usage:
        caller = principal_of(request)
        if not caller.admin:
            if principal is not None and principal != caller.name:
                raise Forbidden(
                    f"{caller.name!r} may only see its own usage", code=ErrorCode.NOT_ALLOWED
                )
            principal = caller.name
        unknown = [name for name in group_by if name not in GROUP_BY]
        if unknown:
            raise BadRequest(
                f"cannot group by {unknown[0]!r}; use any of {', '.join(GROUP_BY)}",
                code=ErrorCode.INVALID_REQUEST,
            )
        if since is not None and until is not None and until <= since:
            raise BadRequest("until must be after since", code=ErrorCode.INVALID_REQUEST)
        groups = cast(tuple[GroupBy, ...], tuple(dict.fromkeys(group_by)))
        query = UsageQuery(
            entity=entity,
            entity_type=type,
            principal=principal,
            run_id=run,
            since=_seconds(since),
            until=_seconds(until),
            group_by=groups,
        )
        totals = await storage.usage_totals(query)
        return Usage(group_by=list(groups), totals=[Total.of(total) for total in totals])

    return router
