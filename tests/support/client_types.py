"""Entity types the client and CLI tests load into a ``wakeful serve`` subprocess
(as ``support.client_types:registry``, with ``tests/`` on ``PYTHONPATH``).

* ``note``: keeps every inbox message and every custom signal as state rows, so a test
  can check that what it sent arrived, exactly once.
* ``thread``: the built-in chat thread on the offline demo model, with a plain tool, a
  tool that needs approval and a tool whose result comes from outside.
* ``slow``: an agent whose scripted model streams a long answer word by word, slowly, so
  that a test can kill the server while text is still streaming. Its short lease lets a
  restarted server take it over within seconds of a ``kill -9``.

:func:`serve` starts ``wakeful serve support.client_types:registry`` as a subprocess.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from support.servers import Server
from wakeful.agent.models import DemoModel, Response, TestModel
from wakeful.agent.tools import tool
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake
from wakeful.threads import ThreadConfig, define_thread

T = TypeVar("T")
TESTS = Path(__file__).resolve().parents[1]
REGISTRY = "support.client_types:registry"

registry = Registry()


class NoteArgs(BaseModel):
    title: str = "untitled"


class Note(BaseModel):
    id: str
    payload: Any
    sender: str | None = None


class Received(BaseModel):
    id: str
    name: str
    payload: Any = None


@registry.entity(
    "note",
    description="Keeps the messages and custom signals it receives.",
    state={"notes": Note, "signals": Received},
    args=NoteArgs,
)
async def note(ctx: Context, wake: Wake) -> None:
    for message in wake.messages:
        ctx.state.notes.insert(Note(id=message.id, payload=message.payload, sender=message.sender))
    for signal in wake.signals:
        ctx.state.signals.insert(Received(id=signal.id, name=signal.name, payload=signal.payload))


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


@tool(kind="approval")
def delete_file(path: str) -> str:
    """Delete a file (needs a person's approval)."""
    return f"deleted {path}"


@tool(kind="async")
def ask_human(question: str) -> str:
    """Ask a person; the answer arrives later through the API."""
    raise AssertionError("an async tool's result comes from outside")


define_thread(
    registry,
    "thread",
    ThreadConfig(model=DemoModel(), tools=[get_weather, delete_file, ask_human]),
)

SLOW_WORDS = 120
SLOW_TEXT = " ".join(f"word{i}" for i in range(SLOW_WORDS))
SLOW_MODEL = TestModel(itertools.cycle([Response(text=SLOW_TEXT, delay=0.02)]))


@registry.entity("slow", description="Answers slowly, word by word.", lease_seconds=2)
async def slow(ctx: Context, wake: Wake) -> None:
    await ctx.use_agent(SLOW_MODEL, system=None).run()


def pythonpath() -> str:
    """PYTHONPATH for a subprocess that must import this module."""
    return os.pathsep.join([str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])])


def serve(database: str, *options: str, port: int | None = None) -> Server:
    """A running ``wakeful serve support.client_types:registry`` (on ``port``, to restart one)."""
    server = Server(database, REGISTRY, "--long-poll-timeout", "1", *options)
    if port is not None:
        server.port, server.url = port, f"http://127.0.0.1:{port}"
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = pythonpath()
    try:
        return server.start()
    finally:
        if previous is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = previous


def stream_messages(server: Server, url: str) -> list[dict[str, Any]]:
    """Every message of an entity's stream, read with plain HTTP (not the client)."""
    messages: list[dict[str, Any]] = []
    offset = "-1"
    while True:
        response = httpx.get(server.stream(f"{url.strip('/')}/main"), params={"offset": offset})
        response.raise_for_status()
        messages.extend(response.json())
        offset = response.headers["Stream-Next-Offset"]
        if response.headers.get("Stream-Up-To-Date") == "true":
            return messages
