"""The storage a pass outside the server runs on: the server's pass routes, over HTTP.

It gives the pass runtime (``wakeful.entities._runtime``) the few things it needs of
storage (:class:`~wakeful.streams.storage.access.PassStorage`) for one claimed wake, with
that wake's callback token: stream heads and labels, messages exactly as stored, commits
of batches (:mod:`wakeful.streams.batch_wire`) and heartbeats of the wake. So the same
pass, with the same exactly-once semantics, runs here as in the server; the server checks
each batch (``wakeful.entities.pass_policy``) and applies it with its own commit.

No process follows streams here, so the change hub is fed by a slow poll: a pass's signal
watcher looks at the entity's head every :data:`POLL_SECONDS` (an interrupt, stop or
kill is seen within that), instead of being woken by the database.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from ..client.errors import from_response, unreachable
from ..entities.addressing import Address
from ..streams import batch_wire
from ..streams.batch import Operation
from ..streams.hub import ChangeHub
from ..streams.model import ReadResult, StreamRecord
from ..streams.subscriptions.model import WakeRequest
from ..streams.subscriptions.tokens import TokenClaims

POLL_SECONDS = 0.5
STREAMS_MOUNT = "/v1/stream"


class PollingHub(ChangeHub):
    """A hub whose waiters are woken by time, not by appends: a poll, for a process that
    does not see the database's changes."""

    def watch(self, stream_id: int) -> asyncio.Event:
        event = super().watch(stream_id)
        asyncio.get_running_loop().call_later(POLL_SECONDS, self.publish, [stream_id])
        return event


class _Heartbeats:
    def __init__(self, storage: HttpPassStorage) -> None:
        self._storage = storage

    async def ack(self, subscription_id: str, claims: TokenClaims, request: WakeRequest) -> bool:
        body = {
            "wake_id": request.wake_id,
            "generation": request.generation,
            "acks": [],
            "done": request.done,
        }
        path = f"{STREAMS_MOUNT}/__ds/subscriptions/{subscription_id}/ack"
        answer = await self._storage.call("POST", path, content=orjson.dumps(body))
        return bool(answer.get("next_wake"))


class HttpPassStorage:
    """:class:`~wakeful.streams.storage.access.PassStorage` for the wake ``token`` names,
    through the server at ``client.base_url``."""

    commits_in_order = False

    def __init__(self, client: httpx.AsyncClient, address: Address, token: str) -> None:
        self.client = client
        self.address = address
        self.token = token
        self.hub: ChangeHub = PollingHub()
        self.subscriptions = _Heartbeats(self)
        self._root = f"/v1/entities/{address.type}/{address.id}/pass"

    async def call(self, method: str, path: str, **options: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        try:
            response = await self.client.request(method, path, headers=headers, **options)
        except httpx.TransportError as error:
            raise unreachable(str(self.client.base_url), error) from error
        if not response.is_success:
            raise from_response(response)
        return orjson.loads(response.content) if response.content else {}

    async def _stream(self, path: str) -> dict[str, Any]:
        found: dict[str, Any] = await self.call("GET", f"{self._root}/streams/{quote(path)}")
        return found

    async def head(self, path: str) -> StreamRecord:
        found = await self._stream(path)
        return StreamRecord(
            id=int(found["id"]),
            path=path,
            content_type="application/json",
            created_at=0.0,
            ttl_seconds=None,
            expires_at=None,
            last_access=0.0,
            tail=int(found["tail"]),
            closed=bool(found["closed"]),
            closed_by=None,
            last_seq=None,
            fork_of=None,
            fork_pos=0,
            fork_request=None,
            forks=0,
            deleted=False,
            retained_from=int(found["retained_from"]),
        )

    async def labels(self, path: str) -> dict[str, str]:
        labels: dict[str, str] = (await self._stream(path))["labels"]
        return labels

    async def read_from(
        self, stream: StreamRecord, position: int, max_bytes: int = 1 << 20
    ) -> ReadResult:
        found = await self.call(
            "GET",
            f"{self._root}/messages/{quote(stream.path)}",
            params={"position": position, "max_bytes": max_bytes},
        )
        messages = [base64.b64decode(message) for message in found["messages"]]
        return ReadResult(stream, messages, int(found["next_position"]), bool(found["up_to_date"]))

    async def commit(self, operations: Sequence[Operation]) -> list[object]:
        answer = await self.call(
            "POST", f"{self._root}/commit", content=batch_wire.encode(operations)
        )
        return batch_wire.decode_results(answer)
