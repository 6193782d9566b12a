"""What the agent chaos tests check, whichever process ran the agents: a worker on the
database, or an HTTP-only worker (see :mod:`agent.agent_chaos_types`).

:func:`inspect` reads the agents' streams and the files their tools wrote, and lists
every violation of the promises of docs/entities.md, "Exactly once": every run completed
with every step, a step cut short superseded, a completed tool call never run again, a
side effect applied exactly once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent import agent_chaos_types as chaos

from wakeful.agent.records import Rows
from wakeful.state import StateStore

from .workers import lines


@dataclass
class Agent:
    url: str
    store: StateStore
    events: list[dict[str, Any]]

    @property
    def rows(self) -> Rows:
        return Rows(self.store)

    @property
    def messages(self) -> int:
        return len(self.store.collection("inbox"))

    def finished(self) -> bool:
        """Every message has its run, and every run is completed."""
        runs = self.rows.runs()
        return len(runs) == self.messages and all(r.status == "completed" for r in runs)


@dataclass
class Findings:
    violations: list[str] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)


def inspect(agents: list[Agent], directory: Path) -> Findings:
    found = Findings()
    bad, stats = found.violations.append, found.stats
    effects = Counter(lines(directory / "effects.log"))
    reached = Counter(lines(directory / "reached.log"))
    executions: dict[str, list[int]] = defaultdict(list)
    tools: dict[str, str] = {}
    for line in lines(directory / "executions.log"):
        name, key, attempt = line.split(" ")
        executions[key].append(int(attempt))
        tools[key] = name
    known: set[str] = set()

    for agent in agents:
        url, rows = agent.url, agent.rows
        if not agent.finished():
            bad(f"{url}: runs {[r.status for r in rows.runs()]} for {agent.messages} messages")
        for error in agent.store.collection("error"):
            bad(f"{url}: error event {error}")
        for run in rows.runs():
            steps = rows.steps(run.id)
            completed = [step for step in steps if step.status == "completed"]
            if [step.index for step in steps] != list(range(len(steps))):
                bad(f"{url}: steps of run {run.id} are not numbered in order")
            if len(completed) != chaos.STEPS + 1 or run.steps != chaos.STEPS + 1:
                bad(f"{url}: run {run.id} completed {len(completed)} steps")
            for step in steps:
                text = rows.text(step.id)
                if step.status == "superseded":
                    stats["superseded steps"] += 1
                    if text is not None:
                        stats["superseded partial texts"] += 1
                        if text.status != "superseded":
                            bad(f"{url}: superseded step {step.id} has text {text}")
                elif step.status != "completed":
                    bad(f"{url}: step {step.id} is {step.status}")
            for step in completed[:-1]:
                calls = rows.calls(step.id)
                if sorted(call.name for call in calls) != ["effect", "once"]:
                    bad(f"{url}: step {step.id} has calls {calls}")
        # A completed call never changes again (it never ran again).
        done_at: dict[str, int] = {}
        for position, event in enumerate(agent.events):
            if event.get("type") != "tool_call":
                continue
            if event["key"] in done_at:
                bad(f"{url}: tool call {event['key']} changed after it completed")
            if event["value"]["status"] in ("completed", "failed"):
                done_at[event["key"]] = position

        for _, call in agent.store.collection("tool_call").items():
            stats["calls"] += 1
            key = f"{url}:{call['run_id']}:{call['id']}"
            known.add(key)
            if call.get("idempotency_key") != key:
                bad(f"{url}: call {call['id']} has key {call.get('idempotency_key')}")
            runs, attempts, status = executions.get(key, []), int(call["attempts"]), call["status"]
            if len(set(runs)) != len(runs) or any(n < 1 or n > attempts for n in runs):
                bad(f"{key}: executions with attempts {runs}, the stream says {attempts}")
            if reached[key] > len(runs):
                bad(f"{key}: reached its side effect {reached[key]}x in {len(runs)} executions")
            if len(runs) > 1:
                stats["calls run again after a kill"] += 1
            if call["name"] == "once":
                if len(runs) > 1 or attempts > 1:
                    bad(f"{key}: a single-attempt call ran {len(runs)}x ({attempts} attempts)")
                if status == "failed":
                    stats["single-attempt calls failed by a kill"] += 1
                    if call.get("error") != "interrupted, and out of attempts":
                        bad(f"{key}: failed with {call.get('error')}")
                    if effects[key] > 1:
                        bad(f"{key}: side effect applied {effects[key]}x")
                    continue
            elif attempts > chaos.EFFECT_ATTEMPTS:
                bad(f"{key}: {attempts} attempts, more than its policy allows")
            if status != "completed":
                bad(f"{key}: {call['name']} call is {status}: {call.get('error')}")
            elif effects[key] != 1:
                bad(f"{key}: completed, side effect applied {effects[key]}x")
            if reached[key] > 1:
                stats["side effects reached twice (applied once)"] += 1
        stats["runs"] += len(rows.runs())
    if unknown := set(effects) - known:
        bad(f"side effects of calls no stream has: {sorted(unknown)[:3]}")
    if unknown := set(executions) - known:
        bad(f"executions of calls no stream has: {sorted(unknown)[:3]}")
    return found
