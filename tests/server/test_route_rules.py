"""The table of who may call what (``server.route_rules``) matches the app's real routes,
and docs/security.md shows exactly that table, so neither can drift from the code."""

from __future__ import annotations

from pathlib import Path

from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from wakeful import Settings, create_app
from wakeful.entities.definition import Registry
from wakeful.server.route_rules import ROUTES, route_table
from wakeful.threads import define_thread

DOCS = Path(__file__).resolve().parents[2] / "docs" / "security.md"
# Methods every route answers the same way for everyone: a preflight, or 405.
UNGUARDED = {"OPTIONS", "PATCH", "TRACE", "CONNECT"}


def app_routes(tmp_path: Path) -> set[tuple[str, str]]:
    registry = Registry()
    define_thread(registry)
    app = create_app(Settings(database=str(tmp_path / "db")), registry)
    # The JSON API's routes, as its schema lists them (every one is in it) ...
    found = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    # ... and the rest, mounted as plain routes: streams, control API, console, docs.
    for route in app.routes:
        if isinstance(route, Mount):
            found.add(("GET", f"{route.path}/{{path}}"))
        elif isinstance(route, Route) and not isinstance(route, APIRoute):
            path = route.path.replace("{path:path}", "{path}")
            found |= {(method, path) for method in (route.methods or set()) - UNGUARDED}
    return found


def test_every_route_has_a_rule_and_every_rule_a_route(tmp_path: Path) -> None:
    found = app_routes(tmp_path)
    # HEAD beside GET is the same read everywhere; the table names it only for streams.
    listed = set(ROUTES)
    missing = {route for route in found - listed if route[0] != "HEAD"}
    assert not missing, f"routes without an access rule: {sorted(missing)}"
    stale = listed - found
    assert not stale, f"rules for routes that do not exist: {sorted(stale)}"


def test_the_security_doc_shows_the_table() -> None:
    assert route_table() in DOCS.read_text(), "regenerate the table in docs/security.md"
