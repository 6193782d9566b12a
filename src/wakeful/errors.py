"""The errors Wakeful raises: one code vocabulary, one exception class per kind of refusal.

Every error is a :class:`WakefulError` with a machine-readable :class:`ErrorCode` and a
message. The classes say *what went wrong* (a stream that does not exist, a fenced
writer, a stale producer epoch), never how it travels: the HTTP layer maps a class to a
status and to the one error shape ``{"error": {"code", "message"}}``, and the client maps
an answer back to the same class, so code branches on ``except Fenced``, in a handler or
behind the client, and never on a code string.

The kinds (:class:`BadRequest`, :class:`NotFound`, :class:`Conflict`, ...) are what a
caller who does not care about the detail catches; a subclass exists for every error some
code reacts to. Codes without a subclass of their own are raised as their kind with a
``code`` (``BadRequest("...", code=ErrorCode.INVALID_BODY)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import ClassVar


class ErrorCode(StrEnum):
    """Every code the server sends and the client raises; the values are the wire codes."""

    # The kinds: the code of each kind when nothing more precise applies.
    ERROR = "ERROR"
    BAD_REQUEST = "BAD_REQUEST"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    CONFLICT = "CONFLICT"
    GONE = "GONE"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
    UNAVAILABLE = "UNAVAILABLE"

    # Requests that do not parse.
    INVALID_REQUEST = "INVALID_REQUEST"
    INVALID_BODY = "INVALID_BODY"
    INVALID_JSON = "INVALID_JSON"
    EMPTY_BODY = "EMPTY_BODY"
    EMPTY_ARRAY = "EMPTY_ARRAY"
    INVALID_PATH = "INVALID_PATH"
    INVALID_CONTENT_TYPE = "INVALID_CONTENT_TYPE"
    MISSING_CONTENT_TYPE = "MISSING_CONTENT_TYPE"
    INVALID_OFFSET = "INVALID_OFFSET"
    INVALID_SUB_OFFSET = "INVALID_SUB_OFFSET"
    MISSING_OFFSET = "MISSING_OFFSET"
    INVALID_LIVE = "INVALID_LIVE"
    INVALID_FORK = "INVALID_FORK"
    CONFLICTING_EXPIRY = "CONFLICTING_EXPIRY"
    EXPIRED = "EXPIRED"
    INVALID_PRODUCER = "INVALID_PRODUCER"
    INCOMPLETE_PRODUCER = "INCOMPLETE_PRODUCER"
    INVALID_EPOCH_SEQ = "INVALID_EPOCH_SEQ"
    UNKNOWN_CONTROL_PATH = "UNKNOWN_CONTROL_PATH"
    TOO_MANY_LIVE_READS = "TOO_MANY_LIVE_READS"
    NO_ROUTE = "NO_ROUTE"
    JSON_TOO_DEEP = "JSON_TOO_DEEP"
    NUMBER_OUT_OF_RANGE = "NUMBER_OUT_OF_RANGE"
    HEADERS_TOO_LARGE = "HEADERS_TOO_LARGE"

    # Streams.
    STREAM_EXISTS = "STREAM_EXISTS"
    STREAM_DELETED = "STREAM_DELETED"
    OFFSET_GONE = "OFFSET_GONE"
    STREAM_CLOSED = "STREAM_CLOSED"
    SOURCE_DELETED = "SOURCE_DELETED"
    CONTENT_TYPE_MISMATCH = "CONTENT_TYPE_MISMATCH"
    STALE_EPOCH = "STALE_EPOCH"
    SEQUENCE_GAP = "SEQUENCE_GAP"
    SEQUENCE_REGRESSION = "SEQUENCE_REGRESSION"
    ACK_PAST_TAIL = "ACK_PAST_TAIL"

    # Subscriptions, claims and their tokens.
    NO_SUBSCRIPTION = "NO_SUBSCRIPTION"
    SUBSCRIPTION_EXISTS = "SUBSCRIPTION_EXISTS"
    INVALID_SUBSCRIPTION = "INVALID_SUBSCRIPTION"
    INVALID_SUBSCRIPTION_ID = "INVALID_SUBSCRIPTION_ID"
    NOT_PULL_WAKE = "NOT_PULL_WAKE"
    FENCED = "FENCED"
    ALREADY_CLAIMED = "ALREADY_CLAIMED"
    NO_PENDING_WORK = "NO_PENDING_WORK"
    TOKEN_REQUIRED = "TOKEN_REQUIRED"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    TOKEN_INVALID = "TOKEN_INVALID"
    WEBHOOK_URL_REJECTED = "WEBHOOK_URL_REJECTED"

    # Entities and their types.
    INVALID_ADDRESS = "INVALID_ADDRESS"
    UNKNOWN_TYPE = "UNKNOWN_TYPE"
    UNKNOWN_ENTITY = "UNKNOWN_ENTITY"
    INVALID_ARGUMENTS = "INVALID_ARGUMENTS"
    INVALID_MESSAGE = "INVALID_MESSAGE"
    INVALID_SCHEMA = "INVALID_SCHEMA"
    INVALID_STATUS = "INVALID_STATUS"
    INVALID_TAG = "INVALID_TAG"
    ENTITY_EXISTS = "ENTITY_EXISTS"
    ENTITY_TERMINATED = "ENTITY_TERMINATED"
    LOCAL_TYPE = "LOCAL_TYPE"
    TYPE_IN_USE = "TYPE_IN_USE"
    NO_PUBLIC_URL = "NO_PUBLIC_URL"
    NOT_ALLOWED = "NOT_ALLOWED"
    UNKNOWN_RUN = "UNKNOWN_RUN"
    MESSAGE_REJECTED = "MESSAGE_REJECTED"

    # Tool calls answered from outside.
    UNKNOWN_TOOL_CALL = "UNKNOWN_TOOL_CALL"
    INVALID_ANSWER = "INVALID_ANSWER"
    WRONG_ANSWER_KIND = "WRONG_ANSWER_KIND"
    ALREADY_ANSWERED = "ALREADY_ANSWERED"

    # Tool calls run by executors.
    INVALID_EXECUTOR = "INVALID_EXECUTOR"
    UNKNOWN_EXECUTOR_CALL = "UNKNOWN_EXECUTOR_CALL"
    CALL_CLAIMED = "CALL_CLAIMED"
    CALL_NOT_CLAIMABLE = "CALL_NOT_CLAIMABLE"
    CALL_FENCED = "CALL_FENCED"

    # Threads.
    UNKNOWN_THREAD = "UNKNOWN_THREAD"
    NOT_RUNNING = "NOT_RUNNING"
    NOT_RESUMABLE = "NOT_RESUMABLE"
    NO_USER_MESSAGE = "NO_USER_MESSAGE"

    # The client's own: no usable answer came.
    INVALID_URL = "INVALID_URL"
    UNREACHABLE = "UNREACHABLE"
    NOT_JSON = "NOT_JSON"


class WakefulError(Exception):
    """Base of every error Wakeful raises on purpose.

    ``code`` is the machine-readable code (an :class:`ErrorCode`, or the code a server
    sent that this version does not know), ``details`` extra facts a caller may act on.
    ``status`` is the HTTP status of the answer when the client raised the error from a
    server's answer, and ``None`` otherwise: the class, not the status, says what happened.
    """

    default_code: ClassVar[ErrorCode] = ErrorCode.ERROR

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code: str = code if code is not None else self.default_code
        self.details: dict[str, object] = dict(details or {})
        self.status: int | None = None

    def __str__(self) -> str:
        return self.message


# -- the kinds ----------------------------------------------------------------------------


class BadRequest(WakefulError):
    """The request is malformed, or its arguments do not validate."""

    default_code = ErrorCode.BAD_REQUEST


class Unauthorized(WakefulError):
    """A token is required and this one is missing, expired or wrong."""

    default_code = ErrorCode.UNAUTHORIZED


class Forbidden(WakefulError):
    """The caller is known but may not do this."""

    default_code = ErrorCode.FORBIDDEN


class NotFound(WakefulError):
    """Nothing by that name: no such stream, entity, type, thread or tool call."""

    default_code = ErrorCode.NOT_FOUND


class MethodNotAllowed(WakefulError):
    """The resource exists but does not take this operation."""

    default_code = ErrorCode.METHOD_NOT_ALLOWED


class Conflict(WakefulError):
    """The request contradicts the current state (a name taken, a claim lost)."""

    default_code = ErrorCode.CONFLICT


class Gone(WakefulError):
    """It existed and was deleted."""

    default_code = ErrorCode.GONE


class PayloadTooLarge(WakefulError):
    """The body is larger than the server accepts."""

    default_code = ErrorCode.PAYLOAD_TOO_LARGE


class UnsupportedMediaType(WakefulError):
    """The body's content type is not one this resource takes."""

    default_code = ErrorCode.UNSUPPORTED_MEDIA_TYPE


