"""The asynchronous client: every operation of the server's JSON API, plus reading and
observing entity streams.

It is the one implementation; :class:`wakeful.client.Client` runs it for synchronous
callers. Entities are named by URL (``/type/id``) or by the :class:`Entity` /
:class:`Thread` objects the client returns, threads by id or :class:`Thread`.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from ..agent.executor_rows import ExecutorCall
from ..entities.addressing import Address, check_id, check_type
from ..errors import BadRequest as _OffsetError
from ..errors import ErrorCode
from ..settings import DEFAULTS
from ..state import StateStore
from ..streams.offsets import BEGINNING, NOW, ZERO, parse_offset
from .errors import (
    InvalidURL,
    NotFound,
    ServerUnreachable,
    UnknownEntity,
    WakefulError,
    from_response,
    unreachable,
)
from .frames import decode_batch, sse_batches
from .models import Entity, EntityType, Event, Thread

DEFAULT_URL = f"http://{DEFAULTS.host}:{DEFAULTS.port}"  # where `wakeful serve` listens
DEFAULT_TIMEOUT = 30.0
# The server sends a keepalive every 15 s on an idle live read; three missed means the
# connection is dead even if no error reached us (a vanished peer, a silent partition).
LIVE_READ_TIMEOUT = 45.0
RECONNECT_DELAYS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)
# Statuses worth retrying a live read on: a proxy in front of a restarting server.
_TRANSIENT = frozenset({502, 503, 504})

EntityRef = str | Entity | Thread
ThreadRef = str | Thread


def base_url_of(url: str) -> str:
    """``url`` as a base URL: ``http://`` is assumed when no scheme is given."""
    text = url.strip()
    if "://" not in text:
        text = f"http://{text}"
    try:
        parsed = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise InvalidURL(f"{url!r} is not a valid server URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidURL(f"{url!r} is not a valid server URL: use http://host:port")
    return str(parsed).rstrip("/")


def address_of(target: EntityRef) -> Address:
    """The address an entity URL (``/type/id``) or an object with a ``url`` names."""
    url = target if isinstance(target, str) else target.url
    return Address.parse(url)


def thread_id_of(target: ThreadRef) -> str:
    """The id a thread id or :class:`Thread` names, checked before it goes in a path."""
    thread_id = target if isinstance(target, str) else target.id
    return check_id(thread_id)


def type_name_of(name: str) -> str:
    """``name`` checked as a type name before it goes in a path (a ``/`` in it would
    otherwise reach some other route and come back as a puzzling 404)."""
    return check_type(name)


def missing_entity(address: Address, error: NotFound) -> UnknownEntity:
    """The entity behind a stream the server did not find, with the answer's status."""
    unknown = UnknownEntity(f"entity {address.url} does not exist")
    unknown.status = error.status
    return unknown


def _entity_path(target: EntityRef) -> str:
    address = address_of(target)
    return f"/v1/entities/{address.type}/{address.id}"


def _call_path(target: EntityRef, call_id: str) -> str:
    return f"{_entity_path(target)}/tool-calls/{quote(call_id, safe='')}"


def _position(offset: str) -> int | None:
    try:
        return parse_offset(offset)
    except _OffsetError:
        return None


class AsyncClient:
    """A connection to a Wakeful server; use it as ``async with AsyncClient(...) as c``.

    ``token`` is sent as ``Authorization: Bearer <token>`` (needed when the server has
    one). ``timeout`` bounds each request, except the waiting in live reads."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url_of(base_url)
        self.timeout = timeout
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool; the client cannot be used afterwards."""
        await self._http.aclose()

    # -- plumbing ---------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str | int | builtins.list[str]] | None = None,
    ) -> httpx.Response:
        content = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            response = await self._http.request(
                method, path, content=content, headers=headers, params=params
            )
        except httpx.TransportError as exc:
            raise unreachable(self.base_url, exc) from exc
        if not response.is_success:
            raise from_response(response)
        return response

    async def _json(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str | int | builtins.list[str]] | None = None,
    ) -> Any:
        response = await self._call(method, path, body=body, params=params)
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            error = WakefulError(
                f"{method} {response.request.url} did not answer with JSON"
                " (is this the URL of a Wakeful server?)",
                code=ErrorCode.NOT_JSON,
            )
            error.status = response.status_code
            raise error from None

    # -- server -----------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        """The server's liveness answer (``{"status": "ok", "version": ...}``)."""
        found: dict[str, Any] = await self._json("GET", "/healthz")
        return found

    async def usage(
        self,
        *,
        entity: EntityRef | None = None,
        type: str | None = None,
        principal: str | None = None,
        run: str | None = None,
        since: str | None = None,
        until: str | None = None,
        group_by: Sequence[str] = (),
    ) -> builtins.list[dict[str, Any]]:
        """Tokens and cost of model calls (``GET /v1/usage``), one total per group of
        ``group_by`` (entity, type, principal, run, model, day); ``since`` and ``until``
        are ISO 8601 times. A principal other than an admin sees only its own usage."""
        given = {
            "entity": address_of(entity).url if entity is not None else None,
            "type": type,
            "principal": principal,
            "run": run,
            "since": since,
            "until": until,
        }
        params: dict[str, str | int | builtins.list[str]] = {
            name: value for name, value in given.items() if value is not None
        }
        if group_by:
            params["group_by"] = list(group_by)
        found = await self._json("GET", "/v1/usage", params=params)
        totals: builtins.list[dict[str, Any]] = found["totals"]
        return totals

    # -- entity types -----------------------------------------------------------------

    async def types(self) -> builtins.list[EntityType]:
        """The registered entity types, local ones first, each with its kind, description,
        JSON schemas and (for remote types) webhook URL."""
        found = await self._json("GET", "/v1/types")
        return [EntityType.from_json(item) for item in found]

    async def get_type(self, name: str) -> EntityType:
        """One entity type (:class:`NotFound` when the server has no such type)."""
        return EntityType.from_json(await self._json("GET", f"/v1/types/{type_name_of(name)}"))

    async def register_type(
        self,
        name: str,
        webhook_url: str,
        *,
        description: str = "",
        args_schema: Mapping[str, Any] | None = None,
        inbox_schema: Mapping[str, Any] | None = None,
        lease_seconds: float | None = None,
        request_timeout_seconds: float | None = None,
    ) -> EntityType:
        """Register a remote type, whose entities are run by the webhook service at
        ``webhook_url``, or update it if it exists. The schemas are JSON Schemas that spawn
        arguments and inbox messages must satisfy; ``lease_seconds`` (server default 30)
        is how long the service has to ack a wake, ``request_timeout_seconds`` (default: the
        lease) how long one wake request may run before the wake is sent again. Raises
        :class:`BadRequest` for a bad name, URL or schema and :class:`Conflict` for a type
        defined in Python."""
        body: dict[str, Any] = {
            "name": name,
            "description": description,
            "webhook": {"url": webhook_url},
            "args_schema": None if args_schema is None else dict(args_schema),
            "inbox_schema": None if inbox_schema is None else dict(inbox_schema),
        }
        if lease_seconds is not None:
            body["lease_seconds"] = lease_seconds
        if request_timeout_seconds is not None:
            body["request_timeout_seconds"] = request_timeout_seconds
        return EntityType.from_json(await self._json("POST", "/v1/types", body=body))

    async def delete_type(self, name: str) -> None:
        """Remove a remote type. Raises :class:`Conflict` while entities of it exist, or for
        a type defined in Python, and :class:`NotFound` for an unknown one."""
        await self._call("DELETE", f"/v1/types/{type_name_of(name)}")

    # -- entities ---------------------------------------------------------------------

    async def spawn(
        self,
        type: str,
        id: str | None = None,
        *,
        args: Any = None,
        message: Any = None,
        tags: Mapping[str, str] | None = None,
    ) -> Entity:
        """Create an entity of ``type`` (``id`` is generated when omitted), optionally with
        spawn ``args`` and a first inbox ``message``. Raises :class:`Conflict` if the id is
        taken, :class:`NotFound` for an unknown type, :class:`BadRequest` for invalid args."""
        body = {"id": id, "args": args, "message": message, "tags": dict(tags or {})}
        data = await self._json("POST", f"/v1/entities/{quote(type, safe='')}", body=body)
        return Entity.from_json(data)

    async def fork(self, url: EntityRef, id: str | None = None, *, at: str | None = None) -> Entity:
        """A new entity of the same type whose state and history are ``url``'s at the end
        of run ``at`` (or its last completed run). Raises :class:`Conflict` if the id is
        taken, :class:`NotFound` for an unknown entity or run."""
        body = {"id": id, "at": at}
        return Entity.from_json(await self._json("POST", f"{_entity_path(url)}/fork", body=body))

    async def get(self, url: EntityRef) -> Entity:
        """The entity at ``url`` as it is now (status, tags, stream tail)."""
        return Entity.from_json(await self._json("GET", _entity_path(url)))

    async def list(
        self,
        *,
        type: str | None = None,
        status: str | None = None,
        parent: EntityRef | None = None,
        tag: str | tuple[str, str] | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[Entity]:
        """Every entity matching the filters, fetched a page at a time as you iterate.

        ``tag`` is ``"name:value"`` or ``(name, value)``; ``parent`` an entity URL."""
        params: dict[str, str | int] = {"limit": page_size}
        if type is not None:
            params["type"] = type
        if status is not None:
            params["status"] = status
        if parent is not None:
            params["parent"] = address_of(parent).url
        if tag is not None:
            params["tag"] = tag if isinstance(tag, str) else f"{tag[0]}:{tag[1]}"
        while True:
            page = await self._json("GET", "/v1/entities", params=params)
            for item in page["entities"]:
                yield Entity.from_json(item)
            if not page.get("next"):
                return
            params["after"] = str(page["next"])

    async def send(
        self,
        url: EntityRef,
        payload: Any,
        *,
        sender: str | None = None,
        in_reply_to: str | None = None,
    ) -> str:
        """Put ``payload`` in the entity's inbox (it wakes to handle it); returns the
        message id. ``sender`` is free text recorded as the message's ``from``;
        ``in_reply_to`` answers a request the entity sent (``ctx.request``)."""
        body: dict[str, Any] = {"payload": payload, "from": sender}
        if in_reply_to is not None:
            body["in_reply_to"] = in_reply_to
        data = await self._json("POST", f"{_entity_path(url)}/messages", body=body)
        return str(data["id"])

    async def signal(self, url: EntityRef, name: str, payload: Any = None) -> str:
        """Send a signal: pause, resume, stop, kill, interrupt, or a custom name that the
        type's handler receives. Returns the signal's id."""
        body = {"name": name, "payload": payload}
        data = await self._json("POST", f"{_entity_path(url)}/signals", body=body)
        return str(data["id"])

    async def kill(self, url: EntityRef) -> str:
        """Stop the entity for good, interrupting any run (the ``kill`` signal)."""
        return await self.signal(url, "kill")

    async def delete(self, url: EntityRef) -> None:
        """Delete the entity and its stream."""
        await self._call("DELETE", _entity_path(url))

    # -- reading streams ----------------------------------------------------------------

    async def state(
        self, url: EntityRef, models: Mapping[str, type[Any] | None] | None = None
    ) -> StateStore:
        """The entity's collections, materialized from its whole stream as of now.

        ``models`` maps collection names (``state:notes``, ``run`` ...) to Pydantic models
        to validate rows into; other collections hold plain JSON values."""
        address = address_of(url)
        store = StateStore(models)
        offset = "-1"
        while True:
            try:
                response = await self._call(
                    "GET", f"/v1/stream/{address.stream}", params={"offset": offset}
                )
            except NotFound as exc:
                raise missing_entity(address, exc) from None
            store.apply_all(orjson.loads(response.content))
            offset = response.headers.get("Stream-Next-Offset", offset)
            done = response.headers.get("Stream-Up-To-Date") or response.headers.get(
                "Stream-Closed"
            )
            if done == "true":
                break
        position = _position(offset)
        if position is not None:
            store.position = position
        return store

    async def observe(
        self,
        url: EntityRef,
        offset: str = "-1",
        *,
        reconnect_timeout: float | None = 30.0,
    ) -> AsyncIterator[Event]:
        """The entity's events as they happen, forever (until the stream is closed).

        ``offset`` is ``"-1"`` (from the beginning), ``"now"`` (only what comes next) or
        an :attr:`Event.offset` (what comes after that event). If the connection drops or
        the server restarts, it reconnects from the last event it yielded, so nothing is
        repeated or skipped; it gives up with :class:`ServerUnreachable` after
        ``reconnect_timeout`` seconds without reaching the server (``None``: never)."""
        address = address_of(url)
        path = f"/v1/stream/{address.stream}"
        timeout = httpx.Timeout(self.timeout, read=LIVE_READ_TIMEOUT)
        # Where the next batch starts, when known: it lets each event get its own offset.
        start = ZERO if offset == BEGINNING else (None if offset == NOW else offset)
        failures = 0
        last_contact = time.monotonic()
        while True:
            request = self._http.build_request(
                "GET", path, params={"offset": offset, "live": "sse"}, timeout=timeout
            )
            try:
                response = await self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                failures = await self._back_off(exc, failures, last_contact, reconnect_timeout)
                continue
            try:
                if response.status_code in _TRANSIENT:
                    # A proxy in front of a restarting server: as good as a dropped connection.
                    raise httpx.RemoteProtocolError(f"answered {response.status_code}")
                if not response.is_success:
                    await response.aread()
                    error = from_response(response)
                    if isinstance(error, NotFound):
                        raise missing_entity(address, error) from None
                    raise error
                received = False
                async for batch in sse_batches(response.aiter_lines()):
                    received, failures, last_contact = True, 0, time.monotonic()
                    if batch.data is not None:
                        events = decode_batch(batch.data, start, batch.next_offset)
                        for index, event in enumerate(events):
                            if batch.up_to_date and index == len(events) - 1:
                                event = dataclasses.replace(event, caught_up=True)
                            yield event
                    offset = start = batch.next_offset
                    if batch.closed:
                        return
                if not received:  # ended at once: do not reconnect in a tight loop
                    raise httpx.RemoteProtocolError("the live read ended without an event")
            except httpx.TransportError as exc:
                failures = await self._back_off(exc, failures, last_contact, reconnect_timeout)
            finally:
                await response.aclose()

    async def _back_off(
        self,
        error: httpx.TransportError,
        failures: int,
        last_contact: float,
        reconnect_timeout: float | None,
    ) -> int:
        """Sleep before reconnecting a live read, or give up once the budget is spent."""
        waited = time.monotonic() - last_contact
        if reconnect_timeout is not None and waited > reconnect_timeout:
            raise unreachable(self.base_url, error) from error
        delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
        await asyncio.sleep(delay)
        return failures + 1

    # -- threads ----------------------------------------------------------------------

    async def create_thread(
        self,
        prompt: str | None = None,
        *,
        id: str | None = None,
        title: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Thread:
        """Start a chat thread; a ``prompt`` is its first message and starts a run."""
        body = {"prompt": prompt, "id": id, "title": title, "metadata": dict(metadata or {})}
        return Thread.from_json(await self._json("POST", "/v1/threads", body=body))

    async def thread(self, thread: ThreadRef) -> Thread:
        """The thread as it is now, with its status."""
        return Thread.from_json(await self._json("GET", f"/v1/threads/{thread_id_of(thread)}"))

    async def threads(self, *, page_size: int = 50) -> AsyncIterator[Thread]:
        """Every thread, fetched a page at a time as you iterate."""
        params: dict[str, str | int] = {"limit": page_size}
        while True:
            page = await self._json("GET", "/v1/threads", params=params)
            for item in page["threads"]:
                yield Thread.from_json(item)
            if not page.get("next"):
                return
            params["after"] = str(page["next"])

    async def messages(self, thread: ThreadRef) -> builtins.list[dict[str, Any]]:
        """The conversation: user and assistant messages in order, including the text of
        a step still streaming (its ``status`` is then ``streaming``)."""
        path = f"/v1/threads/{thread_id_of(thread)}/messages"
        found: builtins.list[dict[str, Any]] = await self._json("GET", path)
        return found

    async def send_message(self, thread: ThreadRef, content: str) -> str:
        """Send a user message; it starts a run, or waits for the running one to end.
        Returns the message id."""
        path = f"/v1/threads/{thread_id_of(thread)}/messages"
        data = await self._json("POST", path, body={"content": content})
        return str(data["id"])

    async def stop(self, thread: ThreadRef) -> None:
        """Stop the thread's running run (:class:`Conflict` if none is running)."""
        await self._call("POST", f"/v1/threads/{thread_id_of(thread)}/stop")

    async def resume(self, thread: ThreadRef) -> None:
        """Continue a stopped or failed thread from its conversation so far."""
        await self._call("POST", f"/v1/threads/{thread_id_of(thread)}/resume")

    async def delete_thread(self, thread: ThreadRef) -> None:
        """Delete the thread and its stream."""
        await self._call("DELETE", f"/v1/threads/{thread_id_of(thread)}")

    # -- waiting tool calls (any entity running the agent loop, threads included) ------

    async def tool_call(self, url: EntityRef, call_id: str) -> dict[str, Any]:
        """A tool call of the entity at ``url``, with its status and answer, if any."""
        found: dict[str, Any] = await self._json("GET", _call_path(url, call_id))
        return found

    async def tool_result(self, url: EntityRef, call_id: str, result: Any) -> None:
        """Give the result of an asynchronous tool call; the run continues with it."""
        await self._call("POST", f"{_call_path(url, call_id)}/result", body={"result": result})

    async def tool_error(self, url: EntityRef, call_id: str, error: str) -> None:
        """Fail an asynchronous tool call; the model sees ``error`` as the tool's answer."""
        await self._call("POST", f"{_call_path(url, call_id)}/error", body={"error": error})

    async def approve(self, url: EntityRef, call_id: str, reason: str | None = None) -> None:
        """Approve a tool call that waits for approval; the tool then runs."""
        await self._call("POST", f"{_call_path(url, call_id)}/approve", body={"reason": reason})

    async def deny(self, url: EntityRef, call_id: str, reason: str | None = None) -> None:
        """Deny a tool call that waits for approval; the model is told, with ``reason``."""
        await self._call("POST", f"{_call_path(url, call_id)}/deny", body={"reason": reason})

    # -- executors: tool calls that run outside the handler ---------------------------

    async def executor_calls(self, name: str, *, limit: int = 100) -> builtins.list[ExecutorCall]:
        """The calls the executor ``name`` may claim now, oldest first."""
        found = await self._json("GET", _executor_path(name), params={"limit": limit})
        return [ExecutorCall.model_validate(item) for item in found["calls"]]

    async def claim_call(
        self, name: str, key: str, holder: str, *, lease_seconds: float = 30.0
    ) -> ExecutorCall:
        """Claim a call for ``holder``: :class:`~wakeful.CallClaimed` if another holds it,
        :class:`~wakeful.CallNotClaimable` if it finished or waits to be retried."""
        body = {"holder": holder, "lease_seconds": lease_seconds}
        found = await self._json("POST", f"{_executor_path(name, key)}/claim", body=body)
        return ExecutorCall.model_validate(found)

    async def heartbeat_call(
        self, call: ExecutorCall, *, lease_seconds: float = 30.0
    ) -> ExecutorCall:
        """Extend the lease of a claimed call (:class:`~wakeful.CallFenced` if lost)."""
        body = {"generation": call.generation, "lease_seconds": lease_seconds}
        path = f"{_executor_path(call.executor, call.key)}/heartbeat"
        return ExecutorCall.model_validate(await self._json("POST", path, body=body))

    async def complete_call(self, call: ExecutorCall, result: Any) -> ExecutorCall:
        """Give a claimed call's result; refused (:class:`~wakeful.CallFenced`) if the claim
        is no longer the current one."""
        body = {"generation": call.generation, "result": result}
        path = f"{_executor_path(call.executor, call.key)}/complete"
        return ExecutorCall.model_validate(await self._json("POST", path, body=body))

    async def fail_call(
        self, call: ExecutorCall, error: str, *, retryable: bool = True
    ) -> ExecutorCall:
        """Fail a claimed call's attempt: retried while its tool's policy allows (and
        ``retryable``), failed for good otherwise."""
        body = {"generation": call.generation, "error": error, "retryable": retryable}
        path = f"{_executor_path(call.executor, call.key)}/fail"
        return ExecutorCall.model_validate(await self._json("POST", path, body=body))


def _executor_path(name: str, key: str | None = None) -> str:
    path = f"/v1/executors/{quote(name, safe='')}/calls"
    return path if key is None else f"{path}/{quote(key, safe='')}"


__all__ = ["DEFAULT_URL", "AsyncClient", "EntityRef", "ServerUnreachable", "ThreadRef"]
