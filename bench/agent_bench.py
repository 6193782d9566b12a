"""Benchmark the durable overhead of the agent loop, beside DBOS and LangGraph.

Every target runs the same loop: 50 iterations of "call the model, run the tool it asked
for", with the same instant scripted model (:class:`wakeful.agent.models.TestModel`,
whose endless script calls one trivial tool per step) and the same tool. The targets:

* Wakeful: the real runtime on SQLite (``ctx.use_agent(...)`` in an entity handler, as
  ``wakeful serve`` runs it), every step persisted to the entity's stream; and the same
  agent loop with persistence off (a handler context over in-memory state);
* the same loop in plain Python, nothing persisted: the cost of the model and the tool
  (and DBOS's loop with persistence off: its workflow without DBOS);
* DBOS on SQLite: a workflow whose model call and tool call are steps;
* LangGraph with ``SqliteSaver``: a model node and a tool node in a cycle, checkpointed
  after every node; and the same graph without a checkpointer.

What persistence costs a target is its time per step beyond its own loop with
persistence off.

Every SQLite database is in WAL mode and, unless a row says "defaults", syncs as
Wakeful's does (``synchronous=NORMAL``: a write survives a killed process, not a power
cut). Milliseconds per step are the time of one run divided by its steps (median of the
runs). Bytes per step are what one run added, divided by its steps: the bytes of the
entity's stream (Wakeful), and for every target the growth of its database file (the
WAL checkpointed into it first).

``--output BENCHMARKS.md`` records the table, the machine and the command in that file's
"Agent loop" section. The peers are optional extras: ``pip install -e '.[bench]'``.

Usage: python bench/agent_bench.py [--steps 50] [--runs 7] [--output BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import itertools
import operator
import os
import platform
import re
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypedDict

from rich.console import Console
from rich.table import Table

from wakeful.agent.loop import Agent
from wakeful.agent.models import Message, ModelRequest, TestModel, ToolCall, ToolCallReady
from wakeful.agent.models.test import call
from wakeful.agent.provider import agent_resources
from wakeful.agent.tools import Tool, tool
from wakeful.background import Background, make_storage
from wakeful.entities import events as entity_events
from wakeful.entities.addressing import Address
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.service import EntityService
from wakeful.entities.wake import Wake
from wakeful.settings import Settings
from wakeful.state.materialize import StateStore
from wakeful.streams.storage import Storage

SECTION = "## Agent loop"
GOAL_MS = 0.5
GOAL_RATIO = 5.0


@tool
async def tick(n: int) -> int:
    """Count one up."""
    return n + 1


def scripted_model() -> TestModel:
    """Calls ``tick`` at every step, for ever."""
    return TestModel(itertools.repeat(call("tick", {"n": 1})), name="test:bench")


# --- driving the async model and tool without an event loop --------------------------------


def finish(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that only ever yields to let others run (``asyncio.sleep(0)``)."""
    while True:
        try:
            coroutine.send(None)
        except StopIteration as stop:
            return stop.value


def model_calls(model: TestModel, messages: list[Message]) -> list[ToolCall]:
    """One model call, outside any event loop (the peers' steps are synchronous)."""
    request = ModelRequest(messages=tuple(messages), tools=(tick.spec,))
    events = model.stream(request)
    found: list[ToolCall] = []
    while True:
        try:
            event = finish(events.__anext__())
        except StopAsyncIteration:
            return found
        if isinstance(event, ToolCallReady):
            found.append(event.call)


def run_tool(chosen: Tool, arguments: dict[str, Any]) -> Any:
    return finish(chosen.function(**chosen.validate(arguments)))


# --- measurements --------------------------------------------------------------------------


