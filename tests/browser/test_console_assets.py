"""The console's files as the server serves them: no browser needed.

Every module the page imports must be served (and so shipped in the package), nothing may
come from another origin, and the page stays reachable when a token guards the API.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from wakeful import Settings, create_app
from wakeful.server.console import STATIC

IMPORT = re.compile(r"""^\s*import\s.*?from\s+["'](?P<path>[^"']+)["'];?\s*$""", re.MULTILINE)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database=str(tmp_path / "wakeful.db"), token="secret"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wakeful.test") as c:
            yield c


async def test_the_page_and_its_assets_are_open_while_the_api_is_not(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert 'src="console/js/app.js"' in page.text

    script = await client.get("/console/js/app.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert script.headers["cache-control"] == "no-cache"
    style = await client.get("/console/console.css")
    assert style.status_code == 200
    assert style.headers["content-type"].startswith("text/css")

    assert (await client.get("/v1/types")).status_code == 401
    # The open prefix does not open the rest of the package.
    assert (await client.get("/console/%2e%2e/__init__.py")).status_code == 404


async def test_every_imported_module_is_served(client: httpx.AsyncClient) -> None:
    pending = ["js/app.js"]
    served: set[str] = set()
    while pending:
        path = pending.pop()
        if path in served:
            continue
        response = await client.get(f"/console/{path}")
        assert response.status_code == 200, path
        served.add(path)
        for match in IMPORT.finditer(response.text):
            target = (Path(path).parent / match["path"]).as_posix()
            pending.append(str(Path(target)))
    on_disk = {path.relative_to(STATIC).as_posix() for path in STATIC.rglob("*.js")}
    assert served == on_disk


def test_nothing_is_loaded_from_elsewhere() -> None:
    for path in STATIC.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text), path
            assert not re.search(r"""(?:from|import)\s*\(?\s*["'](?:https?:)?//""", text), path
            assert "@import" not in text, path
