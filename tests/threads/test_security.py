"""Security: the bearer token, an access policy (on every way to reach a thread), live
connections per client, body sizes, and ``wakeful serve`` refusing to expose a server
without a token."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import HTTPConnection
from support.cli_support import TERMINAL
from support.servers import free_port
from support.waiting import eventually

from wakeful.agent.models import TestModel
from wakeful.agent.models.test import answer, call
from wakeful.agent.tools import tool
from wakeful.client import AsyncClient
from wakeful.client.errors import Unauthorized
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake
from wakeful.server.policy import EntityTarget, Target
from wakeful.server.principals import Auth, Principal
from wakeful.threads import ThreadConfig, define_thread

from .conftest import ServeFactory
from .support import Served, error_of, messages, raw_status

TOKEN = "s3cret-token"


@tool(kind="async")
def lookup(query: str) -> str:
    """Answered later, from outside."""
    raise AssertionError("never called")


def registry_for(model: TestModel | None = None) -> Registry:
    registry = Registry()
    define_thread(registry, config=ThreadConfig(model=model or TestModel(), tools=[lookup]))

    @registry.entity("note")
    async def note(ctx: Context, wake: Wake) -> None:
        return None

    return registry


# -- the bearer token ---------------------------------------------------------------------

PROTECTED = [
    ("GET", "/v1/threads"),
    ("POST", "/v1/threads"),
    ("GET", "/v1/types"),
    ("GET", "/v1/entities"),
    ("POST", "/v1/entities/note"),
    ("PUT", "/v1/stream/open"),
    ("GET", "/v1/stream/open"),
    ("POST", "/v1/stream/open"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
]


async def test_requests_without_the_token_are_refused(serve: ServeFactory) -> None:
    served = await serve(registry_for(), token=TOKEN)
    wrong = [
        {},
        {"authorization": "Bearer not-the-token"},
        {"authorization": f"Bearer {TOKEN}x"},
        {"authorization": f"Basic {TOKEN}"},
        {"authorization": TOKEN},
    ]
    for method, path in PROTECTED:
        for headers in wrong:
            response = await served.client.request(method, path, headers=headers, json={})
            error_of(response, 401, "UNAUTHORIZED")
            assert response.headers["www-authenticate"].startswith("Bearer")
        response = await served.client.request(
            method, path, params={"access_token": "nope"}, json={}
        )
        error_of(response, 401, "UNAUTHORIZED")
    # Nothing was created by the refused requests.
    head = await served.client.head("/v1/stream/open", headers={"authorization": f"Bearer {TOKEN}"})
    assert head.status_code == 404


async def test_requests_with_the_token_pass(serve: ServeFactory) -> None:
    served = await serve(registry_for(TestModel([answer("Hi.")])), token=TOKEN)
    client = served.client
    bearer = {"authorization": f"Bearer {TOKEN}"}
    lower = {"authorization": f"bearer {TOKEN}"}
    created = await client.put("/v1/stream/open", headers={**bearer, "content-type": "text/plain"})
    assert created.status_code == 201, created.text
    appended = await client.post(
        "/v1/stream/open",
        params={"access_token": TOKEN},
        content=b"hello",
        headers={"content-type": "text/plain"},
    )
    assert appended.status_code == 204, appended.text
    read = await client.get("/v1/stream/open", params={"offset": "-1"}, headers=lower)
    assert (read.status_code, read.text) == (200, "hello")
    thread = await client.post("/v1/threads", json={"prompt": "hi", "id": "t"}, headers=bearer)
    assert thread.status_code == 201, thread.text
    for path in ("/v1/types", "/v1/threads", "/openapi.json", "/v1/threads/t"):
        assert (await client.get(path, headers=bearer)).status_code == 200, path
        assert (await client.get(path, params={"access_token": TOKEN})).status_code == 200

    # A browser's EventSource cannot set headers: live SSE reads take the query token.
    async with client.stream(
        "GET",
        "/v1/stream/open",
        params={"offset": "-1", "live": "sse", "access_token": TOKEN},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")

    # The Python client sends the token it is given.
    async with AsyncClient(served.url, token=TOKEN) as wakeful:

        async def completed() -> bool:
            return (await wakeful.thread("t")).status == "completed"

        await eventually(completed, what="the thread to complete")
        found = await wakeful.messages("t")
        assert [m["content"] for m in found] == ["hi", "Hi."]
    async with AsyncClient(served.url) as anonymous:
        with pytest.raises(Unauthorized):
            await anonymous.thread("t")


async def test_health_console_and_preflight_are_open(serve: ServeFactory) -> None:
    served = await serve(registry_for(), token=TOKEN)
    health = await served.client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    index = await served.client.get("/")
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    asset = await served.client.get("/console/console.css")
    assert asset.status_code == 200
    preflight = await served.client.options(
        "/v1/stream/open",
        headers={"origin": "http://example.test", "access-control-request-method": "GET"},
    )
    assert preflight.status_code == 204
    # The open paths are no way around the token, however a path is spelled.
    spellings = [
        "/console/../v1/threads",
        "/console/%2e%2e/v1/threads",
        "/console/..%2Fv1/threads",
        "/healthz/../v1/threads",
        "//v1/threads",
        "/v1/threads?x=/healthz",
    ]
    for target in spellings:
        assert await raw_status(served.url, target) in (401, 404), target
    assert await raw_status(served.url, "/v1/threads", f"Authorization: Bearer {TOKEN}\r\n") == 200


# -- a policy, on every way to reach a thread ----------------------------------------------


class Policy:
    """Allows the actions a request lists in ``x-allow`` (``*`` for all), whoever owns the
    thread; records every question as (action, entity id)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def allows(self, principal: Principal, action: str, target: Target) -> bool:
        self.calls.append((action, target.id if isinstance(target, EntityTarget) else None))
        allowed = principal.claims.get("allow", "")
        return allowed == "*" or action in allowed.split(",")