@dataclass
class Measured:
    label: str
    note: str
    baseline: Measured | None = None  # the same loop with persistence off
    # False when a crash can lose steps whose side effects already happened (a tool ran
    # on before the previous step was durable): not held to the goal's comparison.
    same_guarantee: bool = True
    ms_per_step: list[float] = field(default_factory=list)
    bytes_per_step: list[float] = field(default_factory=list)  # what the target stores
    file_per_step: list[float] = field(default_factory=list)  # database file growth
    error: str | None = None

    @property
    def ms(self) -> float:
        return statistics.median(self.ms_per_step)

    @property
    def spread(self) -> str:
        """The middle half of the runs' ms per step (25th to 75th percentile)."""
        if len(self.ms_per_step) < 2:
            return "—"
        low, _, high = statistics.quantiles(self.ms_per_step, n=4)
        return f"{low:.3f} to {high:.3f}"

    @property
    def bytes(self) -> float | None:
        return statistics.median(self.bytes_per_step) if self.bytes_per_step else None

    @property
    def file(self) -> float | None:
        return statistics.median(self.file_per_step) if self.file_per_step else None


def database_bytes(path: Path) -> int:
    """The database file's size once its WAL has been copied into it (plus what of the
    WAL could not be, if a reader held it)."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


# --- Wakeful ---------------------------------------------------------------------------------


async def measure_wakeful(
    directory: Path, steps: int, runs: int, result: Measured
) -> AsyncIterator[None]:
    """One entity per run, each handling one message with a run of ``steps`` steps."""
    timings: dict[str, float] = {}
    finished = asyncio.Event()
    registry = Registry()

    async def handler(ctx: Context, wake: Wake) -> None:
        agent: Agent = ctx.use_agent(scripted_model(), tools=[tick], max_steps=steps)
        started = time.perf_counter()
        outcome = await agent.run()
        timings[ctx.url] = time.perf_counter() - started
        finished.set()
        assert outcome.steps == steps, outcome

    registry.define("bench", handler)
    database = directory / "wakeful.db"
    async with runtime(database, registry) as (storage, service):
        for index in range(runs + 1):  # the first one warms up
            file_before = database_bytes(database)
            url = (await service.spawn("bench", f"run{index}", message="Go.")).url
            while url not in timings:  # waiting, not polling: nothing else runs meanwhile
                finished.clear()
                try:
                    await asyncio.wait_for(finished.wait(), 120)
                except TimeoutError:
                    info = await service.get(url)
                    raise RuntimeError(f"{url} did not finish (status {info.status})") from None
            if index:
                result.ms_per_step.append(timings[url] * 1000 / steps)
                result.bytes_per_step.append(await run_bytes(storage, url) / steps)
                result.file_per_step.append((database_bytes(database) - file_before) / steps)
            yield


@contextlib.asynccontextmanager
async def runtime(
    database: Path, registry: Registry
) -> AsyncIterator[tuple[Storage, EntityService]]:
    """Wakeful's runtime on SQLite (``synchronous=NORMAL``, as ``wakeful serve`` runs it)."""
    settings = Settings(database=str(database), sqlite_synchronous="normal")
    storage = make_storage(settings)
    await storage.start()
    background = Background(storage, registry, settings)
    await background.start()
    try:
        yield storage, EntityService(storage, registry)
    finally:
        await background.stop()
        await storage.stop()


async def run_bytes(storage: Storage, url: str) -> int:
    """The bytes of an entity's stream after its first two events (entity_created and the
    inbox message that started its run)."""
    stream = Address.parse(url).stream
    head = await storage.head(stream)
    first = await storage.read(stream, 0)
    return head.tail - sum(len(message) for message in first.messages[:2])


async def measure_wakeful_off(steps: int, runs: int, result: Measured) -> AsyncIterator[None]:
    """The same agent loop with persistence off: a handler context over an in-memory
    state, with nothing flushed or committed."""
    registry = Registry()

    async def handler(ctx: Context, wake: Wake) -> None:
        pass

    definition = registry.define("bench", handler)
    for index in range(runs + 1):
        store = StateStore()
        store.apply(entity_events.inbox("Go.", None))
        ctx = Context(
            address=Address("bench", f"run{index}"),
            definition=definition,
            registry=registry,
            store=store,
            args={},
            parent=None,
            tags={},
            first_wake=True,
            shared={},
            known=set(),
            resources=agent_resources(),
        )
        agent: Agent = ctx.use_agent(scripted_model(), tools=[tick], max_steps=steps)
        started = time.perf_counter()
        outcome = await agent.run(force=True)
        elapsed = time.perf_counter() - started
        assert outcome.steps == steps, outcome
        if index:
            result.ms_per_step.append(elapsed * 1000 / steps)
        yield


