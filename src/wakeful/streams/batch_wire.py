"""Batches of operations as JSON, for a pass that commits over HTTP.

A handler pass ends in one :func:`~wakeful.storage.Storage.commit` of
:mod:`.batch` operations; a pass run outside the server (``wakeful.serverless``) sends the
same operations to the server, which checks and applies them with the same commit. This
module is the one place that says how an operation looks on the wire, both ways.

Messages of JSON streams travel as JSON values, not strings: the server writes back the
bytes ``orjson`` makes of them, which are the bytes the pass made (it made them with
``orjson`` too), so the sizes a pass counts its flushes by agree on both sides. Positions
are the integers the storage uses: this is Wakeful talking to itself, not the streams
protocol, whose offsets are for every client.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from ..errors import BadRequest, ErrorCode, brief
from . import batch
from .model import AppendRequest, AppendResult, CreateRequest, ProducerClaim
from .subscriptions.model import Ack, SubscriptionSpec, WakeRequest
from .subscriptions.tokens import TokenClaims
from .usage import UsageEntry

# The token claims of an ack are never taken from the body: the server puts in those of
# the token the request came with. These stand in for them until then.
UNCLAIMED = TokenClaims("", -1, "")


def _value(raw: bytes) -> orjson.Fragment:
    return orjson.Fragment(raw)


def encode(operations: Sequence[batch.Operation]) -> bytes:
    """The body of a pass's commit request."""
    return orjson.dumps({"operations": [_encode(operation) for operation in operations]})


def _encode(op: batch.Operation) -> dict[str, Any]:
    match op:
        case batch.Append(request=r, optional=optional):
            producer = r.producer
            return {
                "op": "append",
                "path": r.path,
                "messages": [_value(message) for message in r.messages],
                "optional": optional,
                "producer": (
                    None
                    if producer is None
                    else {"id": producer.producer_id, "epoch": producer.epoch, "seq": producer.seq}
                ),
            }
        case batch.CreateStream(request=r, labels=labels, exclusive=exclusive):
            if r.fork is not None:
                # A fork reads the source's storage: not something a remote pass sends.
                raise ValueError("a pass over HTTP cannot create a fork")
            return {
                "op": "create",
                "path": r.path,
                "body": _value(r.body) if r.body else None,
                "labels": dict(labels),
                "exclusive": exclusive,
            }
        case batch.SetLabels(path=path, labels=labels):
            return {"op": "labels", "path": path, "labels": dict(labels)}
        case batch.ScheduleAppend(key=key, path=path, message=message, due_at=due_at):
            return {
                "op": "schedule",
                "key": key,
                "path": path,
                "message": _value(message),
                "due_at": due_at,
            }
        case batch.CancelSchedule(key=key):
            return {"op": "cancel_schedule", "key": key}
        case batch.PutSubscription(subscription_id=sid, spec=spec):
            # The base URL is the server's business: it puts in its own.
            return {"op": "put_subscription", "id": sid, "spec": spec.model_dump(mode="json")}
        case batch.LinkStreams(subscription_id=sid, paths=paths):
            return {"op": "link", "id": sid, "paths": list(paths)}
        case batch.UnlinkStream(subscription_id=sid, path=path):
            return {"op": "unlink", "id": sid, "path": path}
        case batch.DeleteSubscription(subscription_id=sid):
            return {"op": "delete_subscription", "id": sid}
        case batch.AckWake(subscription_id=sid, request=request):
            return {
                "op": "ack",
                "id": sid,
                "wake_id": request.wake_id,
                "generation": request.generation,
                "acks": [{"stream": a.stream, "position": a.position} for a in request.acks],
                "done": request.done,
            }
        case batch.RecordUsage(entry=entry):
            return {"op": "usage", "entry": dataclasses.asdict(entry)}
        case batch.DeleteStream():
            raise ValueError("a pass never deletes a stream")
    raise TypeError(f"unknown operation {op!r}")


def _refuse(message: str) -> BadRequest:
    return BadRequest(f"invalid pass commit: {brief(message)}", code=ErrorCode.INVALID_BODY)


def _get(
    item: dict[str, Any], key: str, kind: type | tuple[type, ...], *, none: bool = False
) -> Any:
    value = item.get(key)
    if value is None and none:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
        raise _refuse(f"{item.get('op')}: {key} is missing or of the wrong type")
    return value