class AsyncPolicy(Policy):
    async def allows(  # type: ignore[override]
        self, principal: Principal, action: str, target: Target
    ) -> bool:
        await asyncio.sleep(0)
        return super().allows(principal, action, target)


def header_auth(policy: Policy) -> Auth:
    """Every caller is ``bob``, allowed what the request's ``x-allow`` header says."""

    def authenticate(connection: HTTPConnection) -> Principal:
        return Principal("bob", claims={"allow": connection.headers.get("x-allow", "")})

    return Auth(authenticate, policy)


ALL = {"x-allow": "*"}


async def waiting_thread(served: Served, thread_id: str) -> str:
    """Create a thread whose run waits for an asynchronous tool; the call's id."""
    response = await served.client.post(
        "/v1/threads", json={"id": thread_id, "prompt": "look it up"}, headers=ALL
    )
    assert response.status_code == 201, response.text

    async def waiting() -> str | None:
        response = await served.client.get(f"/v1/threads/{thread_id}/messages", headers=ALL)
        for message in response.json():
            for found in message.get("tool_calls", ()):
                if found["status"] == "awaiting_result":
                    return str(found["id"])
        return None

    return await eventually(waiting, what="a waiting tool call")


def guarded_requests(call_id: str) -> list[tuple[str, str, Any, str, str | None]]:
    """(method, path, JSON body, action, thread id): every way to reach thread ``t1``."""
    thread = "/v1/threads/t1"
    entity = "/v1/entities/thread/t1"
    stream = "/v1/stream/thread/t1/main"
    run_input = {
        "threadId": "t1",
        "runId": "r",
        "messages": [{"id": "m", "role": "user", "content": "hi"}],
    }
    return [
        ("POST", "/v1/threads", {"id": "t2"}, "spawn", None),
        ("GET", thread, None, "read", "t1"),
        ("GET", f"{thread}/messages", None, "read", "t1"),
        ("POST", f"{thread}/messages", {"content": "hi"}, "send", "t1"),
        ("POST", f"{thread}/agui", run_input, "send", "t1"),
        ("POST", f"{thread}/stop", None, "signal", "t1"),
        ("POST", f"{thread}/resume", None, "signal", "t1"),
        ("DELETE", thread, None, "kill", "t1"),
        ("POST", f"{thread}/tool-calls/{call_id}/result", {"result": 1}, "answer", "t1"),
        ("POST", f"{thread}/tool-calls/{call_id}/error", {"error": "no"}, "answer", "t1"),
        ("GET", f"{stream}?offset=-1", None, "read", "t1"),
        ("GET", f"{stream}?offset=now&live=long-poll", None, "read", "t1"),
        ("GET", f"{stream}?offset=now&live=sse", None, "read", "t1"),
        ("HEAD", stream, None, "read", "t1"),
        ("POST", "/v1/entities/thread", {"id": "t3"}, "spawn", None),
        ("GET", entity, None, "read", "t1"),
        ("POST", f"{entity}/messages", {"payload": "hi"}, "send", "t1"),
        ("POST", f"{entity}/signals", {"name": "interrupt"}, "signal", "t1"),
        ("DELETE", entity, None, "kill", "t1"),
        ("GET", f"{entity}/tool-calls/{call_id}", None, "read", "t1"),
        ("POST", f"{entity}/tool-calls/{call_id}/result", {"result": 1}, "answer", "t1"),
        ("POST", f"{entity}/tool-calls/{call_id}/error", {"error": "no"}, "answer", "t1"),
        ("POST", f"{entity}/tool-calls/{call_id}/approve", {}, "answer", "t1"),
        ("POST", f"{entity}/tool-calls/{call_id}/deny", {}, "answer", "t1"),
    ]


