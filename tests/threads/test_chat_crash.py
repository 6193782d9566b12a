"""``kill -9`` of the server mid-answer: a page that reattaches to the chat on the
restarted server gets the whole answer once, with what the dead server had streamed of
the cut step taken back (``reset-step``), as the AI SDK itself assembles it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.chat_types import STORY
from support.client_types import pythonpath
from support.servers import Server

from .support import run_script

REGISTRY = "support.chat_types:registry"


@pytest.fixture
def start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[type[Server]]:
    monkeypatch.setenv("PYTHONPATH", pythonpath())
    started: list[Server] = []

    class Started(Server):
        def start(self) -> Server:
            started.append(self)
            return super().start()

    yield Started
    for server in started:
        server.stop()


@pytest.mark.parametrize("seed", [1, 2])
async def test_kill_9_mid_answer_then_reattach(
    start: type[Server], tmp_path: Path, seed: int
) -> None:
    database = str(tmp_path / "wakeful.db")
    first = start(database, REGISTRY).start()
    kill_after = random.Random(seed).randint(1, 30)  # text deltas seen before the kill
    body = {
        "id": "crash",
        "trigger": "submit-message",
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "go"}]}],
    }
    seen = 0
    async with (
        httpx.AsyncClient(timeout=10) as client,
        client.stream("POST", f"{first.url}/v1/chat", json=body) as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            seen += '"text-delta"' in line
            if seen >= kill_after:
                first.kill()
                break
    assert seen >= kill_after, f"the answer ended before {kill_after} deltas: {first.output()}"

    second = start(database, REGISTRY).start()
    found = await run_script("ai-sdk-chat.mjs", "reattach", second.url, "crash")
    messages = found["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"], (kill_after, found)
    texts = [part["text"] for part in messages[1]["parts"] if part["type"] == "text"]
    assert texts == [STORY], (kill_after, found)
    assert found["status"] == "ready"
    async with httpx.AsyncClient(timeout=10) as client:
        held = (await client.get(f"{second.url}/v1/threads/crash/messages")).json()
    assert [m["content"] for m in held if m["role"] == "user"] == ["go"]
    kept = [m for m in held if m["role"] == "assistant" and m["status"] == "complete"]
    assert [m["content"] for m in kept] == [STORY]
