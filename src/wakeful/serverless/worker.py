"""``wakeful worker module:registry --server URL``: a worker that needs only HTTP.

For laptops and machines behind NAT: nothing listens here, and nothing but the server's
URL (and its token) is needed. The worker does what the in-process dispatcher does
(:class:`wakeful.entities.runtime.Runtime`), each step a request:

- follow the wake stream (``_wakeful/wakes``) with long-poll reads, queueing each
  announced entity of a type it runs; when none came for a while (and at start), ask
  ``GET /v1/wakes`` for the wakes the server holds unclaimed, since the stream only
  announces them;
- claim each through the pull-wake API (``POST .../__ds/subscriptions/{id}/claim``):
  the server lets exactly one claimer win, under a new generation;
- run the pass over HTTP with the claim's token (:mod:`.passes`), heartbeating the lease.

A worker killed with ``-9`` holds its claims only until their leases run out; the wake is
then announced again and this or another worker takes it, from what was committed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any

import httpx
import orjson

from ..client.errors import from_response
from ..entities.addressing import WAKE_STREAM, from_subscription_id
from ..entities.definition import Registry
from ..entities.resources import Resources
from ..entities.work_queue import WorkQueue
from ..errors import Conflict, NotFound, UnknownEntityType, WakefulError
from ._http_storage import STREAMS_MOUNT
from .claims import ClaimedWake
from .passes import run_pass

log = logging.getLogger("wakeful.serverless")
# How long the wake stream may stay quiet before the server's table is asked again.
RECHECK_SECONDS = 5.0


class HttpWorker:
    """Runs ``registry``'s passes for the server at ``server``, over HTTP only."""

    def __init__(
        self,
        server: str,
        registry: Registry,
        *,
        token: str | None = None,
        concurrency: int = 8,
        name: str | None = None,
        resources: Resources | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.AsyncClient(base_url=server.rstrip("/"), headers=headers, timeout=60)
        self.registry = registry
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.resources = resources
        self.concurrency = concurrency
        self.passes_run = 0
        self._queue = WorkQueue()

    async def start(self) -> None:
        self._queue.spawn(self._follow(), "wakeful-http-wakes")
        for index in range(self.concurrency):
            self._queue.spawn(self._queue.work(self.process), f"wakeful-http-{index}")

    async def stop(self) -> None:
        await self._queue.stop()
        await self.client.aclose()

    async def _request(self, method: str, path: str, **options: Any) -> httpx.Response:
        response = await self.client.request(method, path, **options)
        if response.status_code >= 400:
            raise from_response(response)
        return response

    def _enqueue(self, subscription_id: str) -> None:
        address = from_subscription_id(subscription_id)
        if address is None or address.type not in self.registry:
            return  # another worker's registry may know this type
        self._queue.put(subscription_id)

    async def _outstanding(self) -> None:
        types = [entity_type.name for entity_type in self.registry]
        response = await self._request("GET", "/v1/wakes", params={"type": types})
        for subscription_id in orjson.loads(response.content)["subscriptions"]:
            self._enqueue(subscription_id)

    async def _follow(self) -> None:
        wakes = f"{STREAMS_MOUNT}/{WAKE_STREAM}"
        offset = "now"
        checked = False
        while True:
            try:
                if not checked:
                    headers = {"Content-Type": "application/json"}
                    await self._request("PUT", wakes, headers=headers)  # make sure it exists
                    await self._outstanding()
                    checked = True
                response = await self._request(
                    "GET", wakes, params={"offset": offset, "live": "long-poll"}
                )
                offset = response.headers.get("Stream-Next-Offset", offset)
                announced = orjson.loads(response.content) if response.content else []
                for wake in announced:
                    if isinstance(wake, dict) and isinstance(wake.get("subscription_id"), str):
                        self._enqueue(wake["subscription_id"])
                if not announced:
                    checked = False  # quiet: look at the table again
            except asyncio.CancelledError:
                raise
            except (WakefulError, httpx.HTTPError, ValueError) as exc:
                log.warning("following the wake stream failed (%s); retrying", exc)
                checked = False
                await asyncio.sleep(1.0)

    async def process(self, subscription_id: str) -> bool:
        """Claim and run one entity's pending wake; False if there was nothing to claim."""
        path = f"{STREAMS_MOUNT}/__ds/subscriptions/{subscription_id}/claim"
        try:
            response = await self._request(
                "POST", path, content=orjson.dumps({"worker": self.name})
            )
        except (Conflict, NotFound):
            return False
        wake = ClaimedWake.parse(subscription_id, orjson.loads(response.content))
        try:
            await run_pass(
                self.client, self.registry, wake, worker=self.name, resources=self.resources
            )
        except UnknownEntityType:
            return False
        except WakefulError as exc:
            log.warning("%s: pass abandoned (%s: %s)", subscription_id, exc.code, exc.message)
            return False
        self.passes_run += 1
        return True