@pytest.mark.parametrize("policy_class", [Policy, AsyncPolicy])
async def test_a_policy_refusing_an_action_is_403_everywhere(
    serve: ServeFactory, policy_class: type[Policy]
) -> None:
    policy = policy_class()
    model = TestModel([call("lookup", {"query": "q"})])
    served = await serve(registry_for(model), auth=header_auth(policy))
    call_id = await waiting_thread(served, "t1")
    before = await messages_as(served, "t1")
    for method, path, body, action, thread_id in guarded_requests(call_id):
        policy.calls.clear()
        others = ",".join(a for a in ("spawn", "read", "send", "answer") if a != action)
        response = await served.client.request(method, path, json=body, headers={"x-allow": others})
        assert response.status_code == 403, (method, path, response.status_code, response.text)
        if method != "HEAD":
            message = error_of(response, 403, "NOT_ALLOWED")
            assert action in message
        assert policy.calls == [(action, thread_id)], (method, path, policy.calls)
    # Nothing reached the thread.
    assert await messages_as(served, "t1") == before
    thread = (await served.client.get("/v1/threads/t1", headers=ALL)).json()
    assert thread["status"] == "awaiting_tool_results"
    listed = (await served.client.get("/v1/threads", headers=ALL)).json()["threads"]
    assert [item["id"] for item in listed] == ["t1"]
    # Entities of other types are asked about the same way.
    policy.calls.clear()
    note = await served.client.post("/v1/entities/note", json={"id": "n"}, headers=ALL)
    assert note.status_code == 201, note.text
    sent = await served.client.post("/v1/entities/note/n/messages", json={"payload": "x"})
    error_of(sent, 403, "NOT_ALLOWED")
    assert policy.calls == [("spawn", None), ("send", "n")]
    # Killing by signal takes kill, as deleting does.
    policy.calls.clear()
    killed = await served.client.post(
        "/v1/entities/note/n/signals", json={"name": "kill"}, headers={"x-allow": "signal"}
    )
    error_of(killed, 403, "NOT_ALLOWED")
    assert policy.calls == [("signal", "n"), ("kill", "n")]


async def messages_as(served: Served, thread_id: str) -> list[dict[str, Any]]:
    response = await served.client.get(f"/v1/threads/{thread_id}/messages", headers=ALL)
    assert response.status_code == 200
    found: list[dict[str, Any]] = response.json()
    return found


async def test_allowed_actions_work(serve: ServeFactory) -> None:
    policy = Policy()
    model = TestModel([call("lookup", {"query": "q"}), answer("Done."), answer("Again.")])
    served = await serve(registry_for(model), auth=header_auth(policy))
    client = served.client

    def allow(action: str) -> dict[str, str]:
        return {"x-allow": action}

    created = await client.post(
        "/v1/threads", json={"id": "t1", "prompt": "go"}, headers=allow("spawn")
    )
    assert created.status_code == 201, created.text
    assert (await client.get("/v1/threads", headers=allow("list"))).status_code == 200

    async def waiting() -> str | None:
        response = await client.get("/v1/threads/t1/messages", headers=allow("read"))
        assert response.status_code == 200
        calls = [c for m in response.json() for c in m.get("tool_calls", ())]
        return next((c["id"] for c in calls if c["status"] == "awaiting_result"), None)

    call_id = await eventually(waiting, what="the waiting call")
    stream = "/v1/stream/thread/t1/main"
    read = await client.get(stream, params={"offset": "-1"}, headers=allow("read"))
    assert read.status_code == 200 and read.json()
    polled = await client.get(
        stream,
        params={"offset": read.headers["stream-next-offset"], "live": "long-poll"},
        headers=allow("read"),
    )
    assert polled.status_code in (200, 204)
    got = await client.get(f"/v1/entities/thread/t1/tool-calls/{call_id}", headers=allow("read"))
    assert got.status_code == 200 and got.json()["status"] == "awaiting_result"
    answered = await client.post(
        f"/v1/threads/t1/tool-calls/{call_id}/result", json={"result": 5}, headers=allow("answer")
    )
    assert answered.status_code == 202, answered.text

    async def completed() -> bool:
        response = await client.get("/v1/threads/t1", headers=allow("read"))
        return bool(response.json()["status"] == "completed")

    await eventually(completed, what="the run to complete")
    sent = await client.post(
        "/v1/threads/t1/messages", json={"content": "more"}, headers=allow("send")
    )
    assert sent.status_code == 202, sent.text
    await eventually(completed, what="the second run to complete")
    removed = await client.delete("/v1/threads/t1", headers=allow("kill"))
    assert removed.status_code == 204, removed.text
    assert ("kill", "t1") in policy.calls


