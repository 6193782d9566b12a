"""Chaos: real worker processes killed with ``kill -9`` at 50 random points of a workload.

Parents spawn children and wait for them to complete, children fire timers and send
delayed messages to peers, parents forward messages to peers, and clients keep sending
messages to parents and peers over HTTP the whole time (see :mod:`entities.chaos_types`). Meanwhile
a worker process is killed with SIGKILL and started again, 50 times. At the end:

* every message a client sent (and got an id for) is on its target's stream and was
  handled exactly once, and so was every message one entity sent another;
* no pass landed twice (each pass writes a mark under a fresh key; no key is on a stream
  twice) and no input was handled by two passes (counters against sets of ids);
* every entity reached its final state: children completed, their timers fired once,
  their parents got exactly one report each; nothing failed, no handler error.

SQLite is embedded in one process, so its variant runs one ``wakeful serve`` at a time:
it takes the clients' requests and runs the handlers, and it is what gets killed. The
PostgreSQL variant runs three ``wakeful worker`` processes side by side (killed at random)
behind one ``wakeful serve --no-workers`` that takes the clients' requests.

``WAKEFUL_CHAOS_SEED`` picks another kill schedule and workload.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from support.postgres import require_postgres, schema_url
from support.servers import STARTUP_SECONDS, Subprocess, free_port

from wakeful.entities.addressing import Address
from wakeful.errors import WakefulError
from wakeful.state import StateStore
from wakeful.streams.storage import open_storage

TESTS = Path(__file__).resolve().parents[1]
REGISTRY = "entities.chaos_types:registry"
SEED = int(os.environ.get("WAKEFUL_CHAOS_SEED", "20261122"))
KILLS = 50
PARENTS = [f"p{index}" for index in range(6)]
PEERS = [f"q{index}" for index in range(3)]
SENDERS = 3
MAX_MESSAGES = 1200
DRAIN_SECONDS = 60.0
REQUEST_TIMEOUT = 5.0


# --- processes ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _registry_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker processes import :mod:`entities.chaos_types` from this package."""
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", f"{TESTS}{os.pathsep}{path}" if path else str(TESTS))


class Process(Subprocess):
    """A ``wakeful`` process that can be killed with SIGKILL and started again.

    A ``serve`` process takes a new port at every start: a port given up by a killed
    process may have been taken by another one meanwhile."""

    def __init__(self, command: str, *arguments: str) -> None:
        super().__init__()
        self.command = command
        self.arguments = arguments
        self.port = 0
        self.started = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "wakeful", self.command, *self.arguments]
        if self.command == "serve":
            self.port = free_port()
            command += ["--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--log-level", "warning"]
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ}
        )
        self.started = time.monotonic()

    async def healthy(self, http: httpx.AsyncClient) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert self.process is not None and self.process.poll() is None, self.output()
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{self.url}/healthz")).status_code == 200:
                    return
            assert time.monotonic() < deadline, f"no answer after {STARTUP_SECONDS}s"
            await asyncio.sleep(0.02)


# --- clients -----------------------------------------------------------------------------


@dataclass
class Sent:
    target: str  # entity URL
    mid: str
    key: str | None  # the message id the server answered with; None if the answer was lost