def _strings(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _refuse(f"{what} must map names to strings")
    return value


def _position(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _refuse("positions are non-negative integers")
    return value


def _decode_append(item: dict[str, Any]) -> batch.Operation:
    messages = _get(item, "messages", list)
    raw = _get(item, "producer", dict, none=True)
    producer = None
    if raw is not None:
        producer = ProducerClaim(
            _get(raw, "id", str), _position(raw.get("epoch")), _position(raw.get("seq"))
        )
    request = AppendRequest(
        _get(item, "path", str),
        "application/json",
        [orjson.dumps(message) for message in messages],
        producer=producer,
    )
    return batch.Append(request, optional=bool(item.get("optional")))


def _decode_create(item: dict[str, Any]) -> batch.Operation:
    body = item.get("body")
    request = CreateRequest(
        _get(item, "path", str),
        "application/json",
        None,
        None,
        False,
        b"" if body is None else orjson.dumps(body),
    )
    labels = _strings(item.get("labels", {}), "labels")
    return batch.CreateStream(request, labels, exclusive=bool(item.get("exclusive")))


def _decode_labels(item: dict[str, Any]) -> batch.Operation:
    labels = item.get("labels")
    if not isinstance(labels, dict) or not all(
        value is None or isinstance(value, str) for value in labels.values()
    ):
        raise _refuse("labels must map names to strings or null")
    return batch.SetLabels(_get(item, "path", str), labels)


def _decode_schedule(item: dict[str, Any]) -> batch.Operation:
    return batch.ScheduleAppend(
        _get(item, "key", str),
        _get(item, "path", str),
        orjson.dumps(item.get("message")),
        float(_get(item, "due_at", (int, float))),
    )


def _decode_put(item: dict[str, Any]) -> batch.Operation:
    spec = SubscriptionSpec.parse(item.get("spec"))
    return batch.PutSubscription(_get(item, "id", str), spec, "")


def _decode_link(item: dict[str, Any]) -> batch.Operation:
    paths = _get(item, "paths", list)
    if not all(isinstance(path, str) for path in paths):
        raise _refuse("link: paths must be strings")
    return batch.LinkStreams(_get(item, "id", str), tuple(paths))


def _decode_ack(item: dict[str, Any]) -> batch.Operation:
    acks = []
    for raw in _get(item, "acks", list):
        if not isinstance(raw, dict):
            raise _refuse("ack: each ack is an object")
        acks.append(Ack(_get(raw, "stream", str), _position(raw.get("position"))))
    request = WakeRequest(
        _get(item, "wake_id", str),
        _position(item.get("generation")),
        tuple(acks),
        bool(item.get("done")),
    )
    return batch.AckWake(_get(item, "id", str), UNCLAIMED, request)


def _decode_usage(item: dict[str, Any]) -> batch.Operation:
    raw = _get(item, "entry", dict)
    try:
        entry = UsageEntry(**raw)
    except TypeError:
        raise _refuse("usage: not a usage entry") from None
    return batch.RecordUsage(entry)


_DECODERS: dict[str, Callable[[dict[str, Any]], batch.Operation]] = {
    "append": _decode_append,
    "create": _decode_create,
    "labels": _decode_labels,
    "schedule": _decode_schedule,
    "cancel_schedule": lambda item: batch.CancelSchedule(_get(item, "key", str)),
    "put_subscription": _decode_put,
    "link": _decode_link,
    "unlink": lambda item: batch.UnlinkStream(_get(item, "id", str), _get(item, "path", str)),
    "delete_subscription": lambda item: batch.DeleteSubscription(_get(item, "id", str)),
    "ack": _decode_ack,
    "usage": _decode_usage,
}


def decode(body: Any) -> list[batch.Operation]:
    """The operations of a commit request's (parsed) body; ``BadRequest`` if malformed."""
    items = body.get("operations") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise _refuse("operations must be a non-empty list")
    operations = []
    for item in items:
        kind = item.get("op") if isinstance(item, dict) else None
        decoder = _DECODERS.get(kind) if isinstance(kind, str) else None
        if decoder is None:
            raise _refuse(f"unknown operation {str(kind)[:40]!r}")
        operations.append(decoder(item))
    return operations


def encode_results(results: Sequence[object]) -> list[Any]:
    """What a pass reads of a commit's results: where each append left its stream."""
    return [
        {"tail": result.tail, "closed": result.closed, "duplicate": result.duplicate}
        if isinstance(result, AppendResult)
        else None
        for result in results
    ]


def decode_results(raw: Any) -> list[object]:
    results = raw.get("results") if isinstance(raw, dict) else None
    if not isinstance(results, list):
        raise ValueError("a commit answer holds a list of results")
    return [
        AppendResult(int(item["tail"]), bool(item["closed"]), bool(item["duplicate"]))
        if isinstance(item, dict)
        else None
        for item in results
    ]
