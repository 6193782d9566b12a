"""Context compaction over long threads: hundreds of turns against a scripted model with a
small window. Every request stays inside the window, older turns are summarised into
``context_inserted`` rows that history uses instead of them (a summary rolls the earlier
one forward, so nothing said early is lost), notices are recorded, and each step records
what its request measured. Runs on SQLite, and on PostgreSQL with
``WAKEFUL_TEST_HTTP_BACKENDS=sqlite,postgres``."""

from __future__ import annotations

import re

from support.waiting import eventually

from wakeful.agent.history import SUMMARY_HEADING
from wakeful.agent.models.base import ModelRequest, Usage
from wakeful.agent.models.test import Response, TestModel
from wakeful.agent.rows import ContextRow, StepRow
from wakeful.agent.summaries import SUMMARISER_SYSTEM
from wakeful.agent.tokens import ESTIMATE, count_request
from wakeful.entities.definition import Registry

from .support import agent_type

WINDOW = 1_500
TURNS = 200
FACT = re.compile(r"fact-\d+")


def scripted(request: ModelRequest) -> Response:
    """A summary keeps every fact the transcript names; an answer repeats the last one.
    Each reports the request's size as the default estimate measures it."""
    usage = Usage(count_request(ESTIMATE, request), 12)
    if request.system == SUMMARISER_SYSTEM:
        facts = sorted(set(FACT.findall(request.messages[0].content)), key=lambda f: int(f[5:]))
        return Response(text="Facts so far: " + " ".join(facts), usage=usage)
    last = request.messages[-1].content
    text = f"Noted {' '.join(FACT.findall(last))}, and the weather is mild today."
    return Response(text=text, usage=usage)


async def test_hundreds_of_turns_stay_inside_a_small_window(agent_app) -> None:
    model = TestModel(_forever(scripted), context_window=WINDOW)
    registry = Registry()
    runs = agent_type(registry, "bot", model)
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Remember fact-1, please, it matters later.")
    for turn in range(2, TURNS + 1):
        await eventually(_count(runs, turn - 1), within=30, what=f"run {turn - 1}")
        await app.send(url, f"Remember fact-{turn}, please, it matters later.")
    await eventually(_count(runs, TURNS), within=30, what="the last run")
    assert all(result.status == "completed" for result in runs.results)

    answers = [r for r in model.requests if r.system != SUMMARISER_SYSTEM]
    summaries_asked = [r for r in model.requests if r.system == SUMMARISER_SYSTEM]
    assert len(answers) == TURNS
    # No request passed the window; compaction kept them under the floor.
    sizes = [count_request(ESTIMATE, request) for request in answers]
    assert max(sizes) < WINDOW * 0.9
    assert len(summaries_asked) >= 5

    rows = await app.rows(url)
    inserted = rows.inserted()
    summaries = [row for row in inserted if row.kind == "summary"]
    notices = [row for row in inserted if row.kind == "notice"]
    assert len(summaries) == len(summaries_asked)
    assert [row.generation for row in summaries] == list(range(len(summaries)))
    assert {row.percent for row in notices} == {25, 50, 75}
    # The latest summary rolled every earlier one forward: the first fact survives.
    latest: ContextRow = summaries[-1]
    assert "fact-1 " in latest.text and latest.through_key is not None
    assert not latest.through_key.startswith("summary:")
    # The last request starts with that summary and ends with the newest message.
    last = answers[-1]
    assert last.messages[0].content.startswith(SUMMARY_HEADING)
    assert latest.text in last.messages[0].content
    assert last.messages[-1].content == f"Remember fact-{TURNS}, please, it matters later."
    # Turns after the summary's watermark were sent word for word, none before it.
    kept = [m.content for m in last.messages[1:] if m.role == "user"]
    numbers = [int(FACT.findall(text)[0][5:]) for text in kept]
    assert numbers == list(range(numbers[0], TURNS + 1))
    assert numbers[0] > 1
    # Each step recorded what its request measured and the window.
    steps = [StepRow.read(value) for value in (await app.store(url)).collection("step")]
    assert all(s is not None and s.context_window == WINDOW for s in steps)
    assert all(s is not None and s.context_tokens and s.context_estimate for s in steps)


async def test_the_providers_count_of_the_last_step_moves_the_estimate(agent_app) -> None:
    """A provider reporting far more input tokens than the estimate (a big hidden system
    prompt, say) makes the next request count as that much fuller: a notice comes early."""
    model = TestModel(
        [Response(text="One.", usage=Usage(600, 2)), Response(text="Two.")],
        context_window=1_000,
    )
    registry = Registry()
    runs = agent_type(registry, "bot", model)
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Hello.")
    await eventually(_count(runs, 1), what="the first run")
    await app.send(url, "Again.")
    await eventually(_count(runs, 2), what="the second run")
    rows = await app.rows(url)
    notices = [row for row in rows.inserted() if row.kind == "notice"]
    assert [row.percent for row in notices] == [50]
    first, second = (rows.step(f"{run.id}:0") for run in rows.runs())
    assert first is not None and second is not None
    assert first.context_tokens == first.context_estimate  # nothing reported yet
    assert second.context_tokens is not None and second.context_estimate is not None
    assert second.context_tokens >= 600 > second.context_estimate
    # The model was told, in the request that crossed the threshold.
    assert "<token_budget>" in model.requests[1].messages[-1].content


async def test_a_request_that_cannot_fit_ends_the_run(agent_app) -> None:
    model = TestModel([Response(text="never sent")], context_window=50)
    registry = Registry()
    runs = agent_type(registry, "bot", model)
    app = await agent_app(registry)
    await app.spawn("bot", "b1", message="word " * 200)
    await eventually(_count(runs, 1), what="the run")
    result = runs.last
    assert (result.status, result.finish_reason) == ("aborted", "context_window")
    assert result.error is not None and "context window holds 50" in result.error
    assert model.requests == []


def _forever(script):  # type: ignore[no-untyped-def]
    while True:
        yield script


def _count(runs, wanted: int):  # type: ignore[no-untyped-def]
    async def probe() -> bool:
        return len(runs.results) >= wanted

    return probe
