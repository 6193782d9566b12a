"""The web console: one static page at ``/`` and its assets under ``/console/``.

Everything it needs ships in this package (no CDN, no build step): plain HTML, CSS and
JavaScript modules that talk to the same JSON API and streams as any other client. The
bearer-token middleware leaves these paths open, since the page itself holds no data; it
asks for the token and sends it with every request it makes.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).parent / "static"

# The page loads nothing but its own files, and talks to nothing but its own origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate on every load (cheap, with ETags) so an upgraded server never pairs
    # a new page with stale modules.
    "Cache-Control": "no-cache",
}


class ConsoleFiles(StaticFiles):
    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(SECURITY_HEADERS)
        return response


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers=SECURITY_HEADERS)


def console_routes() -> list[BaseRoute]:
    return [
        Route("/", index, methods=["GET", "HEAD"], include_in_schema=False),
        Mount("/console", app=ConsoleFiles(directory=STATIC), name="console"),
    ]
