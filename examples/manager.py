"""A manager that splits a question among workers and combines their answers.

Each worker is a child entity running its own agent; the manager is woken when each
child's run finishes (``child_status`` with its response) and answers once all are in.

    POST /v1/entities/manager {"message": "Compare Paris, London and Tokyo"}
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from wakeful import Context, Registry, Wake


class Job(BaseModel):
    id: str
    question: str
    workers: list[str]
    answers: dict[str, str] = {}
    summary: str | None = None


def split(question: str) -> list[str]:
    """The parts a question names ("Paris, London and Tokyo"), or the question itself."""
    topic = re.sub(r"^\s*(compare|contrast)\s+", "", question, flags=re.IGNORECASE)
    parts = [part.strip() for part in re.split(r",|\band\b", topic) if part.strip()]
    return parts if len(parts) > 1 else [question]


async def manager(ctx: Context, wake: Wake) -> None:
    """Spawns one worker per part of each question; answers when all have finished."""
    jobs = ctx.state.jobs
    for message in wake.messages:
        question = str(message.payload)
        workers = [
            ctx.spawn("worker", args={"topic": part}, message=f"Tell me briefly about {part}.")
            for part in split(question)
        ]
        jobs.insert(Job(id=message.id, question=question, workers=workers))
    for child in wake.children:
        for job in jobs.all():
            if child.url in job.workers and child.url not in job.answers:
                answers = {**job.answers, child.url: str(child.response or child.error or "")}
                summary = None
                if len(answers) == len(job.workers):
                    summary = "\n".join(f"- {answers[url]}" for url in job.workers)
                    ctx.complete(summary)
                jobs.update(job.model_copy(update={"answers": answers, "summary": summary}))


class WorkerArgs(BaseModel):
    topic: str


async def worker(ctx: Context, wake: Wake) -> None:
    """Answers one part with its own agent run; the run's end reports to the manager."""
    ctx.use_agent(system=f"Answer in one sentence about {ctx.args.topic}.")
    await ctx.agent.run()


def register(registry: Registry) -> None:
    registry.define("manager", manager, state={"jobs": Job})
    registry.define("worker", worker, args=WorkerArgs)


registry = Registry()
register(registry)
