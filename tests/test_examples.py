"""The examples under ``examples/`` run offline with the demo model: the chat assistant
calls its weather tool, the approval tool waits for a person, the manager combines its
workers' answers; and ``make run``'s registry loads and serves all of them."""

from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from support.servers import free_port
from support.waiting import eventually

from wakeful import Settings, create_app
from wakeful.agent.models.demo import LABEL
from wakeful.entities.definition import Registry

ROOT = Path(__file__).resolve().parents[1]
WAIT = 15.0
T = TypeVar("T")
KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")


def example(name: str) -> Any:
    """``examples.<name>``, imported from the repository's root as ``make run`` does."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"examples.{name}")


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No provider keys: the examples fall back to the offline demo model."""
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)


AppFactory = Callable[[Registry], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def app_for(fresh_database: Callable[[], str]) -> AsyncIterator[AppFactory]:
    async with contextlib.AsyncExitStack() as stack:

        async def start(registry: Registry) -> httpx.AsyncClient:
            app = create_app(Settings(database=fresh_database()), registry)
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url="http://wakeful.test")
            return await stack.enter_async_context(client)

        yield start


async def rows(client: httpx.AsyncClient, stream: str, kind: str) -> dict[str, dict[str, Any]]:
    """The rows of one collection of an entity's stream, as its events leave them."""
    response = await client.get(f"/v1/stream/{stream}", params={"offset": "-1"})
    assert response.status_code == 200, response.text
    found: dict[str, dict[str, Any]] = {}
    for event in response.json():
        if event.get("type") == kind:
            found[event["key"]] = event["value"]
    return found


async def runs_done(client: httpx.AsyncClient, stream: str) -> list[dict[str, Any]] | None:
    runs = list((await rows(client, stream, "run")).values())
    if runs and all(run["status"] in ("completed", "failed", "aborted") for run in runs):
        return runs
    return None


# -- chat ---------------------------------------------------------------------------------


async def test_chat_answers_a_weather_question_with_its_tool(app_for: AppFactory) -> None:
    client = await app_for(example("chat").registry)
    response = await client.post("/v1/threads", json={"prompt": "What is the weather in Paris?"})
    assert response.status_code == 201, response.text
    thread_id = response.json()["id"]

    async def completed() -> bool:
        found = await client.get(f"/v1/threads/{thread_id}")
        return bool(found.json()["status"] == "completed")

    await eventually(completed, what="the chat thread to complete")
    messages = (await client.get(f"/v1/threads/{thread_id}/messages")).json()
    calls = [call for message in messages for call in message.get("tool_calls", ())]
    (weather,) = calls
    assert weather["name"] == "get_weather"
    assert weather["args"] == {"city": "Paris"}
    assert (weather["status"], weather["result"]) == ("completed", "sunny, 21 °C")
    final = messages[-1]
    assert final["role"] == "assistant" and final["status"] == "complete"
    assert "sunny, 21 °C" in final["content"]
    assert LABEL in final["content"]  # the demo model says what it is


# -- approval -----------------------------------------------------------------------------


async def _waiting_for_approval(client: httpx.AsyncClient, entity_id: str) -> dict[str, Any]:
    stream = f"ops/{entity_id}/main"

    async def waiting() -> dict[str, Any] | None:
        for call in (await rows(client, stream, "tool_call")).values():
            if call["status"] == "awaiting_approval":
                return call
        return None

    call = await eventually(waiting, what="a call awaiting approval")
    runs = list((await rows(client, stream, "run")).values())
    assert [run["status"] for run in runs] == ["awaiting_tool_results"]
    return call


async def _spawn_ops(client: httpx.AsyncClient, entity_id: str) -> None:
    response = await client.post(
        "/v1/entities/ops",
        json={"id": entity_id, "message": "Please delete the file 'notes.txt'"},
    )
    assert response.status_code == 201, response.text


