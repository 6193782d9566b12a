"""The ``useChat`` page of ``examples/frontends/`` (React and ``@ai-sdk/react``, built
with the example's pinned esbuild) in headless Chromium, against a real server: a
message sent, the page refreshed mid-answer, and the whole answer shown once."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.chat_types import STORY
from support.client_types import pythonpath
from support.servers import Server, free_port
from support.waiting import WAIT

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "frontends"


def build_example() -> None:
    """``npm run build`` of the example, when its bundle is older than its source."""
    npm = shutil.which("npm")
    if npm is None or not (EXAMPLE / "node_modules" / ".installed").exists():
        message = "the useChat example needs Node.js and its npm packages (make test installs them)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    pages = ("app", "streamdb")
    built = [EXAMPLE / "dist" / f"{name}.js" for name in pages]
    sources = [EXAMPLE / f"{name}.jsx" for name in pages] + [EXAMPLE / "stream-schema.js"]
    newest = max(source.stat().st_mtime for source in sources)
    if all(bundle.exists() and bundle.stat().st_mtime >= newest for bundle in built):
        return
    subprocess.run([npm, "run", "build"], cwd=EXAMPLE, check=True, capture_output=True)


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    build_example()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", pythonpath())
        database = str(tmp_path_factory.mktemp("frontends") / "wakeful.db")
        server = Server(database, "support.chat_types:registry").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """The example's files, served from another origin than the API (CORS is on)."""
    handler = functools.partial(_Quiet, directory=str(EXAMPLE))
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_refresh_mid_answer_shows_the_whole_answer(
    page: Any, chat_server: Server, site: str, shot: Any
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{site}/index.html?server={chat_server.url}&chat=refresh")
    page.get_by_placeholder("Say something").fill("Tell me a long story.")
    page.get_by_role("button", name="Send").click()
    assistant = page.locator("[data-role=assistant]")
    expect(assistant).to_contain_text("word3")
    assert STORY not in assistant.inner_text()  # still streaming
    shot(page, "before-refresh")

    page.reload()
    expect(page.locator("main[data-status=ready]")).to_be_visible()
    expect(page.locator("[data-role=user]")).to_have_text(["Tell me a long story."])
    expect(assistant).to_have_text([STORY], timeout=15_000)
    expect(page.locator("main")).to_have_attribute("data-status", "ready")


def test_the_stream_db_reader_shows_runs_live(
    page: Any, chat_server: Server, site: str, shot: Any
) -> None:
    from playwright.sync_api import expect

    def send(path: str, body: dict[str, Any]) -> None:
        with httpx.Client(base_url=chat_server.url, timeout=WAIT) as client:
            response = client.post(path, json=body)
            assert response.status_code in (201, 202), response.text

    send("/v1/threads", {"id": "reader", "prompt": "A story, please."})
    page.goto(f"{site}/streamdb.html?server={chat_server.url}&type=thread&id=reader")
    expect(page.locator("main[data-status=ready]")).to_be_visible()
    runs = page.locator("tr[data-run]")
    expect(runs.locator(".answer")).to_have_text([STORY], timeout=30_000)
    # A second message, sent elsewhere: its run appears in the open page, then completes.
    send("/v1/threads/reader/messages", {"content": "Another one."})
    expect(runs).to_have_count(2, timeout=30_000)
    expect(page.locator("tr[data-status=completed]")).to_have_count(2, timeout=30_000)
    shot(page, "stream-db-reader")