def measure_plain(steps: int, runs: int, result: Measured) -> Iterator[None]:
    for index in range(runs + 1):
        model = scripted_model()
        messages = [Message("user", "Go.")]
        started = time.perf_counter()
        for _ in range(steps):
            calls = model_calls(model, messages)
            messages.append(Message("assistant", "", tuple(calls)))
            for found in calls:
                value = run_tool(tick, found.arguments)
                messages.append(Message("tool", str(value), tool_call_id=found.id))
        if index:
            result.ms_per_step.append((time.perf_counter() - started) * 1000 / steps)
        yield


# --- DBOS ------------------------------------------------------------------------------------


def dbos_engine(url: str) -> Any:
    """DBOS's own SQLite engine (IMMEDIATE transactions, its pragmas), plus WAL and
    synchronous=NORMAL."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)

    @sqlalchemy.event.listens_for(engine, "connect")
    def pragmas(connection: Any, _: Any) -> None:
        connection.isolation_level = "IMMEDIATE"
        connection.execute("PRAGMA busy_timeout=30000")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")

    return engine


def measure_dbos(
    directory: Path, steps: int, runs: int, result: Measured, tuned: bool
) -> Iterator[None]:
    from dbos import DBOS

    database = directory / ("dbos.db" if tuned else "dbos-defaults.db")
    config: dict[str, Any] = {
        "name": "agent-bench",
        "system_database_url": f"sqlite:///{database}",
        "log_level": "ERROR",
    }
    engine = None
    if tuned:
        engine = config["system_database_engine"] = dbos_engine(config["system_database_url"])
    DBOS.destroy(destroy_registry=True)
    dbos = DBOS(config=config)  # type: ignore[arg-type]
    model = scripted_model()

    @DBOS.step()
    def model_step(messages: list[dict[str, Any]]) -> dict[str, Any]:
        found = model_calls(model, [to_message(item) for item in messages])
        return {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": c.id, "name": c.name, "args": c.arguments} for c in found],
        }

    @DBOS.step()
    def tool_step(request: dict[str, Any]) -> dict[str, Any]:
        value = run_tool(tick, request["args"])
        return {"role": "tool", "content": str(value), "tool_call_id": request["id"]}

    @DBOS.workflow()
    def agent_loop(prompt: str, count: int) -> int:
        messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
        for _ in range(count):
            reply = model_step(messages)
            messages.append(reply)
            for request in reply["tool_calls"]:
                messages.append(tool_step(request))
        return len(messages)

    DBOS.launch()
    try:
        for index in range(runs + 1):
            before = database_bytes(database)
            started = time.perf_counter()
            agent_loop("Go.", steps)
            elapsed = time.perf_counter() - started
            if index:
                result.ms_per_step.append(elapsed * 1000 / steps)
                result.file_per_step.append((database_bytes(database) - before) / steps)
            yield
    finally:
        DBOS.destroy(destroy_registry=True)
        del dbos
        if engine is not None:
            engine.dispose()


def to_message(item: dict[str, Any]) -> Message:
    calls = tuple(ToolCall(c["id"], c["name"], c["args"]) for c in item.get("tool_calls", ()))
    return Message(item["role"], item["content"], calls, tool_call_id=item.get("tool_call_id"))


# --- LangGraph -------------------------------------------------------------------------------


class GraphState(TypedDict):
    messages: Annotated[list[dict[str, Any]], operator.add]
    steps: int


def measure_langgraph(
    directory: Path, steps: int, runs: int, result: Measured, durability: str, tuned: bool
) -> Iterator[None]:
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import END, START, StateGraph

    database = directory / f"langgraph-{durability}-{'tuned' if tuned else 'defaults'}.db"
    connection = sqlite3.connect(database, check_same_thread=False)
    if tuned:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
    saver = None
    if durability != "off":
        saver = SqliteSaver(connection)
        saver.setup()
    model = scripted_model()

    def agent_node(state: GraphState) -> dict[str, Any]:
        found = model_calls(model, [to_message(item) for item in state["messages"]])
        reply = {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": c.id, "name": c.name, "args": c.arguments} for c in found],
        }
        return {"messages": [reply], "steps": state["steps"] + 1}

    def tool_node(state: GraphState) -> dict[str, Any]:
        results = [
            {"role": "tool", "content": str(run_tool(tick, c["args"])), "tool_call_id": c["id"]}
            for c in state["messages"][-1]["tool_calls"]
        ]
        return {"messages": results}

    def route(state: GraphState) -> str:
        return "tools" if state["messages"][-1]["tool_calls"] else END

    def after_tools(state: GraphState) -> str:
        return "agent" if state["steps"] < steps else END

    builder = StateGraph(GraphState)
    builder.add_node("agent", agent_node)
    builder.add_node("tools", tool_node)
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route, ["tools", END])
    builder.add_conditional_edges("tools", after_tools, ["agent", END])
    graph = builder.compile(checkpointer=saver)
    try:
        for index in range(runs + 1):
            config: Any = {"configurable": {"thread_id": f"run{index}"}, "recursion_limit": 10_000}
            start = {"messages": [{"role": "user", "content": "Go."}], "steps": 0}
            before = database_bytes(database)
            started = time.perf_counter()
            if saver is None:
                final = graph.invoke(start, config)
            else:
                final = graph.invoke(start, config, durability=durability)  # type: ignore[arg-type]
            elapsed = time.perf_counter() - started
            assert final["steps"] == steps, final["steps"]
            if index:
                result.ms_per_step.append(elapsed * 1000 / steps)
                if saver is not None:
                    result.file_per_step.append((database_bytes(database) - before) / steps)
            yield
    finally:
        connection.close()


# --- the report ------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = platform.processor() or "unknown CPU"
    memory = float("nan")
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in cpuinfo
                    if line.startswith("model name")
                ),
                model,
            )
        with open("/proc/meminfo") as meminfo:
            total = next(line for line in meminfo if line.startswith("MemTotal:"))
            memory = int(total.split()[1]) / (1 << 20)
    except (OSError, StopIteration):
        pass
    versions = {}
    for package in ("dbos", "langgraph", "langgraph-checkpoint-sqlite"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:
            versions[package] = "not installed"
    return {
        "CPU": f"{os.cpu_count()} cores, {model}",
        "RAM": f"{memory:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
        **{name: value for name, value in versions.items()},
    }


def overhead(item: Measured) -> float | None:
    """Milliseconds per step that persistence adds: beyond the same loop without it."""
    return None if item.baseline is None else item.ms - item.baseline.ms


def rows(results: list[Measured]) -> tuple[list[str], list[list[str]]]:
    ours = overhead(results[0])
    headers = [
        "Target",
        "ms per step",
        "middle half of runs",
        "overhead ms per step",
        "stream bytes per step",
        "database growth per step",
        "overhead vs Wakeful",
    ]
    body = []
    for item in results:
        if item.error is not None:
            body.append([item.label, "—", "—", "—", "—", "—", item.error])
            continue
        added = overhead(item)
        ratio = ""
        if added is not None and ours and item is not results[0]:
            ratio = f"{added / ours:.1f}x"
        stream = "—" if item.bytes is None else f"{item.bytes:,.0f}"
        growth = "—" if item.file is None else f"{item.file:,.0f}"
        cost = "—" if added is None else f"{added:.3f}"
        body.append([item.label, f"{item.ms:.3f}", item.spread, cost, stream, growth, ratio])
    return headers, body


def verdict(results: list[Measured]) -> str:
    wakeful = results[0]
    ours = overhead(wakeful)
    assert ours is not None
    peers = [
        added
        for item in results[1:]
        if item.error is None and item.same_guarantee and (added := overhead(item)) is not None
    ]
    ratio = min((added / ours for added in peers), default=float("nan"))
    met = ours <= GOAL_MS and ratio >= GOAL_RATIO
    plain = next(item for item in results if item.label.startswith("Plain loop"))
    return (
        f"Overhead per persisted step: {ours:.3f} ms (goal: at most {GOAL_MS} ms); "
        f"the closest peer's with the same guarantee is {ratio:.1f} times ours "
        f"(goal: at least {GOAL_RATIO:.0f}). "
        f"Goal {'met' if met else 'not met'}. Against the plain loop instead (the agent "
        f"loop's own bookkeeping included), Wakeful adds {wakeful.ms - plain.ms:.3f} ms "
        "per step."
    )


def markdown_table(headers: list[str], body: Iterable[list[str]]) -> str:
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join([":--", *["--:"] * (len(headers) - 1)]) + " |",
    ]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


def section(results: list[Measured], command: str, steps: int, runs: int) -> str:
    headers, body = rows(results)
    facts = "\n".join(f"- {name}: {value}" for name, value in machine().items())
    notes = "\n".join(f"- {item.label}: {item.note}" for item in results)
    date = datetime.date.today().isoformat()
    return f"""{SECTION}

