"""Fixtures for the console's browser tests: a real ``wakeful serve`` with the test types,
and Debian's headless Chromium driven by Playwright.

Without ``/usr/bin/chromium`` (or without Playwright) the tests skip and say how to enable
them, except under ``CI=true``, where a missing browser is a failure. Playwright's own
browser downloads are never used.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from support.servers import Server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TESTS = Path(__file__).resolve().parents[1]
ARTIFACTS = TESTS.parent / "test-artifacts" / "browser"
REGISTRY = "browser.console_types:registry"
TOKEN = "console-test-token"
# Live reads end this often, so every test also exercises resuming a stream at its offset.
SSE_SECONDS = "4"


def require_browser() -> None:
    missing = []
    if not CHROMIUM.exists():
        missing.append("Chromium at /usr/bin/chromium (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright for Python (pip install -e '.[dev]')")
    if not missing:
        return
    message = "browser tests need " + " and ".join(missing)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def start_server(directory: Path, *options: str) -> Server:
    with pytest.MonkeyPatch.context() as patch:
        paths = [str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])]
        patch.setenv("PYTHONPATH", os.pathsep.join(paths))
        return Server(
            str(directory / "wakeful.db"), REGISTRY, "--sse-max-seconds", SSE_SECONDS, *options
        ).start()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_browser()
    running = start_server(tmp_path_factory.mktemp("console"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_browser()
    running = start_server(tmp_path_factory.mktemp("console-token"), "--token", TOKEN)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context (empty local storage) per test. Its last screen is kept
    under ``test-artifacts/browser/``, and an uncaught script error fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 820})
    opened = context.new_page()
    errors: list[Any] = []
    opened.on("pageerror", lambda error: errors.append(error))
    yield opened
    opened.screenshot(path=artifact(request.node.name))
    context.close()
    assert not errors, f"script errors in the page: {errors}"


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Any:
    """``shot(page, "label")`` saves a screenshot named after the test and the label."""

    def take(target: Page, label: str) -> None:
        target.screenshot(path=artifact(f"{request.node.name}-{label}"))

    return take