async def test_approval_approved_runs_the_tool(app_for: AppFactory) -> None:
    client = await app_for(example("approval").registry)
    await _spawn_ops(client, "yes")
    call = await _waiting_for_approval(client, "yes")
    assert (call["name"], call["args"]) == ("delete_file", {"path": "notes.txt"})
    # Waiting does not run it.
    entity = (await client.get("/v1/entities/ops/yes")).json()
    assert "deleted" not in entity["tags"]
    approved = await client.post(f"/v1/entities/ops/yes/tool-calls/{call['id']}/approve", json={})
    assert approved.status_code == 202, approved.text
    (run,) = await eventually(lambda: runs_done(client, "ops/yes/main"), what="the run to end")
    assert run["status"] == "completed"
    done = (await rows(client, "ops/yes/main", "tool_call"))[call["id"]]
    assert done["status"] == "completed"
    assert done["result"].startswith("deleted notes.txt")
    assert "deleted notes.txt" in run["text"]
    entity = (await client.get("/v1/entities/ops/yes")).json()
    assert entity["tags"]["deleted"] == "notes.txt"


async def test_approval_denied_does_not_run_the_tool(app_for: AppFactory) -> None:
    client = await app_for(example("approval").registry)
    await _spawn_ops(client, "no")
    call = await _waiting_for_approval(client, "no")
    denied = await client.post(
        f"/v1/entities/ops/no/tool-calls/{call['id']}/deny", json={"reason": "keep it"}
    )
    assert denied.status_code == 202, denied.text
    (run,) = await eventually(lambda: runs_done(client, "ops/no/main"), what="the run to end")
    assert run["status"] == "completed"
    done = (await rows(client, "ops/no/main", "tool_call"))[call["id"]]
    assert done["status"] == "denied"
    assert done["error"] == "keep it"
    entity = (await client.get("/v1/entities/ops/no")).json()
    assert "deleted" not in entity["tags"]
    # A decision is final.
    again = await client.post(f"/v1/entities/ops/no/tool-calls/{call['id']}/approve", json={})
    assert again.status_code == 409


# -- manager ------------------------------------------------------------------------------


async def test_manager_combines_its_workers_answers(app_for: AppFactory) -> None:
    client = await app_for(example("manager").registry)
    response = await client.post(
        "/v1/entities/manager",
        json={"id": "boss", "message": "Compare Paris, London and Tokyo"},
    )
    assert response.status_code == 201, response.text

    async def summary() -> dict[str, Any] | None:
        jobs = await rows(client, "manager/boss/main", "state:jobs")
        return next((job for job in jobs.values() if job.get("summary")), None)

    job = await eventually(summary, what="the job's summary")
    assert job["question"] == "Compare Paris, London and Tokyo"
    assert len(job["workers"]) == 3
    listed = (await client.get("/v1/entities", params={"parent": "/manager/boss"})).json()
    children = {entity["url"]: entity for entity in listed["entities"]}
    assert set(children) == set(job["workers"])
    topics = []
    for url in job["workers"]:
        worker = children[url]
        assert worker["type"] == "worker"
        created = await rows(client, worker["stream"], "entity_created")
        topics.append(created["entity"]["args"]["topic"])
        (run,) = await eventually(
            lambda stream=worker["stream"]: runs_done(client, stream), what=f"{url}'s run"
        )
        assert run["status"] == "completed"
        assert job["answers"][url] == run["text"]
    assert topics == ["Paris", "London", "Tokyo"]
    lines = job["summary"].split("\n")
    assert lines == [f"- {job['answers'][url]}" for url in job["workers"]]
    for line, topic in zip(lines, topics, strict=True):
        assert f"Tell me briefly about {topic}." in line
    # The manager heard from each worker once.
    statuses = await rows(client, "manager/boss/main", "child_status")
    assert len(statuses) == 3