Measured on {date} with `{command}` on:

{facts}

{markdown_table(headers, body)}

{verdict(results)}

A {steps}-step tool loop ({steps} model calls, {steps} tool calls) with an instant scripted
model, {runs} runs per target after one warm-up run, the targets taking turns run by run
(DBOS with its own settings after the others: DBOS is one per process); the table shows
medians, and the range of the middle half of the runs. "Overhead"
is what persistence costs: the time per step beyond the same loop with persistence off
(Wakeful's agent loop on in-memory state for Wakeful, the plain loop for DBOS, whose
workflow without DBOS is that loop, and the graph without a checkpointer for LangGraph);
"overhead vs Wakeful" divides a peer's overhead by ours. "Stream bytes" are the bytes of
the entity's stream (what a reader downloads); "database growth" is the growth of the SQLite
file, indexes and bookkeeping included. Every database is in WAL mode with
`synchronous=NORMAL` (a write survives a killed process, not a power cut), as Wakeful's
is by default, except the "defaults" row: DBOS's own settings, a rollback journal with
`synchronous=FULL`.

{notes}
"""


def update_file(path: Path, text: str) -> None:
    """Replace the agent loop section of ``path`` (up to the next ``## `` heading), or add it."""
    existing = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    replacement = text.rstrip("\n") + "\n\n"
    if pattern.search(existing):
        updated = pattern.sub(lambda _: replacement, existing, count=1)
    else:
        updated = existing.rstrip("\n") + "\n\n" + replacement
    path.write_text(updated.rstrip("\n") + "\n")


Runs = Iterator[None] | AsyncIterator[None]


async def interleaved(targets: list[tuple[Measured, Callable[[], Runs]]]) -> None:
    """Run the targets' runs in turn (one run of each, then the next of each, ...), so
    that a machine getting faster or slower over the minutes affects all of them alike.
    A target whose extra is not installed gets a note instead of numbers."""
    active: list[tuple[Measured, Runs]] = []
    for item, start in targets:
        try:
            active.append((item, start()))
        except ImportError as exc:
            item.error = f"not installed ({exc.name}): pip install -e '.[bench]'"
    try:
        while active:
            for entry in list(active):
                item, runs = entry
                try:
                    if isinstance(runs, AsyncIterator):
                        await anext(runs)
                    else:
                        next(runs)
                except (StopIteration, StopAsyncIteration):
                    active.remove(entry)
                except ImportError as exc:
                    item.error = f"not installed ({exc.name}): pip install -e '.[bench]'"
                    active.remove(entry)
    finally:
        for _, runs in active:
            if isinstance(runs, AsyncIterator):
                await runs.aclose()  # type: ignore[attr-defined]
            else:
                runs.close()  # type: ignore[attr-defined]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=50, help="steps per run")
    parser.add_argument("--runs", type=int, default=7, help="measured runs per target")
    parser.add_argument("--output", type=Path, help="update the 'Agent loop' section of this file")
    args = parser.parse_args(argv)
    steps, runs = args.steps, args.runs
    wakeful_off = Measured(
        "Wakeful (persistence off)",
        "the same agent loop on in-memory state, nothing flushed or committed.",
    )
    wakeful = Measured(
        "Wakeful (SQLite)",
        "the real runtime, every step on the entity's stream.",
        baseline=wakeful_off,
    )
    plain = Measured("Plain loop (nothing persisted)", "the model and the tool, called in a loop.")
    dbos = Measured(
        "DBOS (SQLite)", "a workflow with one step per model call and tool call.", baseline=plain
    )
    dbos_defaults = Measured(
        "DBOS (SQLite, defaults)", "the same, with DBOS's own SQLite settings.", baseline=plain
    )
    graph_off = Measured(
        "LangGraph (no checkpointer)", "model and tool nodes in a cycle, nothing persisted."
    )
    graph = Measured(
        "LangGraph (SqliteSaver, durability=sync)",
        "the same graph; each checkpoint written before the next node.",
        baseline=graph_off,
    )
    graph_async = Measured(
        "LangGraph (SqliteSaver, durability=async)",
        "the same, checkpoints written while the next node runs (LangGraph's default): "
        "a tool may run before the previous step is durable, so a crash can repeat it. "
        "Not held to the goal, which asks for the same guarantee.",
        baseline=graph_off,
        same_guarantee=False,
    )
    results = [wakeful, wakeful_off, plain, dbos, dbos_defaults, graph_off, graph, graph_async]
    console = Console()
    with tempfile.TemporaryDirectory(prefix="agent-bench-") as temporary:
        directory = Path(temporary)
        with console.status("all targets, in turn"):
            asyncio.run(
                interleaved(
                    [
                        (wakeful, lambda: measure_wakeful(directory, steps, runs, wakeful)),
                        (wakeful_off, lambda: measure_wakeful_off(steps, runs, wakeful_off)),
                        (plain, lambda: measure_plain(steps, runs, plain)),
                        (dbos, lambda: measure_dbos(directory, steps, runs, dbos, tuned=True)),
                        (
                            graph_off,
                            lambda: measure_langgraph(
                                directory, steps, runs, graph_off, "off", tuned=True
                            ),
                        ),
                        (
                            graph,
                            lambda: measure_langgraph(
                                directory, steps, runs, graph, "sync", tuned=True
                            ),
                        ),
                        (
                            graph_async,
                            lambda: measure_langgraph(
                                directory, steps, runs, graph_async, "async", tuned=True
                            ),
                        ),
                    ]
                )
            )
        with console.status("DBOS with its own settings"):
            # DBOS is one per process: its second configuration runs after the others.
            asyncio.run(
                interleaved(
                    [
                        (
                            dbos_defaults,
                            lambda: measure_dbos(
                                directory, steps, runs, dbos_defaults, tuned=False
                            ),
                        )
                    ]
                )
            )
    headers, body = rows(results)
    table = Table(title=f"Agent loop: {steps} steps, median of {runs} runs", title_justify="left")
    for index, header in enumerate(headers):
        table.add_column(header, justify="left" if index == 0 else "right")
    for cells in body:
        table.add_row(*cells)
    console.print(table)
    console.print(verdict(results))
    if args.output is not None:
        command = shlex.join(["python", "bench/agent_bench.py", *argv])
        update_file(args.output, section(results, command, steps, runs))
        console.print(f"wrote the '{SECTION[3:]}' section of {args.output}")


if __name__ == "__main__":
    main(sys.argv[1:])