async def test_the_policy_guards_raw_stream_writes_and_forks(serve: ServeFactory) -> None:
    """The Durable Streams protocol itself must not be a way around the policy: appending
    to or deleting a thread's stream, or forking it to read the copy."""
    policy = Policy()
    served = await serve(
        registry_for(TestModel([answer("Secret answer.")])), auth=header_auth(policy)
    )
    response = await served.client.post(
        "/v1/threads", json={"id": "t1", "prompt": "tell me"}, headers=ALL
    )
    assert response.status_code == 201
    await wait_status_as(served, "t1", "completed")
    stream = "/v1/stream/thread/t1/main"
    forged = (
        b'{"type": "inbox", "key": "forged", "headers": {"operation": "insert"},'
        b' "value": {"id": "forged", "payload": "forged message"}}'
    )
    refused = [
        ("POST", stream, {"content-type": "application/json"}, forged),
        ("DELETE", stream, {}, b""),
        ("PUT", stream, {"content-type": "application/json"}, b""),
        (
            "PUT",
            "/v1/stream/copy",
            {"content-type": "application/json", "stream-forked-from": stream},
            b"",
        ),
    ]
    for method, path, headers, body in refused:
        response = await served.client.request(
            method, path, headers={**headers, "x-allow": "create,spawn"}, content=body
        )
        assert response.status_code == 403, (method, path, response.status_code, response.text)
    found = await messages_as(served, "t1")
    assert [m["content"] for m in found] == ["tell me", "Secret answer."]
    assert (await served.client.head("/v1/stream/copy", headers=ALL)).status_code == 404


async def test_creating_a_thread_through_agui_takes_the_spawn_action(
    serve: ServeFactory,
) -> None:
    policy = Policy()
    served = await serve(registry_for(TestModel([answer("Hello.")])), auth=header_auth(policy))
    run_input = {
        "threadId": "fresh",
        "runId": "r",
        "messages": [{"id": "m", "role": "user", "content": "hi"}],
    }
    path = "/v1/threads/fresh/agui"
    response = await served.client.post(path, json=run_input, headers={"x-allow": "send"})
    error_of(response, 403, "NOT_ALLOWED")
    assert policy.calls == [("send", "fresh"), ("spawn", None)]
    error_of(await served.client.get("/v1/threads/fresh", headers=ALL), 404)
    response = await served.client.post(path, json=run_input, headers={"x-allow": "send,spawn"})
    assert response.status_code == 200, response.text
    assert "RUN_FINISHED" in response.text
    await wait_status_as(served, "fresh", "completed")


async def wait_status_as(served: Served, thread_id: str, status: str) -> None:
    async def probe() -> bool:
        response = await served.client.get(f"/v1/threads/{thread_id}", headers=ALL)
        return bool(response.json()["status"] == status)

    await eventually(probe, what=f"{thread_id} to be {status}")


# -- live connections per client -----------------------------------------------------------


@contextlib.asynccontextmanager
async def open_sse(client: httpx.AsyncClient, path: str) -> AsyncIterator[httpx.Response]:
    async with client.stream("GET", path, params={"offset": "now", "live": "sse"}) as response:
        yield response


