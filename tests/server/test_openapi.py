"""The OpenAPI document says what the server sends: no 422 (never sent), and the
refusals each operation can answer with, in the one error shape."""

from __future__ import annotations

import httpx


async def test_no_422_and_refusals_documented(asgi_client: httpx.AsyncClient) -> None:
    document = (await asgi_client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    operations = [
        (path, method, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    assert operations
    for path, method, operation in operations:
        responses = operation["responses"]
        assert "422" not in responses, (method, path)
        for status in ("400", "431"):
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        if "requestBody" in operation:
            assert "413" in responses, (method, path)


async def test_documented_400_is_what_validation_sends(asgi_client: httpx.AsyncClient) -> None:
    """A body that does not validate gets the documented 400, never the 422 FastAPI
    would document by default."""
    reply = await asgi_client.post("/v1/types", json={"name": 5})
    assert reply.status_code == 400
    assert set(reply.json()) == {"error"}