class HeadersTooLarge(WakefulError):
    """The request's headers are too many or too large."""

    default_code = ErrorCode.HEADERS_TOO_LARGE


class TooManyRequests(WakefulError):
    """A limit on concurrent or repeated requests was reached; try again later."""

    default_code = ErrorCode.TOO_MANY_REQUESTS


class Unavailable(WakefulError):
    """The server cannot do this as it is configured (or right now)."""

    default_code = ErrorCode.UNAVAILABLE


# -- streams ------------------------------------------------------------------------------


class StreamNotFound(NotFound):
    """No stream at that path (or it expired). The wire code is the kind's, ``NOT_FOUND``."""


class StreamDeleted(Gone):
    """The stream was deleted (its record stays while forks read from it)."""


class OffsetGone(Gone):
    """The offset is before the stream's earliest retained position: the messages there
    were trimmed. ``retained_from`` (also in ``details``, as an offset token) is where the
    stream now begins, so a reader can skip ahead to it (``None`` when the client raised
    it from an answer without that detail)."""

    default_code = ErrorCode.OFFSET_GONE

    def __init__(
        self,
        message: str,
        *,
        retained_from: int | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.retained_from = retained_from


class StreamExists(Conflict):
    """A stream is already at that path, created differently."""

    default_code = ErrorCode.STREAM_EXISTS


class StreamClosed(Conflict):
    """The stream is closed: nothing more can be appended. ``next_offset`` is its tail
    (``None`` when the client raised it: the answer's ``Stream-Next-Offset`` has it)."""

    default_code = ErrorCode.STREAM_CLOSED

    def __init__(self, message: str, *, next_offset: int | None = None) -> None:
        super().__init__(message)
        self.next_offset = next_offset


class StaleEpoch(Forbidden):
    """A producer wrote with an epoch older than the stream's: a newer writer took over."""

    default_code = ErrorCode.STALE_EPOCH

    def __init__(self, message: str, *, current_epoch: int | None = None) -> None:
        super().__init__(message)
        self.current_epoch = current_epoch


class SequenceGap(Conflict):
    """A producer skipped sequence numbers: ``expected`` is the next one the stream takes."""

    default_code = ErrorCode.SEQUENCE_GAP

    def __init__(
        self, message: str, *, expected: int | None = None, received: int | None = None
    ) -> None:
        super().__init__(message)
        self.expected = expected
        self.received = received


# -- subscriptions and claims -------------------------------------------------------------


class SubscriptionNotFound(NotFound):
    """No subscription with that id (it was deleted, or never existed)."""

    default_code = ErrorCode.NO_SUBSCRIPTION


class SubscriptionExists(Conflict):
    """A subscription with that id exists with a different configuration."""

    default_code = ErrorCode.SUBSCRIPTION_EXISTS


class Fenced(Conflict):
    """The caller's claim is no longer the current one: another worker holds the wake."""

    default_code = ErrorCode.FENCED


# What a worker gets when its hold on a wake is gone: another took over, or the wake was
# deleted. Its writes cannot land any more, so it stops instead of recording a failure.
LOST_CLAIM: tuple[type[WakefulError], ...] = (Fenced, StaleEpoch, SubscriptionNotFound)


class AlreadyClaimed(Conflict):
    """Another worker holds the wake; ``details`` name the holder and its generation."""

    default_code = ErrorCode.ALREADY_CLAIMED


class NoPendingWork(Conflict):
    """Nothing to claim: the subscription has no unacknowledged input."""

    default_code = ErrorCode.NO_PENDING_WORK


class WebhookURLRejected(BadRequest):
    """A webhook URL the server will not call (not https, or not to this host)."""

    default_code = ErrorCode.WEBHOOK_URL_REJECTED


# -- entities -----------------------------------------------------------------------------


class InvalidAddress(BadRequest, ValueError):
    """An entity type, id or URL that cannot name an entity (also a :class:`ValueError`)."""

    default_code = ErrorCode.INVALID_ADDRESS


class InvalidEntityURL(InvalidAddress):
    """Text given as an entity URL that does not have the ``/type/id`` shape."""


class UnknownEntityType(NotFound):
    default_code = ErrorCode.UNKNOWN_TYPE


class UnknownEntity(NotFound):
    default_code = ErrorCode.UNKNOWN_ENTITY


class UnknownRun(NotFound):
    """No completed run by that id on the entity's stream (to fork at, say)."""

    default_code = ErrorCode.UNKNOWN_RUN


class MessageRejected(Conflict):
    """The entity is in a run, and its message policy refuses messages meanwhile."""

    default_code = ErrorCode.MESSAGE_REJECTED


class InvalidArguments(BadRequest):
    default_code = ErrorCode.INVALID_ARGUMENTS


class InvalidMessage(BadRequest):
    default_code = ErrorCode.INVALID_MESSAGE


class InvalidSchema(BadRequest):
    default_code = ErrorCode.INVALID_SCHEMA


class EntityExists(Conflict):
    default_code = ErrorCode.ENTITY_EXISTS


class EntityTerminated(Conflict):
    default_code = ErrorCode.ENTITY_TERMINATED


class LocalTypeConflict(Conflict):
    """Types defined in Python belong to the code that runs them; HTTP cannot replace them."""

    default_code = ErrorCode.LOCAL_TYPE


class TypeInUse(Conflict):
    """A type cannot be deleted while entities of it exist."""

    default_code = ErrorCode.TYPE_IN_USE


class NoPublicURL(Unavailable):
    """Webhook services call back to the server, so it must know the address they can reach."""

    default_code = ErrorCode.NO_PUBLIC_URL


# -- tool calls and threads ---------------------------------------------------------------


class UnknownToolCall(NotFound):
    default_code = ErrorCode.UNKNOWN_TOOL_CALL


class AlreadyAnswered(Conflict):
    """The tool call has its answer; a second one is refused, not applied."""

    default_code = ErrorCode.ALREADY_ANSWERED


class UnknownExecutorCall(NotFound):
    """No call by that key in the executor's queue."""

    default_code = ErrorCode.UNKNOWN_EXECUTOR_CALL


class CallClaimed(Conflict):
    """Another executor holds the call, and its lease has not run out."""

    default_code = ErrorCode.CALL_CLAIMED


class CallNotClaimable(Conflict):
    """The call cannot be claimed now: it finished, was cancelled, or waits to be retried
    (``details`` say which, and for a retry, when)."""

    default_code = ErrorCode.CALL_NOT_CLAIMABLE


class CallFenced(Conflict):
    """The caller's claim on the call is no longer the current one: its lease ran out and
    another executor claimed the call, or the run that asked for it ended. What it sends
    is refused (and recorded on the executor's queue), never applied."""

    default_code = ErrorCode.CALL_FENCED


class UnknownThread(UnknownEntity):
    """No thread with that id (a thread is an entity, so this is an unknown entity too)."""

    default_code = ErrorCode.UNKNOWN_THREAD


# -- the client's own ---------------------------------------------------------------------


class InvalidURL(WakefulError, ValueError):
    """The server URL given to the client cannot be a server's address."""

    default_code = ErrorCode.INVALID_URL


class ServerUnreachable(WakefulError, ConnectionError):
    """No answer: nothing listens at the URL, the connection dropped, or it timed out."""

    default_code = ErrorCode.UNREACHABLE


# The class each code stands for when it arrives in an answer (codes of a kind's own, and
# codes without a class, arrive as the kind their status names).
_PRECISE: tuple[type[WakefulError], ...] = (
    OffsetGone,
    StreamExists,
    StreamClosed,
    StaleEpoch,
    SequenceGap,
    SubscriptionNotFound,
    SubscriptionExists,
    Fenced,
    AlreadyClaimed,
    NoPendingWork,
    WebhookURLRejected,
    InvalidAddress,
    UnknownEntityType,
    UnknownEntity,
    UnknownRun,
    MessageRejected,
    InvalidArguments,
    InvalidMessage,
    InvalidSchema,
    EntityExists,
    EntityTerminated,
    LocalTypeConflict,
    TypeInUse,
    NoPublicURL,
    UnknownToolCall,
    AlreadyAnswered,
    UnknownExecutorCall,
    CallClaimed,
    CallNotClaimable,
    CallFenced,
    UnknownThread,
)
BY_CODE: Mapping[str, type[WakefulError]] = {kind.default_code: kind for kind in _PRECISE}


def excerpt(value: str, limit: int = 80) -> str:
    """``value`` quoted for a message, cut to ``limit`` characters: messages are for
    people, and stay short whatever the size of the input they quote."""
    if len(value) <= limit:
        return repr(value)
    return repr(value[:limit]) + "…"


def brief(text: str, limit: int = 200) -> str:
    """A part of a message written by someone else (a validator's, which may quote the
    whole input), cut to ``limit`` characters."""
    return text if len(text) <= limit else text[:limit] + "…"
