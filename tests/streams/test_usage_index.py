"""The usage index on every backend: written only with the append it belongs to, once per
model call, and added up the same way by both."""

from __future__ import annotations

import pytest

from wakeful.errors import WakefulError
from wakeful.streams import batch
from wakeful.streams.model import AppendRequest, CreateRequest, ProducerClaim
from wakeful.streams.storage import Storage
from wakeful.streams.usage import UsageEntry, UsageQuery, utc_day

JSON = "application/json"
DAY = 86_400.0
MONDAY = 1_796_342_400.0  # 2026-12-07 00:00 UTC


def entry(
    key: str,
    *,
    entity: str = "/chat/a",
    principal: str | None = "alice",
    run_id: str = "r1",
    tokens: tuple[int, int] = (10, 5),
    cost: float | None = 0.5,
    at: float = MONDAY + 60,
    model: str = "openai:gpt-4o-mini",
) -> UsageEntry:
    return UsageEntry(
        key=key,
        entity=entity,
        entity_type=entity.split("/")[1],
        run_id=run_id,
        principal=principal,
        model=model,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cost=cost,
        at=at,
    )


def step_append(path: str, seq: int, epoch: int = 0) -> batch.Append:
    producer = ProducerClaim("runtime", epoch, seq)
    return batch.Append(AppendRequest(path, JSON, [b'{"step": %d}' % seq], producer=producer))


async def test_entries_land_with_their_append_and_once(storage: Storage) -> None:
    await storage.create(CreateRequest("chat/a/main", JSON, None, None, False, b""))
    first = entry("chat/a/main#r1:0")
    await storage.commit([step_append("chat/a/main", 0), batch.RecordUsage(first)])
    # The same flush again (a retried commit): the append is a duplicate, the entry too.
    await storage.commit([step_append("chat/a/main", 0), batch.RecordUsage(first)])
    (total,) = await storage.usage_totals(UsageQuery())
    assert (total.calls, total.input_tokens, total.output_tokens) == (1, 10, 5)
    assert total.cost == pytest.approx(0.5) and total.unpriced == 0

    # A fenced append (a stale epoch) fails the commit: its usage is not recorded either.
    await storage.commit([step_append("chat/a/main", 0, epoch=1)])
    with pytest.raises(WakefulError):
        await storage.commit(
            [step_append("chat/a/main", 1, epoch=0), batch.RecordUsage(entry("chat/a/main#r1:1"))]
        )
    (total,) = await storage.usage_totals(UsageQuery())
    assert total.calls == 1


async def test_totals_filter_and_group(storage: Storage) -> None:
    entries = [
        entry("a#0", tokens=(100, 10), cost=1.0),
        entry("a#1", tokens=(200, 20), cost=None, run_id="r2"),
        entry("b#0", entity="/chat/b", principal="bob", tokens=(1, 1), cost=0.25),
        entry("c#0", entity="/helper/c", principal=None, at=MONDAY + DAY + 5, cost=2.0),
    ]
    await storage.commit([batch.RecordUsage(item) for item in entries])

    by_principal = await storage.usage_totals(UsageQuery(group_by=("principal",)))
    # NULL sorts first in SQLite and last in PostgreSQL: compare as a mapping.
    found = {total.group["principal"]: total for total in by_principal}
    assert set(found) == {"alice", "bob", None}
    assert found["alice"].tokens == 330 and found["alice"].calls == 2
    assert found["alice"].cost == pytest.approx(1.0) and found["alice"].unpriced == 1

    monday = await storage.usage_totals(UsageQuery(day=utc_day(MONDAY), group_by=("entity",)))
    assert [(t.group["entity"], t.calls) for t in monday] == [("/chat/a", 2), ("/chat/b", 1)]

    (run,) = await storage.usage_totals(UsageQuery(run_id="r2"))
    assert run.input_tokens == 200

    window = UsageQuery(since=MONDAY + DAY, until=MONDAY + 2 * DAY, group_by=("type", "day"))
    (late,) = await storage.usage_totals(window)
    assert late.group == {"type": "helper", "day": utc_day(MONDAY + DAY)}

    (nothing,) = await storage.usage_totals(UsageQuery(principal="carol"))
    assert (nothing.calls, nothing.tokens, nothing.cost) == (0, 0, 0.0)