async def test_live_reads_over_the_limit_are_429_and_freed_after(serve: ServeFactory) -> None:
    served = await serve(registry_for(), max_live_per_client=2, long_poll_timeout=10.0)
    client = served.client
    assert (await client.put("/v1/stream/live")).status_code == 201
    assert (await client.put("/v1/stream/probe")).status_code == 201
    params = {"offset": "now", "live": "long-poll"}

    # Two SSE reads held open use up the allowance.
    async with open_sse(client, "/v1/stream/live") as first:
        assert first.status_code == 200
        async with open_sse(client, "/v1/stream/live") as second:
            assert second.status_code == 200
            message = error_of(await client.get("/v1/stream/live", params=params), 429)
            assert "limit 2" in message
            async with open_sse(client, "/v1/stream/live") as third:
                await third.aread()
                error_of(third, 429, "TOO_MANY_LIVE_READS")
            # Catch-up reads are not live and never limited.
            assert (await client.get("/v1/stream/live", params={"offset": "-1"})).status_code == 200

    # Closing them frees the allowance (once the server notices the disconnects).
    await eventually(_allows_long_poll(client), what="the SSE reads to be released")

    # Long-polls count too, and are freed when they answer.
    polls = [asyncio.create_task(client.get("/v1/stream/live", params=params)) for _ in range(2)]
    await eventually(_refuses_long_poll(client), what="two long-polls to be waiting")
    appended = await client.post(
        "/v1/stream/live", content=b"x", headers={"content-type": "application/octet-stream"}
    )
    assert appended.status_code == 204
    assert [(await poll).status_code for poll in polls] == [200, 200]
    await eventually(_allows_long_poll(client), what="the long-polls to be released")


async def _live_read_accepted(client: httpx.AsyncClient) -> bool:
    """Whether a long-poll (on a stream of its own, ended at once if it waits) is let in."""
    task = asyncio.create_task(
        client.get("/v1/stream/probe", params={"offset": "now", "live": "long-poll"})
    )
    await asyncio.sleep(0.05)
    if task.done():
        return task.result().status_code != 429
    await client.post(
        "/v1/stream/probe", content=b"p", headers={"content-type": "application/octet-stream"}
    )
    return (await task).status_code == 200


def _allows_long_poll(client: httpx.AsyncClient) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return await _live_read_accepted(client)

    return probe


def _refuses_long_poll(client: httpx.AsyncClient) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return not await _live_read_accepted(client)

    return probe


# -- body sizes -----------------------------------------------------------------------------


async def test_bodies_over_the_limit_are_413(serve: ServeFactory) -> None:
    limit = 4096
    served = await serve(registry_for(), max_body_bytes=limit)
    client = served.client
    assert (await client.put("/v1/stream/big", headers={"content-type": "text/plain"})).is_success
    text = {"content-type": "text/plain"}
    error_of(await client.post("/v1/stream/big", content=b"x" * (limit + 1), headers=text), 413)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000

    error_of(await client.post("/v1/stream/big", content=chunks(), headers=text), 413)
    assert (await client.post("/v1/stream/big", content=b"x" * limit, headers=text)).is_success
    # The JSON API has the same limit.
    big = "y" * (limit + 10)
    error_of(await client.post("/v1/threads", json={"id": "t", "prompt": big}), 413)
    assert (await client.post("/v1/threads", json={"id": "t"})).status_code == 201
    error_of(await client.post("/v1/threads/t/messages", json={"content": big}), 413)
    error_of(await client.post("/v1/entities/note", json={"id": "n", "message": big}), 413)

    async def json_chunks() -> AsyncIterator[bytes]:
        yield b'{"content": "'
        for _ in range(10):
            yield b"z" * 1000
        yield b'"}'

    response = await client.post(
        "/v1/threads/t/messages",
        content=json_chunks(),
        headers={"content-type": "application/json"},
    )
    error_of(response, 413)
    assert await messages(client, "t") == []
    small = await client.post("/v1/threads/t/messages", json={"content": "small"})
    assert small.status_code == 202


# -- wakeful serve without a token --------------------------------------------------------


def _serve_command(*options: str, database: Path) -> list[str]:
    return [sys.executable, "-m", "wakeful", "serve", "--database", str(database), *options]


def _environment(**extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k != "WAKEFUL_TOKEN"}
    return {**environment, **extra}


def test_serve_refuses_a_public_host_without_a_token(tmp_path: Path) -> None:
    port = str(free_port())
    result = subprocess.run(
        _serve_command("--host", "0.0.0.0", "--port", port, database=tmp_path / "db"),
        capture_output=True,
        text=True,
        timeout=60,
        env=_environment(),
    )
    assert result.returncode != 0
    assert "refusing to serve 0.0.0.0 without a token" in result.stderr
    assert "--token" in result.stderr and "WAKEFUL_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


