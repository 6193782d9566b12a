"""Subscription configuration (validated request bodies) and the views returned to clients."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ...errors import BadRequest, ErrorCode, brief
from .. import paths
from . import webhook_urls

ID_PATTERN = re.compile(r"\A[A-Za-z0-9._~-]{1,200}\Z")
DEFAULT_LEASE_MS = 30_000


class WebhookConfig(BaseModel):
    # Clients may echo back the signing metadata we returned; it is ours, not theirs.
    model_config = ConfigDict(extra="ignore")
    url: str
    # How long one request may run before it is given up and the wake sent again under
    # a new generation; None: the lease.
    timeout_ms: int | None = Field(None, ge=1_000, le=600_000)


class SubscriptionSpec(BaseModel):
    """The body of ``PUT {stream-url}/__ds/subscriptions/:id``."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["webhook", "pull-wake"]
    pattern: str | None = None
    streams: list[str] = Field(default_factory=list)
    webhook: WebhookConfig | None = None
    wake_stream: str | None = None
    lease_ttl_ms: int = Field(DEFAULT_LEASE_MS, ge=1_000, le=600_000)
    description: str | None = Field(None, max_length=1_000)

    @model_validator(mode="after")
    def _check(self) -> SubscriptionSpec:
        if not self.pattern and not self.streams:
            raise ValueError("give a pattern, streams, or both")
        if self.pattern is not None:
            paths.validate(self.pattern.replace("**", "x").replace("*", "x"))
        self.streams = sorted({paths.validate(path) for path in self.streams})
        if self.type == "webhook":
            if self.webhook is None:
                raise ValueError("a webhook subscription needs webhook.url")
            if self.wake_stream is not None:
                raise ValueError("wake_stream is for pull-wake subscriptions")
        else:
            if self.wake_stream is None:
                raise ValueError("a pull-wake subscription needs wake_stream")
            if self.webhook is not None:
                raise ValueError("webhook is for webhook subscriptions")
            self.wake_stream = paths.validate(self.wake_stream)
        return self

    def normalized(self) -> bytes:
        dumped = self.model_dump(mode="json")
        if dumped["webhook"] is not None and dumped["webhook"]["timeout_ms"] is None:
            del dumped["webhook"]["timeout_ms"]  # as stored before there was one
        return orjson.dumps(dumped, option=orjson.OPT_SORT_KEYS)

    def config_hash(self) -> str:
        return hashlib.sha256(self.normalized()).hexdigest()

    @classmethod
    def parse(cls, body: object) -> SubscriptionSpec:
        """``body``: the request's JSON, as read by the server's one checked parser."""
        try:
            spec = cls.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            raise BadRequest(
                f"invalid subscription: {brief(where, 80)}: {brief(first['msg'])}",
                code=ErrorCode.INVALID_SUBSCRIPTION,
            ) from None
        if spec.webhook is not None:
            webhook_urls.validate(spec.webhook.url)
        return spec


def validate_id(subscription_id: str) -> str:
    if ID_PATTERN.match(subscription_id) is None:
        raise BadRequest(
            "subscription id must be 1-200 characters of letters, digits, '.', '_', '~', '-'",
            code=ErrorCode.INVALID_SUBSCRIPTION_ID,
        )
    return subscription_id


@dataclass(slots=True)
class Link:
    """One stream a subscription follows, with the cursor and the stream's tail."""

    path: str
    explicit: bool
    glob: bool
    acked: int
    tail: int
    #: False when the stream is missing or deleted: there is nothing to read, and acks
    #: for what a worker read before the delete are clamped rather than refused.
    exists: bool = True

    @property
    def link_type(self) -> str:
        return "explicit" if self.explicit else "glob"

    @property
    def pending(self) -> bool:
        return self.tail > self.acked


@dataclass(slots=True)
class SubscriptionRow:
    """A subscription's stored state: configuration plus the wake / lease state machine."""

    id: str
    spec: SubscriptionSpec
    config_hash: str
    base_url: str
    created_at: float
    generation: int = 0
    wake_id: str | None = None
    holder: str | None = None
    lease_expires_at: float | None = None
    next_attempt_at: float | None = None
    attempts: int = 0
    last_error: str | None = None
    links: list[Link] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "failed" if self.attempts > 0 else "active"

    @property
    def lease_seconds(self) -> float:
        return self.spec.lease_ttl_ms / 1000


@dataclass(frozen=True, slots=True)
class Ack:
    stream: str
    position: int


@dataclass(frozen=True, slots=True)
class WakeRequest:
    """A callback, ack or release: which wake it speaks for, and what it acknowledges."""

    wake_id: str
    generation: int
    acks: tuple[Ack, ...] = ()
    done: bool = False


@dataclass(frozen=True, slots=True)
class Claimed:
    row: SubscriptionRow
    token: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """A webhook wake to send: the snapshot of streams it announces."""

    row: SubscriptionRow
    token: str
