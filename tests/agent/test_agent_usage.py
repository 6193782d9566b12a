"""Usage and budgets through the whole server, on SQLite and PostgreSQL: each model call's
tokens and cost on its step row and in the usage index (the same numbers, landed in one
commit), summed per run, entity and principal by ``GET /v1/usage``; budgets per run, per
entity and per principal per day that end a run ``aborted`` with the limit on its row."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.backends import database_url
from support.waiting import eventually

from wakeful.agent.budgets import Budget
from wakeful.agent.models import ModelRequest, Response, TestModel, Usage
from wakeful.agent.pricing import Price
from wakeful.agent.tools import tool
from wakeful.entities.definition import Registry

from .conftest import AppFactory
from .support import AgentApp, agent_type

PRICES = {"test": Price(input=1.0, output=10.0)}  # USD per million tokens
STEP = Usage(input_tokens=100, output_tokens=10)  # 110 tokens, 0.0002 USD a call


@pytest.fixture
def fresh_database(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[[], str]:
    """These tests run on both backends (the module's app fixture uses this one)."""
    schemas = request.getfixturevalue("new_schema") if backend == "postgres" else None
    return lambda: database_url(backend, tmp_path, schemas)


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def tool_then_answer() -> TestModel:
    return TestModel(
        [
            Response(tool_calls=[("add", {"a": 2, "b": 3})], usage=STEP),
            Response(text="It is 5.", usage=Usage(input_tokens=120, output_tokens=5)),
        ]
    )


def forever(request: ModelRequest) -> Response:
    """Calls the tool again, whatever it is told: only a limit ends the run."""
    return Response(tool_calls=[("add", {"a": 1, "b": len(request.messages)})], usage=STEP)


def answers() -> TestModel:
    return TestModel([Response(text="Done.", usage=STEP)])


async def usage(app: AgentApp, token: str | None = None, **params: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return await app.client.get("/v1/usage", params=params, headers=headers)


async def test_each_call_is_priced_on_its_step_and_summed_by_the_index(
    agent_app: AppFactory,
) -> None:
    registry = Registry()
    agent_type(registry, "bot", tool_then_answer, tools=[add], prices=PRICES)
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", "Add 2 and 3.")
    run = await app.wait_run(url)
    assert run["status"] == "completed"

    rows = await app.rows(url)
    steps = rows.steps(run["id"])
    assert [(s.input_tokens, s.output_tokens) for s in steps] == [(100, 10), (120, 5)]
    assert steps[0].cost == pytest.approx(100e-6 + 100e-6)
    assert steps[1].cost == pytest.approx(120e-6 + 50e-6)
    assert run["cost"] == pytest.approx(sum(s.cost or 0 for s in steps))
    assert run["principal"] == "admin"  # no principals configured: every caller is admin

    # The index holds what the stream says, call for call.
    (total,) = (await usage(app, run=run["id"])).json()["totals"]
    assert total["calls"] == 2 and total["tokens"] == 235 and total["unpriced"] == 0
    assert total["cost"] == pytest.approx(run["cost"])
    grouped = (await usage(app, group_by=["entity", "principal", "model"])).json()
    assert grouped["group_by"] == ["entity", "principal", "model"]
    (row,) = grouped["totals"]
    assert row["group"] == {"entity": url, "principal": "admin", "model": "test"}


async def test_an_unknown_model_counts_tokens_without_a_cost(agent_app: AppFactory) -> None:
    registry = Registry()
    agent_type(registry, "bot", answers)  # "test" is in no price table
    app = await agent_app(registry)
    run = await app.wait_run(await app.spawn("bot", "b1", "Hi."))
    assert run["cost"] is None
    (total,) = (await usage(app)).json()["totals"]
    assert (total["tokens"], total["cost"], total["unpriced"]) == (110, 0.0, 1)


async def test_a_run_budget_aborts_before_the_call_that_would_pass_it(
    agent_app: AppFactory,
) -> None:
    registry = Registry()
    budget = Budget(run_tokens=300)
    agent_type(registry, "bot", lambda: TestModel([forever] * 10), tools=[add], budget=budget)
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", "Keep adding.")
    run = await app.wait_run(url)
    # 110, 220, 330 tokens: the check before a fourth call stops it.
    assert (run["status"], run["finish_reason"], run["steps"]) == ("aborted", "budget", 3)
    assert run["budget"] == {"scope": "run", "unit": "tokens", "limit": 300, "used": 330}
    assert "run budget spent" in run["error"]
    (total,) = (await usage(app, run=run["id"])).json()["totals"]
    assert total["tokens"] == 330


async def test_an_entity_daily_budget_of_the_server_is_overridden_by_the_type(
    agent_app: AppFactory,
) -> None:
    registry = Registry()
    agent_type(registry, "bot", answers)
    agent_type(registry, "rich", answers, budget=Budget(entity_daily_tokens=1000))
    app = await agent_app(registry, entity_daily_token_budget=200)
    bot = await app.spawn("bot", "b1", "One.")
    assert (await app.wait_run(bot))["status"] == "completed"  # 110 of 200
    await app.send(bot, "Two.")
    assert (await app.wait_run(bot, count=2))["status"] == "completed"  # 220
    await app.send(bot, "Three.")
    third = await app.wait_run(bot, count=3)
    assert (third["status"], third["finish_reason"]) == ("aborted", "budget")
    assert third["budget"]["scope"] == "entity" and third["budget"]["used"] == 220
    assert third["budget"]["day"]
    rich = await app.spawn("rich", "r1", "One.")
    await app.wait_run(rich)
    for n in range(2, 4):
        await app.send(rich, f"Message {n}.")
        assert (await app.wait_run(rich, count=n))["status"] == "completed"


TOKENS = {
    "alice": "alice-token-0123456789",
    "bob": "bob-token-0123456789",
    "ops": "ops-token-0123456789",
}


def principals_file(directory: Path) -> Path:
    path = directory / "principals.toml"
    lines = []
    for name, token in TOKENS.items():
        lines += [f"[principals.{name}]", f'token = "{token}"']
        if name == "ops":
            lines.append("admin = true")
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_a_principal_daily_budget_and_who_sees_which_usage(
    agent_app: AppFactory, tmp_path: Path
) -> None:
    registry = Registry()
    agent_type(registry, "bot", answers)
    app = await agent_app(
        registry, principals=principals_file(tmp_path), principal_daily_token_budget=200
    )

    async def ask(who: str, entity_id: str) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {TOKENS[who]}"}
        response = await app.client.post(
            "/v1/entities/bot", json={"id": entity_id, "message": "Hi."}, headers=headers
        )
        assert response.status_code == 201, response.text
        # Read as the admin: the stream is the owner's to read.
        found: dict[str, Any] = {}

        async def done() -> bool:
            events = await app.client.get(
                f"/v1/stream/bot/{entity_id}/main",
                params={"offset": "-1"},
                headers={"authorization": f"Bearer {TOKENS['ops']}"},
            )
            runs = [e["value"] for e in events.json() if e["type"] == "run"]
            if runs and runs[-1]["status"] in ("completed", "aborted"):
                found.update(runs[-1])
                return True
            return False

        await eventually(done, within=10, what=f"the run of /bot/{entity_id}")
        return found

    assert (await ask("alice", "a1"))["status"] == "completed"  # alice: 110 of 200
    assert (await ask("alice", "a2"))["status"] == "completed"  # 220
    third = await ask("alice", "a3")
    assert (third["status"], third["principal"]) == ("aborted", "alice")
    assert third["budget"]["scope"] == "principal" and third["budget"]["used"] == 220
    assert (await ask("bob", "b1"))["status"] == "completed"  # bob's day is his own

    own = (await usage(app, TOKENS["alice"], group_by="principal")).json()["totals"]
    assert [(t["group"]["principal"], t["tokens"]) for t in own] == [("alice", 220)]
    refused = await usage(app, TOKENS["alice"], principal="bob")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "NOT_ALLOWED"
    everyone = (await usage(app, TOKENS["ops"], group_by="principal")).json()["totals"]
    assert {t["group"]["principal"]: t["tokens"] for t in everyone} == {"alice": 220, "bob": 110}


async def test_bad_usage_queries_are_400(agent_app: AppFactory) -> None:
    app = await agent_app(Registry())
    for params in (
        {"group_by": "colour"},
        {"since": "yesterday"},
        {"since": "2026-12-08T00:00:00Z", "until": "2026-12-07T00:00:00Z"},
    ):
        response = await usage(app, **params)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["error"]["code"] == "INVALID_REQUEST"
    empty = (await usage(app, since="2026-12-07T00:00:00", until="2026-12-08T00:00:00")).json()
    assert empty["totals"] == [
        {
            "group": {},
            "calls": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "tokens": 0,
            "cost": 0.0,
            "unpriced": 0,
        }
    ]
