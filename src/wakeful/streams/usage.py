"""The usage index: one row per model call, kept in the same transaction as the append
that records the call on its entity's stream.

The stream is the truth: a completed ``step`` row on the entity's stream carries the
call's tokens and cost, and its run row the principal it is charged to. The index holds
the same numbers in a table so that sums over many streams (a principal's spending today,
every run of a type this week) are one indexed query instead of a read of every stream.
It is written only by :class:`~wakeful.streams.batch.RecordUsage` operations committed
with the step's completion, and keyed by the step, so recording one twice (a duplicate
append, an index rebuilt from the streams) changes nothing.

This layer knows nothing of agents: an entry is plain numbers under names.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

#: What totals may be grouped by.
GroupBy = Literal["entity", "type", "principal", "run", "model", "day"]
GROUP_BY: Final[tuple[GroupBy, ...]] = get_args(GroupBy)


def utc_day(at: float) -> str:
    """The UTC calendar day of ``at`` (seconds since the epoch), as ``YYYY-MM-DD``: the
    unit of daily budgets, stored with each entry so both backends group alike."""
    return time.strftime("%Y-%m-%d", time.gmtime(at))


@dataclass(frozen=True, slots=True)
class UsageEntry:
    """One model call's usage. ``key`` names the call once across the server (the
    entity's stream and the step id); ``cost`` is None when no price was known."""

    key: str
    entity: str
    entity_type: str
    run_id: str
    principal: str | None
    model: str | None
    input_tokens: int
    output_tokens: int
    cost: float | None
    at: float

    @property
    def day(self) -> str:
        return utc_day(self.at)


@dataclass(frozen=True, slots=True)
class UsageQuery:
    """Which entries to add up, and how to group them (no grouping: one total).
    ``since`` is inclusive and ``until`` exclusive, in seconds since the epoch."""

    entity: str | None = None
    entity_type: str | None = None
    principal: str | None = None
    run_id: str | None = None
    day: str | None = None
    since: float | None = None
    until: float | None = None
    group_by: tuple[GroupBy, ...] = ()


@dataclass(frozen=True, slots=True)
class UsageTotal:
    """Entries added up: ``group`` has one value per grouping of the query. ``cost`` sums
    the priced calls; ``unpriced`` counts the calls whose cost was unknown."""

    group: dict[str, str | None]
    calls: int
    input_tokens: int
    output_tokens: int
    cost: float
    unpriced: int

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


# Column of each grouping, the same in both backends.
_GROUP_COLUMNS: Final[dict[GroupBy, str]] = {
    "entity": "entity",
    "type": "entity_type",
    "principal": "principal",
    "run": "run_id",
    "model": "model",
    "day": "day",
}
_FILTER_COLUMNS: Final = (
    ("entity", "entity"),
    ("entity_type", "entity_type"),
    ("principal", "principal"),
    ("run_id", "run_id"),
    ("day", "day"),
)


def totals_sql(
    query: UsageQuery, table: str, placeholder: str
) -> tuple[str, list[object], tuple[GroupBy, ...]]:
    """The statement that answers ``query`` over ``table``, its parameters, and the
    groupings its leading columns hold. ``placeholder`` is ``?`` (SQLite) or ``$`` (a
    PostgreSQL ``$n``, numbered here), so both backends run one statement."""
    parameters: list[object] = []

    def bind(value: object) -> str:
        parameters.append(value)
        return "?" if placeholder == "?" else f"${len(parameters)}"

    clauses: list[str] = []
    for field_name, column in _FILTER_COLUMNS:
        value = getattr(query, field_name)
        if value is not None:
            clauses.append(f"{column} = {bind(value)}")
    if query.since is not None:
        clauses.append(f"at >= {bind(query.since)}")
    if query.until is not None:
        clauses.append(f"at < {bind(query.until)}")
    groups = tuple(dict.fromkeys(query.group_by))
    columns = [_GROUP_COLUMNS[group] for group in groups]
    select = [
        *columns,
        "count(*)",
        "coalesce(sum(input_tokens), 0)",
        "coalesce(sum(output_tokens), 0)",
        "coalesce(sum(cost), 0)",
        "count(*) - count(cost)",
    ]
    sql = f"SELECT {', '.join(select)} FROM {table}"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    if columns:
        listed = ", ".join(columns)
        sql += f" GROUP BY {listed} ORDER BY {listed}"
    return sql, parameters, groups


def total_of(row: Sequence[Any], groups: tuple[GroupBy, ...]) -> UsageTotal:
    """One row of :func:`totals_sql`'s answer as a total."""
    values = list(row)
    keys = values[: len(groups)]
    calls, input_tokens, output_tokens, cost, unpriced = values[len(groups) :]
    named = zip(groups, keys, strict=True)
    return UsageTotal(
        group={group: None if key is None else str(key) for group, key in named},
        calls=int(calls),
        input_tokens=int(input_tokens),
        output_tokens=int(output_tokens),
        cost=float(cost),
        unpriced=int(unpriced),
    )


def entry_values(entry: UsageEntry) -> tuple[object, ...]:
    """The entry's columns in the order :data:`INSERT_COLUMNS` names them."""
    return (
        entry.key,
        entry.entity,
        entry.entity_type,
        entry.run_id,
        entry.principal,
        entry.model,
        entry.input_tokens,
        entry.output_tokens,
        entry.cost,
        entry.at,
        entry.day,
    )


INSERT_COLUMNS: Final = (
    "key, entity, entity_type, run_id, principal, model, input_tokens, output_tokens, cost, at, day"
)