@contextlib.contextmanager
def running(
    command: list[str], environment: dict[str, str], port: int
) -> Iterator[Callable[[], str]]:
    """Runs a server process until it answers; yields a function giving its output."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)

        def output() -> str:
            log.seek(0)
            return log.read().decode(errors="replace")

        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    raise AssertionError(f"server exited:\n{output()}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise AssertionError(f"server did not start:\n{output()}")
                time.sleep(0.05)
            yield output
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def test_serve_on_a_public_host_with_a_token(tmp_path: Path) -> None:
    port = free_port()
    command = _serve_command("--host", "0.0.0.0", "--port", str(port), database=tmp_path / "db")
    with running(command, _environment(WAKEFUL_TOKEN=TOKEN), port) as output:
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/v1/types").status_code == 401
        authorized = httpx.get(f"{base}/v1/types", headers={"authorization": f"Bearer {TOKEN}"})
        assert authorized.status_code == 200
        assert "only this machine" not in output()
        assert f"serving on http://0.0.0.0:{port}" in output()


def test_serve_without_a_token_says_only_loopback_is_served(tmp_path: Path) -> None:
    port = free_port()
    command = _serve_command("--port", str(port), database=tmp_path / "db")
    with running(command, _environment(), port) as output:
        assert httpx.get(f"http://127.0.0.1:{port}/v1/types").status_code == 200
        assert "no token set, so only this machine can connect (127.0.0.1)" in output()
        assert f"serving on http://127.0.0.1:{port}" in output()


# -- wakeful serve with principals ----------------------------------------------------------

PRINCIPALS = """
[principals.alice]
token = "alice-token-0123456789"

[principals.ops]
token = "ops-token-0123456789"
admin = true
"""
AUTH_MODULE = """
from wakeful import Auth, Principal


def by_header(request):
    name = request.headers.get("x-user")
    return Principal(name, admin=name == "root") if name else None


auth = Auth(by_header)
"""
REMOTE = {"name": "echo", "webhook": {"url": "http://127.0.0.1:9/wake"}}


def test_serve_with_a_principals_file(tmp_path: Path) -> None:
    principals = tmp_path / "principals.toml"
    principals.write_text(PRINCIPALS)
    port = free_port()
    options = ("--host", "0.0.0.0", "--port", str(port), "--principals", str(principals))
    with running(_serve_command(*options, database=tmp_path / "db"), _environment(), port) as out:
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/v1/types").status_code == 401
        alice = {"authorization": "Bearer alice-token-0123456789"}
        ops = {"authorization": "Bearer ops-token-0123456789"}
        assert httpx.get(f"{base}/v1/types", headers=alice).status_code == 200
        assert httpx.post(f"{base}/v1/types", json=REMOTE, headers=alice).status_code == 403
        assert httpx.post(f"{base}/v1/types", json=REMOTE, headers=ops).status_code == 201
        assert "only this machine" not in out()


def test_serve_with_an_auth_object(tmp_path: Path) -> None:
    (tmp_path / "house_auth.py").write_text(AUTH_MODULE)
    port = free_port()
    options = ("--port", str(port), "--auth", "house_auth:auth")
    environment = _environment(PYTHONPATH=str(tmp_path))
    with running(_serve_command(*options, database=tmp_path / "db"), environment, port):
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/v1/types").status_code == 401
        bob, root = {"x-user": "bob"}, {"x-user": "root"}
        assert httpx.get(f"{base}/v1/types", headers=bob).status_code == 200
        assert httpx.post(f"{base}/v1/types", json=REMOTE, headers=bob).status_code == 403
        assert httpx.post(f"{base}/v1/types", json=REMOTE, headers=root).status_code == 201


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--principals", "missing.toml"), "cannot read missing.toml"),
        (("--principals", "short.toml"), "needs a token of at least 16 characters"),
        (("--auth", "no_such_module:auth"), "cannot load 'no_such_module:auth'"),
        (("--auth", "x:y", "--principals", "short.toml"), "not both"),
    ],
)
def test_serve_refuses_principals_it_cannot_use(
    tmp_path: Path, options: tuple[str, ...], message: str
) -> None:
    (tmp_path / "short.toml").write_text('[principals.a]\ntoken = "short"\n')
    result = subprocess.run(
        _serve_command("--port", str(free_port()), *options, database=tmp_path / "db"),
        capture_output=True,
        text=True,
        timeout=60,
        env=_environment(**TERMINAL),
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
