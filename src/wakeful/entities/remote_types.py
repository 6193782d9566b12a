"""The remote types every process knows, kept on the system stream ``_wakeful/types``.

Registering, updating and removing a type appends a State Protocol change (collection
``type``, keyed by name) to that stream, so the registry is as durable as any entity and
shared by every process on the database, without a table of its own. Each process folds
the stream into memory at start, follows it (woken by appends, with a slow poll as a
fallback), and catches up at once when a lookup misses, so a type registered through one
server can be spawned through another right away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Literal

import orjson
from pydantic import ValidationError

from ..errors import WakefulError
from ..state.events import Change, Control, InvalidEvent, delete, insert, parse, update
from ..streams.follow import changes
from ..streams.model import AppendRequest, CreateRequest
from ..streams.storage import Storage
from .remote import RemoteType, RemoteTypeSpec

log = logging.getLogger("wakeful.entities")

TYPES_STREAM = "_wakeful/types"
COLLECTION = "type"
JSON = "application/json"
POLL_SECONDS = 5.0

Outcome = Literal["created", "updated", "unchanged"]


class RemoteTypes:
    def __init__(self, storage: Storage, callback_root: str | None) -> None:
        self.storage = storage
        self.callback_root = callback_root
        self._types: dict[str, RemoteType] = {}
        self._stream_id: int | None = None
        self._position = 0
        self._reading = asyncio.Lock()
        self._writing = asyncio.Lock()
        self._follower: asyncio.Task[None] | None = None

    def get(self, name: str) -> RemoteType | None:
        return self._types.get(name)

    def __iter__(self) -> Iterator[RemoteType]:
        return iter(list(self._types.values()))

    async def start(self) -> None:
        try:
            await self._ensure_stream()
        except WakefulError as exc:
            log.warning("cannot create %s (%s); remote types are unavailable", TYPES_STREAM, exc)
        await self.refresh()
        self._follower = asyncio.create_task(self._follow(), name="wakeful-remote-types")

    async def stop(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
            self._follower = None

    async def refresh(self) -> None:
        """Apply whatever was appended to the types stream since the last read."""
        async with self._reading:
            try:
                stream = await self.storage.head(TYPES_STREAM)
            except WakefulError:
                stream = None
            if stream is None or stream.id != self._stream_id:
                # Gone or replaced: what we folded belongs to another stream.
                self._types.clear()
                self._position = 0
                self._stream_id = stream.id if stream is not None else None
            if stream is None:
                return
            while self._position < stream.tail:
                result = await self.storage.read_from(stream, self._position)
                if not result.messages:
                    break
                for raw in result.messages:
                    self._apply(raw)
                self._position = result.next_position

    def _apply(self, raw: bytes) -> None:
        try:
            event = parse(orjson.loads(raw))
        except (orjson.JSONDecodeError, InvalidEvent):
            return
        if isinstance(event, Control):
            if event.control == "reset":
                self._types.clear()
            return
        if event.type != COLLECTION:
            return
        if event.operation == "delete":
            self._types.pop(event.key, None)
            return
        found = self._build(event)
        if found is not None:
            self._types[event.key] = found

    def _build(self, event: Change) -> RemoteType | None:
        # The stream is writable through the streams protocol too, so a hand-made change
        # that is not a valid type is skipped rather than trusted.
        try:
            spec = RemoteTypeSpec.model_validate(event.value)
            if spec.name != event.key:
                raise ValueError(f"key {event.key!r} does not match the name {spec.name!r}")
            return RemoteType.build(spec, self.callback_root)
        except (ValidationError, ValueError, WakefulError) as exc:
            log.warning("skipping invalid remote type %r on %s: %s", event.key, TYPES_STREAM, exc)
            return None

    async def put(self, spec: RemoteTypeSpec) -> tuple[RemoteType, Outcome]:
        """Register ``spec``, or update the type of that name; nothing is written if the
        stored type is the same."""
        built = RemoteType.build(spec, self.callback_root)
        async with self._writing:
            await self.refresh()
            current = self._types.get(spec.name)
            if current is not None and current.spec == spec:
                return current, "unchanged"
            value = spec.model_dump(mode="json")
            if current is None:
                await self._append(insert(COLLECTION, spec.name, value))
            else:
                old = current.spec.model_dump(mode="json")
                await self._append(update(COLLECTION, spec.name, value, old_value=old))
            await self.refresh()
        return self._types.get(spec.name, built), "created" if current is None else "updated"

    async def remove(self, name: str) -> bool:
        """Forget the type ``name``; False if there was none."""
        async with self._writing:
            await self.refresh()
            current = self._types.get(name)
            if current is None:
                return False
            old = current.spec.model_dump(mode="json")
            await self._append(delete(COLLECTION, name, old_value=old))
            await self.refresh()
        return True

    async def _append(self, event: dict[str, object]) -> None:
        await self._ensure_stream()
        await self.storage.append(AppendRequest(TYPES_STREAM, JSON, [orjson.dumps(event)]))

    async def _ensure_stream(self) -> None:
        await self.storage.create(CreateRequest(TYPES_STREAM, JSON, None, None, False, b""))

    async def _follow(self) -> None:
        while True:
            try:
                async for _ in changes(self.storage, TYPES_STREAM, idle=POLL_SECONDS):
                    await self.refresh()
                # No types stream (yet): look again soon.
                await self.refresh()
                await asyncio.sleep(POLL_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("following %s failed; retrying", TYPES_STREAM)
                await asyncio.sleep(POLL_SECONDS)