# -- agents of other frameworks ------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "kind", "output"),
    [
        ("pydantic_ai_agent", "forecaster", {"city": "Paris", "summary": "sunny, 21 °C"}),
        ("openai_agents_agent", "concierge", "In Paris it is sunny, 21 °C."),
    ],
)
async def test_an_agent_of_another_framework_answers_with_its_tool(
    app_for: AppFactory, module: str, kind: str, output: Any
) -> None:
    client = await app_for(example(module).registry)
    response = await client.post(f"/v1/entities/{kind}", json={"id": "a1", "message": "Paris?"})
    assert response.status_code == 201, response.text
    stream = f"{kind}/a1/main"
    (run,) = await eventually(lambda: runs_done(client, stream), what="the run to end")
    assert run["status"] == "completed", run.get("error")
    assert run["output"] == output
    (call,) = (await rows(client, stream, "tool_call")).values()
    assert (call["name"], call["status"], call["result"]) == (
        "get_weather",
        "completed",
        "sunny, 21 °C",
    )
    assert call["idempotency_key"] == f"/{kind}/a1:{run['id']}:{call['id']}"
    steps = await rows(client, stream, "step")
    assert [step["status"] for step in steps.values()] == ["completed", "completed"]


# -- make run -----------------------------------------------------------------------------


@contextlib.contextmanager
def serving(*arguments: str) -> Iterator[str]:
    """``wakeful serve`` from the repository's root, as ``make run`` starts it."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k not in (*KEYS, "WAKEFUL_TOKEN")}
    with tempfile.TemporaryDirectory() as directory, tempfile.TemporaryFile() as log:
        command = [
            sys.executable,
            "-m",
            "wakeful",
            "serve",
            *arguments,
            "--port",
            str(port),
            "--database",
            str(Path(directory) / "wakeful.db"),
            "--log-level",
            "warning",
        ]
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=environment
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise AssertionError(f"server exited:\n{log.read().decode()}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise AssertionError("server did not start")
                time.sleep(0.05)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def test_make_runs_registry_serves_every_example() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "REGISTRY ?= examples.app:registry" in makefile
    with serving("examples.app:registry") as url:
        types = {item["name"] for item in httpx.get(f"{url}/v1/types").json()}
        assert {"thread", "ops", "manager", "worker", "forecaster"} <= types
        # And the chat example answers over real HTTP, offline.
        created = httpx.post(
            f"{url}/v1/threads", json={"prompt": "What is the weather in Tokyo?"}
        ).json()
        deadline = time.monotonic() + WAIT
        while httpx.get(f"{url}/v1/threads/{created['id']}").json()["status"] != "completed":
            assert time.monotonic() < deadline, "the thread did not complete"
            time.sleep(0.05)
        messages = httpx.get(f"{url}/v1/threads/{created['id']}/messages").json()
        assert "cloudy, 18 °C" in messages[-1]["content"]


# -- executor -----------------------------------------------------------------------------


async def test_executor_runs_the_page_tool_for_the_scout(app_for: AppFactory) -> None:
    import asyncio

    from wakeful import AsyncClient, Executor

    module = example("executor")
    client = await app_for(module.registry)
    response = await client.post(
        "/v1/entities/scout", json={"id": "s1", "message": "What is the page title of example.com?"}
    )
    assert response.status_code == 201, response.text
    transport = httpx.ASGITransport(app=client._transport.app)  # type: ignore[attr-defined]
    async with AsyncClient("http://wakeful.test", transport=transport) as api:
        stop = asyncio.Event()
        running = asyncio.create_task(Executor(module.tools, api, poll_seconds=0.05).run(stop))

        async def answered() -> dict[str, Any] | None:
            runs = list((await rows(client, "scout/s1/main", "run")).values())
            return runs[-1] if runs and runs[-1]["status"] == "completed" else None

        run = await eventually(answered, what="the scout's answer")
        stop.set()
        await running
    calls = list((await rows(client, "scout/s1/main", "tool_call")).values())
    assert [(call["name"], call["status"]) for call in calls] == [("page_title", "completed")]
    assert "Welcome to" in calls[0]["result"]
    assert "Welcome to" in run["text"]
