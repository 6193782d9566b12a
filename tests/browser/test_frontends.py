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

import pytest
from support.chat_types import STORY
from support.client_types import pythonpath
from support.servers import Server, free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "frontends"


def build_example() -> None:
    """``npm run build`` of the example, when its bundle is older than its source."""
    npm = shutil.which("npm")
    if npm is None or not (EXAMPLE / "node_modules" / ".installed").exists():
        message = "the useChat example needs Node.js and its npm packages (make test installs them)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    bundle = EXAMPLE / "dist" / "app.js"
    if bundle.exists() and bundle.stat().st_mtime >= (EXAMPLE / "app.jsx").stat().st_mtime:
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
