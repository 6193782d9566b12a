"""Benchmark one pydantic-ai agent plain, durable on Wakeful, and under pydantic-ai's DBOS
integration.

The agent is the same in every target: pydantic-ai's ``FunctionModel`` as an instant
scripted model that calls one trivial tool at each of its first ``steps - 1`` requests and
answers at the last, so a run is ``steps`` model requests and ``steps - 1`` tool calls.

* plain: ``agent.run(...)``, nothing persisted;
* Wakeful: ``WakefulAgent(agent).run(ctx)`` in an entity handler of the real runtime on
  SQLite (``synchronous=NORMAL``, as ``wakeful serve`` runs it): every step and tool call
  on the entity's stream, each response and result recorded;
* DBOS: the agent with pydantic-ai's ``DBOSDurability()`` capability, run in a
  ``@DBOS.workflow`` on a SQLite system database (WAL, ``synchronous=NORMAL``):
  each model request and tool call a DBOS step.

Milliseconds per step are a run's time divided by its steps (the median of the runs);
the durable overhead is that beyond the plain run. Bytes per step are what one run added,
divided by its steps: the entity's stream (Wakeful), and for both the growth of the
database file (its WAL checkpointed into it first). The targets take turns, one run
each, so that the machine's load weighs on all of them alike. DBOS needs
``pip install -e '.[bench]'``; without it its row says so.

Usage: python bench/pydantic_ai_bench.py [--steps 50] [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_bench import database_bytes, dbos_engine, interleaved, run_bytes, runtime
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from rich.console import Console
from rich.table import Table

from wakeful import Context, Registry, Wake, WakefulAgent


def make_agent(steps: int, name: str = "bench", capabilities: Any = ()) -> Agent[None, str]:
    def script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        done = sum(isinstance(message, ModelResponse) for message in messages)
        if done < steps - 1:
            return ModelResponse(parts=[ToolCallPart("tick", {"n": done})])
        return ModelResponse(parts=[TextPart("Done.")])

    agent = Agent(FunctionModel(script), name=name, capabilities=list(capabilities))

    @agent.tool_plain
    def tick(n: int) -> int:
        """Count one up."""
        return n + 1

    return agent


@dataclass
class Measured:
    label: str
    note: str
    ms_per_step: list[float] = field(default_factory=list)
    stream_per_step: list[float] = field(default_factory=list)
    file_per_step: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def ms(self) -> float:
        return statistics.median(self.ms_per_step)


async def measure_plain(steps: int, runs: int, result: Measured) -> AsyncIterator[None]:
    agent = make_agent(steps)
    for index in range(runs + 1):  # the first one warms up
        started = time.perf_counter()
        outcome = await agent.run("Go.")
        elapsed = time.perf_counter() - started
        assert outcome.output == "Done."
        if index:
            result.ms_per_step.append(elapsed * 1000 / steps)
        yield


async def measure_wakeful(
    directory: Path, steps: int, runs: int, result: Measured
) -> AsyncIterator[None]:
    durable = WakefulAgent(make_agent(steps))
    timings: dict[str, float] = {}
    finished = asyncio.Event()

    async def handler(ctx: Context, wake: Wake) -> None:
        started = time.perf_counter()
        outcome = await durable.run(ctx)
        timings[ctx.url] = time.perf_counter() - started
        finished.set()
        assert (outcome.status, outcome.steps) == ("completed", steps), outcome

    registry = Registry()
    registry.define("bench", handler)
    database = directory / "wakeful.db"
    async with runtime(database, registry) as (storage, service):
        for index in range(runs + 1):
            file_before = database_bytes(database)
            url = (await service.spawn("bench", f"run{index}", message="Go.")).url
            while url not in timings:
                finished.clear()
                await asyncio.wait_for(finished.wait(), 120)
            if index:
                result.ms_per_step.append(timings[url] * 1000 / steps)
                result.stream_per_step.append(await run_bytes(storage, url) / steps)
                result.file_per_step.append((database_bytes(database) - file_before) / steps)
            yield


async def measure_dbos(directory: Path, steps: int, runs: int, result: Measured) -> None:
    try:
        from dbos import DBOS
        from pydantic_ai.durable_exec.dbos import DBOSDurability
    except ImportError as exc:
        result.error = f"not installed ({exc.name}): pip install -e '.[bench]'"
        return
    database = directory / "dbos.db"
    url = f"sqlite:///{database}"
    engine = dbos_engine(url)

    config: Any = {
        "name": "pydantic-ai-bench",
        "system_database_url": url,
        "system_database_engine": engine,
        "log_level": "ERROR",
    }
    DBOS.destroy(destroy_registry=True)
    DBOS(config=config)
    agent = make_agent(steps, name="dbos_bench", capabilities=[DBOSDurability()])

    @DBOS.workflow()
    async def durable(prompt: str) -> str:
        return (await agent.run(prompt)).output

    DBOS.launch()
    try:
        for index in range(runs + 1):
            before = database_bytes(database)
            started = time.perf_counter()
            output = await durable("Go.")
            elapsed = time.perf_counter() - started
            assert output == "Done."
            if index:
                result.ms_per_step.append(elapsed * 1000 / steps)
                result.file_per_step.append((database_bytes(database) - before) / steps)
            yield
    finally:
        DBOS.destroy(destroy_registry=True)
        engine.dispose()


def table(results: list[Measured], plain: Measured, steps: int, runs: int) -> Table:
    shown = Table(title=f"one pydantic-ai agent, {steps} steps, median of {runs} runs")
    for column in ("target", "ms / step", "durable overhead ms / step", "stream B / step"):
        shown.add_column(column, justify="left" if column == "target" else "right")
    shown.add_column("database B / step", justify="right")
    shown.add_column("what", justify="left")
    for result in results:
        if result.error is not None:
            shown.add_row(result.label, "—", "—", "—", "—", result.error)
            continue
        overhead = "—" if result is plain else f"{result.ms - plain.ms:.3f}"
        stream = (
            f"{statistics.median(result.stream_per_step):,.0f}" if result.stream_per_step else "—"
        )
        file = f"{statistics.median(result.file_per_step):,.0f}" if result.file_per_step else "—"
        shown.add_row(result.label, f"{result.ms:.3f}", overhead, stream, file, result.note)
    return shown


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args()
    steps, runs = options.steps, options.runs
    plain = Measured("plain pydantic-ai", "agent.run, nothing persisted")
    wakeful = Measured("Wakeful (SQLite)", "WakefulAgent(agent).run(ctx) in a handler")
    dbos = Measured("DBOS (SQLite)", "agent.run in a DBOS workflow, DBOSDurability()")
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        # One run of each in turn, so that the machine's load affects them alike.
        await interleaved(
            [
                (plain, lambda: measure_plain(steps, runs, plain)),
                (wakeful, lambda: measure_wakeful(directory, steps, runs, wakeful)),
                (dbos, lambda: measure_dbos(directory, steps, runs, dbos)),
            ]
        )
    Console(width=160).print(table([plain, wakeful, dbos], plain, steps, runs))


if __name__ == "__main__":
    asyncio.run(main())
