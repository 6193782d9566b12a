"""The OpenAPI document as the server behaves: the refusals each operation can send,
with the one error shape, and not FastAPI's 422, which this server never sends (its
validation errors are 400s)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "additionalProperties": True,
        }
    },
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
REASONS = {
    400: "Malformed request, or arguments that do not validate",
    401: "Missing or wrong bearer token (when the server has one)",
    403: "The caller may not do this",
    404: "No such resource",
    409: "Conflicts with the current state",
    413: "Body over the size limit",
    431: "Request headers too many or too large",
}


def refusals(method: str, path: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses an operation can answer with."""
    statuses = [400, 401, 403, 431]
    if "{" in path:
        statuses.append(404)
    if "requestBody" in operation or method in ("post", "put"):
        statuses.append(413)
    if method in ("post", "put", "delete") and path.startswith("/v1/"):
        statuses.append(409)
    return sorted(statuses)


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the truthful document (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
        )
        document.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        for schema in ("HTTPValidationError", "ValidationError"):
            document["components"]["schemas"].pop(schema, None)
        for path, operations in document.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                for status in refusals(method, path, operation):
                    responses.setdefault(
                        str(status),
                        {
                            "description": REASONS[status],
                            "content": {"application/json": {"schema": ERROR_REF}},
                        },
                    )
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
