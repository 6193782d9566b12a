"""A Registry's handler in a web app, woken by the server's signed webhooks.

A real ``wakeful serve`` sends each wake of a remote type to a uvicorn process hosting
``wake_app`` (:mod:`serverless.webhook_app`); the pass runs there over HTTP only. Both
modes; a wake sent while the app is down is handled once it is back; a POST without the
server's signature is refused.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from support.servers import Server, Subprocess, free_port
from support.waiting import eventually
from support.workers import TESTS


class App(Subprocess):
    def __init__(self, server: str, mode: str) -> None:
        super().__init__()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
            "WAKEFUL_SERVER": server,
            "WAKEFUL_WAKE_MODE": mode,
        }

    def start(self) -> App:
        command = [sys.executable, "-m", "uvicorn", "serverless.webhook_app:app"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=self.env
        )
        return self


async def _seen(client: httpx.AsyncClient, server: Server, entity: str) -> list[dict[str, Any]]:
    response = await client.get(server.stream(f"hooked/{entity}/main"), params={"offset": "-1"})
    return [event["value"] for event in response.json() if event["type"] == "state:seen"]


@pytest.mark.parametrize("mode", ["request", "background"])
async def test_a_web_app_runs_the_handler_of_each_wake_once(
    fresh_database: Callable[[], str], mode: str
) -> None:
    server = Server(fresh_database(), "--long-poll-timeout", "1").start()
    app = App(server.url, mode)
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            registered = await client.post(
                f"{server.url}/v1/types",
                json={"name": "hooked", "webhook": {"url": f"{app.url}/"}, "lease_seconds": 2},
            )
            assert registered.status_code == 201, registered.text
            # The app is down: the wake waits, and is delivered once the app is up.
            spawned = await client.post(
                f"{server.url}/v1/entities/hooked", json={"id": "a", "message": "m0"}
            )
            assert spawned.status_code == 201, spawned.text
            await asyncio.sleep(1.0)
            app.start()
            await eventually(lambda: _seen(client, server, "a"), within=60, what="m0 handled")
            for n in range(1, 4):
                response = await client.post(
                    f"{server.url}/v1/entities/hooked/a/messages", json={"payload": f"m{n}"}
                )
                assert response.status_code in (200, 201, 202), response.text

            async def all_seen() -> list[dict[str, Any]] | None:
                rows = await _seen(client, server, "a")
                return rows if len(rows) >= 4 else None

            rows = await eventually(all_seen, within=60, what="every message handled")
            await asyncio.sleep(1.0)  # nothing more lands: each message once
            rows = await _seen(client, server, "a")
            assert sorted(row["payload"] for row in rows) == ["m0", "m1", "m2", "m3"]
            assert {row["pid"] for row in rows} == {app.process.pid if app.process else 0}

            unsigned = await client.post(f"{app.url}/", json={"subscription_id": "e~hooked~a"})
            assert unsigned.status_code == 401, unsigned.text
    finally:
        app.stop()
        server.stop()
