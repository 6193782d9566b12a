"""JSON Schemas for types registered over HTTP: checked once, then applied to every input.

Python types validate with Pydantic models; a type whose handler lives elsewhere describes
its arguments and messages with plain JSON Schema instead. A schema is checked against its
meta-schema (``$schema``, or draft 2020-12 by default) when the type is registered, so a
broken schema is refused then rather than failing every later spawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, SchemaError, validators
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from referencing.exceptions import Unresolvable

from ..errors import BadRequest, InvalidSchema, brief


@dataclass(frozen=True, slots=True)
class JsonSchema:
    schema: dict[str, Any]
    validator: Validator

    @classmethod
    def compile(cls, schema: dict[str, Any], what: str) -> JsonSchema:
        """Check ``schema`` against its meta-schema; 400 ``INVALID_SCHEMA`` if it fails."""
        kind = validators.validator_for(schema, default=Draft202012Validator)
        try:
            kind.check_schema(schema)
        except SchemaError as exc:
            where = "/".join(str(part) for part in exc.path)
            detail = f" at {where}" if where else ""
            raise InvalidSchema(
                f"invalid {what}{brief(detail, 80)}: {brief(exc.message)}"
            ) from None
        return cls(schema, kind(schema))

    def validate(self, value: Any, error: type[BadRequest], what: str) -> None:
        """Raise ``error`` naming the most relevant problem when ``value`` does not fit."""
        try:
            problem = best_match(self.validator.iter_errors(value))
        except Unresolvable as exc:
            # Only references inside the schema resolve; nothing is fetched from the network.
            raise InvalidSchema(f"the {what} schema has an unresolvable $ref: {exc}") from None
        if problem is not None:
            where = problem.json_path.removeprefix("$").removeprefix(".") or what
            raise error(f"invalid {what}: {brief(where, 80)}: {brief(problem.message)}")
