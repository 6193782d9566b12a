"""Remote types: entity types whose handler is an outside HTTP service.

An entity of a remote type lives exactly like any other (its stream, its inbox, its
children), but no worker here runs it: each wake is a signed webhook to the type's URL.
The service reads the entity's stream with the Durable Streams protocol, appends what it
produced (``state:<name>`` rows, a ``child_status`` for a waiting parent, ...) and acks the
wake through the callback it was given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import InvalidArguments, InvalidMessage, NoPublicURL
from ..streams.subscriptions import webhook_urls
from .addressing import Address, check_type
from .json_schema import JsonSchema
from .subscription import EntitySubscription, webhook


class WebhookTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        ...,
        description="Where wakes are POSTed: https, or http to localhost / 127.0.0.x.",
        examples=["https://agents.example.com/wake"],
    )


class RemoteTypeSpec(BaseModel):
    """What a client registers, and what is stored on the types stream."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., description="1-64 lowercase letters, digits, '_' or '-'.")
    description: str = Field("", max_length=1_000)
    webhook: WebhookTarget
    args_schema: dict[str, Any] | None = Field(
        None, description="JSON Schema that spawn arguments must satisfy."
    )
    inbox_schema: dict[str, Any] | None = Field(
        None, description="JSON Schema that every inbox message must satisfy."
    )
    lease_seconds: float = Field(
        30.0, ge=1, le=600, description="How long the service has to ack a wake before a retry."
    )
    request_timeout_seconds: float | None = Field(
        None,
        ge=1,
        le=600,
        description=(
            "How long one wake request may run before it is given up and the wake sent"
            " again under a new generation (which fences the first one's appends and"
            " acks). Defaults to the lease."
        ),
    )


@dataclass(frozen=True, slots=True)
class RemoteType:
    spec: RemoteTypeSpec
    args: JsonSchema | None
    inbox: JsonSchema | None
    # This server's streams root, where webhook callbacks go; None when it has no public URL.
    callback_root: str | None

    @classmethod
    def build(cls, spec: RemoteTypeSpec, callback_root: str | None) -> RemoteType:
        """Check the name, the URL and the schemas; each failure is a 400 with a message."""
        check_type(spec.name)
        webhook_urls.validate(spec.webhook.url)
        args = JsonSchema.compile(spec.args_schema, "args schema") if spec.args_schema else None
        inbox = JsonSchema.compile(spec.inbox_schema, "inbox schema") if spec.inbox_schema else None
        return cls(spec, args, inbox, callback_root)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def lease_seconds(self) -> float:
        return self.spec.lease_seconds

    def validate_args(self, raw: Any) -> Any:
        value = raw if raw is not None else {}
        if self.args is not None:
            self.args.validate(value, InvalidArguments, "args")
        return value

    def validate_message(self, raw: Any) -> Any:
        if self.inbox is not None:
            self.inbox.validate(raw, InvalidMessage, "message")
        return raw

    def subscription(self, address: Address) -> EntitySubscription:
        if self.callback_root is None:
            raise NoPublicURL(
                f"entities of the remote type {self.name!r} need a server that knows its public"
                " URL for webhook callbacks: set --public-url (or WAKEFUL_PUBLIC_URL)"
            )
        return webhook(
            address,
            self.spec.webhook.url,
            self.callback_root,
            self.lease_seconds,
            self.spec.request_timeout_seconds,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "remote",
            "description": self.spec.description,
            "state": {},
            "args_schema": self.spec.args_schema,
            "inbox_schema": self.spec.inbox_schema,
            "webhook": {"url": self.spec.webhook.url},
            "lease_seconds": self.lease_seconds,
            "request_timeout_seconds": self.spec.request_timeout_seconds,
        }
