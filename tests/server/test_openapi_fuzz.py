"""Fuzzing the API from its own ``/openapi.json`` (schemathesis) against a real server: no
answer is a 5xx, and every status answered is one the document lists for the operation.

Bounded so the suite stays fast: a few derandomized examples per operation."""

from __future__ import annotations

import schemathesis
from hypothesis import given
from schemathesis.specs.openapi.checks import status_code_conformance
from support.fuzzing import bounded
from support.servers import Server


def test_api_answers_as_documented(module_server: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{module_server.url}/openapi.json")
    seen = 0
    statuses: list[int] = []
    for found in schema.get_all_operations():
        operation = found.ok()
        seen += 1

        @given(case=operation.as_strategy())
        @bounded(5)
        def check(case: schemathesis.Case) -> None:
            response = case.call(timeout=10)
            statuses.append(response.status_code)
            assert response.status_code < 500, (case.method, case.path, response.text[:300])
            case.validate_response(response, checks=(status_code_conformance,))

        check()
    assert seen > 10 and len(statuses) >= 2 * seen
    assert any(status < 300 for status in statuses)  # not only refusals