@dataclass
class Clients:
    """Clients sending messages over HTTP while workers die under them."""

    base: str
    rng: random.Random
    http: httpx.AsyncClient
    sent: list[Sent] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    counter: int = 0
    aborted: bool = False  # the test failed: stop waiting for a server to come back

    async def request(self, method: str, path: str, body: Any = None) -> httpx.Response | None:
        """Retry while the server cannot be reached (nothing was sent); give up (None) when a
        request may have reached a server that died before answering."""
        while True:
            try:
                response = await self.http.request(method, self.base + path, json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if self.aborted:
                    return None
                await asyncio.sleep(0.05)
                continue
            except httpx.TransportError:
                return None
            if response.status_code >= 500:
                self.server_errors.append(
                    f"{method} {path}: {response.status_code} {response.text}"
                )
            return response

    async def send(self, url: str, payload: dict[str, Any]) -> None:
        address = Address.parse(url)
        response = await self.request(
            "POST", f"/v1/entities/{address.type}/{address.id}/messages", {"payload": payload}
        )
        key = None
        if response is not None:
            assert response.status_code == 202, response.text
            key = response.json()["id"]
        self.sent.append(Sent(url, payload["mid"], key))

    def next_message(self) -> tuple[str, dict[str, Any]]:
        self.counter += 1
        mid = f"m{self.counter}"
        rng = self.rng
        if rng.random() < 0.25:
            return f"/peer/{rng.choice(PEERS)}", {"mid": mid, "op": "note"}
        parent = f"/parent/{rng.choice(PARENTS)}"
        roll = rng.random()
        if roll < 0.3:
            delay = round(rng.uniform(0.05, 0.6), 3)
            return parent, {"mid": mid, "op": "spawn", "delay": delay, "peer": rng.choice(PEERS)}
        if roll < 0.6:
            delay = rng.choice([None, None, 0.2])
            return parent, {"mid": mid, "op": "forward", "peer": rng.choice(PEERS), "delay": delay}
        return parent, {"mid": mid, "op": "note"}

    async def keep_sending(self, stop: asyncio.Event) -> None:
        while not stop.is_set() and self.counter < MAX_MESSAGES:
            url, payload = self.next_message()
            await self.send(url, payload)
            await asyncio.sleep(self.rng.uniform(0.02, 0.12))


async def read_stream(http: httpx.AsyncClient, base: str, path: str) -> list[Any] | None:
    """Every message of a JSON stream, read over the Durable Streams protocol."""
    messages: list[Any] = []
    offset = "-1"
    while True:
        response = await http.get(f"{base}/v1/stream/{path}", params={"offset": offset})
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        messages.extend(orjson.loads(response.content))
        offset = response.headers["Stream-Next-Offset"]
        if response.headers.get("Stream-Up-To-Date") == "true":
            return messages


async def list_children(http: httpx.AsyncClient, base: str) -> set[str]:
    found: set[str] = set()
    after = None
    while True:
        params: dict[str, Any] = {"type": "child", "limit": 1000}
        if after:
            params["after"] = after
        page = (await http.get(f"{base}/v1/entities", params=params)).json()
        found.update(entity["url"] for entity in page["entities"])
        after = page.get("next")
        if not after:
            return found


# --- what the streams say ----------------------------------------------------------------


@dataclass
class View:
    """One entity as its stream tells it."""

    url: str
    events: list[Any]
    store: StateStore

    def rows(self, collection: str) -> dict[str, Any]:
        return self.store.collection(collection).snapshot()

    def keys(self, kind: str, operation: str | None = None) -> list[str]:
        return [
            event["key"]
            for event in self.events
            if isinstance(event, dict)
            and event.get("type") == kind
            and (operation is None or event.get("headers", {}).get("operation") == operation)
        ]


async def view(http: httpx.AsyncClient, base: str, url: str) -> View | None:
    events = await read_stream(http, base, Address.parse(url).stream)
    if events is None:
        return None
    store = StateStore()
    for event in events:
        store.apply(event)
    return View(url, events, store)


@dataclass
class Findings:
    violations: list[str] = field(default_factory=list)  # can never heal: fail at once
    pending: list[str] = field(default_factory=list)  # not there yet: wait
    stats: dict[str, int] = field(default_factory=dict)


async def inspect(http: httpx.AsyncClient, base: str, sent: list[Sent]) -> Findings:
    found = Findings()
    bad, wait = found.violations.append, found.pending.append
    urls = [f"/parent/{name}" for name in PARENTS] + [f"/peer/{name}" for name in PEERS]
    # Listed before the parents are read: a child is created in the same transaction as
    # its row in the parent's state, so every child listed now must be in that state.
    listed = await list_children(http, base)
    views: dict[str, View] = {}
    for url in urls:
        entity = await view(http, base, url)
        if entity is None:
            bad(f"{url}: no stream")
            continue
        views[url] = entity
    expected_children = {
        child_url: (url, row)
        for url, entity in views.items()
        for child_url, row in entity.rows("state:children").items()
    }
    if unknown := listed - set(expected_children):
        bad(f"children that no parent spawned: {sorted(unknown)[:5]}")
    if unlisted := set(expected_children) - listed:
        wait(f"{len(unlisted)} children spawned since they were listed")
    for child_url in sorted(expected_children):
        entity = await view(http, base, child_url)
        if entity is None:
            bad(f"{child_url}: spawned but has no stream")
            continue
        views[child_url] = entity

    handled_keys: dict[str, set[str]] = {}
    for url, entity in views.items():
        inbox = entity.keys("inbox")
        handled = entity.rows("state:handled")
        handled_keys[url] = set(handled)
        if len(inbox) != len(set(inbox)):
            bad(f"{url}: an inbox message is on the stream twice")
        if extra := set(handled) - set(inbox):
            bad(f"{url}: handled messages that are not in its inbox: {sorted(extra)[:3]}")
        if missing := set(inbox) - set(handled):
            wait(f"{url}: {len(missing)} messages not handled yet")
        if twice := [key for key, row in handled.items() if row["times"] != 1]:
            bad(f"{url}: messages handled more than once: {twice[:3]}")
        tally = entity.rows("state:tally").get("tally", {"count": 0, "passes": 0})
        if tally["count"] != len(handled):
            bad(f"{url}: tally counts {tally['count']} messages, {len(handled)} handled rows")
        marks = entity.keys("state:marks")
        if len(marks) != len(set(marks)):
            bad(f"{url}: a pass landed twice (its mark is on the stream twice)")
        if tally["passes"] != len(marks):
            bad(f"{url}: tally counts {tally['passes']} passes, {len(marks)} marks")
        wakes = entity.keys("wake")
        if len(wakes) != len(set(wakes)):
            bad(f"{url}: a wake record is on the stream twice")
        if errors := entity.rows("error"):
            bad(f"{url}: handler errors {list(errors.values())[:2]}")
        status = entity.rows("manifest").get("status", {}).get("status", "idle")
        if status != "idle":
            bad(f"{url}: status {status}")
        found.stats["passes"] = found.stats.get("passes", 0) + tally["passes"]
        found.stats["handled"] = found.stats.get("handled", 0) + len(handled)

    for child_url, (parent_url, row) in expected_children.items():
        if row["status"] == "waiting" and row["reports"] == 0:
            wait(f"{parent_url}: child {child_url} has not reported")
        elif row["status"] != "completed" or row["reports"] != 1:
            bad(f"{parent_url}: child {child_url} reported {row['reports']}x, {row['status']}")
        elif row["response"] != {"child": Address.parse(child_url).id}:
            bad(f"{parent_url}: child {child_url} answered {row['response']}")
        entity = views.get(child_url)
        if entity is None:
            continue
        created = entity.rows("entity_created").get("entity", {})
        if created.get("parent") != parent_url:
            bad(f"{child_url}: parent is {created.get('parent')}, not {parent_url}")
        fired = entity.rows("state:fired").get("timer:finish")
        if fired is None:
            wait(f"{child_url}: timer has not fired")
        elif fired["times"] != 1:
            bad(f"{child_url}: timer fired {fired['times']} times")

    forwards = 0
    for url, entity in views.items():
        for key, row in entity.rows("state:forwards").items():
            forwards += 1
            if key not in views[row["to"]].keys("inbox"):
                wait(f"{url}: message {key} to {row['to']} has not arrived")
            elif key not in handled_keys[row["to"]]:
                wait(f"{url}: message {key} to {row['to']} not handled yet")

    uncertain = 0
    for message in sent:
        target = views.get(message.target)
        if target is None:
            continue
        mids = [row["mid"] for row in target.rows("state:handled").values()]
        if message.key is None:
            uncertain += 1
            if mids.count(message.mid) > 1:
                times = mids.count(message.mid)
                bad(f"{message.target}: {message.mid} (answer lost) handled {times}x")
            continue
        if message.key not in target.keys("inbox"):
            bad(f"{message.target}: acknowledged message {message.key} is not on its stream")
        elif message.key not in handled_keys[message.target]:
            wait(f"{message.target}: acknowledged message {message.key} not handled yet")
    found.stats.update(
        entities=len(views),
        children=len(expected_children),
        forwards=forwards,
        sent=len(sent),
        answers_lost=uncertain,
    )
    return found


async def drain(
    http: httpx.AsyncClient, base: str, sent: list[Sent], logs: Callable[[], str]
) -> Findings:
    """Wait until every entity reached its final state; fail at once on a violation."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while True:
        try:
            found = await inspect(http, base, sent)
        except httpx.ConnectError:  # the last process started is not listening yet
            found = Findings(pending=["the server is not listening yet"])
        assert not found.violations, "\n".join(found.violations[:30]) + "\n" + logs()[-4000:]
        if not found.pending:
            return found
        assert time.monotonic() < deadline, (
            f"not settled after {DRAIN_SECONDS}s:\n"
            + "\n".join(found.pending[:30])
            + "\n"
            + logs()[-4000:]
        )
        await asyncio.sleep(0.5)


async def spawn_roots(clients: Clients) -> None:
    for name in PARENTS:
        response = await clients.request("POST", "/v1/entities/parent", {"id": name})
        assert response is not None and response.status_code == 201, response
    for name in PEERS:
        response = await clients.request("POST", "/v1/entities/peer", {"id": name})
        assert response is not None and response.status_code == 201, response


async def chaos(
    base: str,
    kill_one: Callable[[random.Random, httpx.AsyncClient], Awaitable[str | None]],
    logs: Callable[[], str],
) -> Findings:
    """Run the workload while calling ``kill_one`` 50 times: it waits for a random point,
    kills a worker, starts it again and returns the clients' new base URL, if that changed."""
    rng = random.Random(SEED)
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
        clients = Clients(base, random.Random(rng.random()), http)
        await spawn_roots(clients)
        stop = asyncio.Event()
        senders = [asyncio.create_task(clients.keep_sending(stop)) for _ in range(SENDERS)]
        try:
            for _ in range(KILLS):
                clients.base = await kill_one(rng, http) or clients.base
        except BaseException:
            clients.aborted = True
            raise
        finally:
            stop.set()
            await asyncio.gather(*senders)
        chaos_seconds = time.monotonic() - started
        found = await drain(http, clients.base, clients.sent, logs)
        assert not clients.server_errors, clients.server_errors[:5]
    found.stats.update(kills=KILLS, chaos_seconds=round(chaos_seconds))
    found.stats["total_seconds"] = round(time.monotonic() - started)
    # The workload did real work between the kills.
    assert found.stats["sent"] >= 200 and found.stats["children"] >= 30, found.stats
    print(f"chaos (seed {SEED}): {found.stats}")
    return found


# --- the two variants --------------------------------------------------------------------


async def test_kill_9_the_only_process_50_times_on_sqlite(tmp_path: Path) -> None:
    server = Process("serve", REGISTRY, "--database", str(tmp_path / "chaos.db"))
    server.start()

    async def kill_one(rng: random.Random, http: httpx.AsyncClient) -> str:
        if rng.random() < 0.6:  # while it serves
            await server.healthy(http)
            await asyncio.sleep(rng.uniform(0.0, 0.5))
        else:  # anywhere from start-up on: recovering, claiming what the last one left
            await asyncio.sleep(rng.uniform(0.3, 1.3))
        server.kill()
        server.start()
        return server.url

    try:
        await chaos(server.url, kill_one, lambda: server.output()[-6000:])
    finally:
        server.stop()


async def _supports_entities(url: str) -> str | None:
    """Why the PostgreSQL backend cannot run entities yet, or None if it can."""
    storage = open_storage(url)
    await storage.start()
    try:
        await storage.subscriptions.outstanding_wakes()
        await storage.subscriptions.get("e~probe~probe")
    except WakefulError as exc:
        if exc.status == 501:
            return exc.message
    finally:
        await storage.stop()
    return None


async def test_kill_9_workers_50_times_on_postgres(new_schema: Callable[[], str]) -> None:
    database = schema_url(require_postgres(), new_schema())
    missing = await _supports_entities(database)
    if missing is not None:
        message = f"the PostgreSQL backend cannot run entities: {missing}"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    front = Process("serve", "--no-workers", REGISTRY, "--database", database)
    workers = [
        Process("worker", REGISTRY, "--database", database, "--concurrency", "16") for _ in range(3)
    ]
    front.start()
    for worker in workers:
        worker.start()

    async def kill_one(rng: random.Random, http: httpx.AsyncClient) -> None:
        await asyncio.sleep(rng.uniform(0.05, 0.6))
        victim = rng.choice(workers)
        # Only a worker that had time to start its runtime is worth killing.
        await asyncio.sleep(max(0.0, victim.started + 1.5 - time.monotonic()))
        victim.kill()
        victim.start()

    def logs() -> str:
        return "\n".join(w.output()[-1500:] for w in workers) + front.output()[-1500:]

    try:
        await chaos(front.url, kill_one, logs)
    finally:
        for worker in workers:
            worker.stop()
        front.stop()
