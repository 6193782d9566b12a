"""The background loop that sends webhook wakes and ends expired leases.

It sleeps until the store's next deadline (a delivery due, a lease running out) or until
an append pokes it, so an idle server does no work. Deliveries are claimed in the
database before they are sent, so several processes sharing one database never send the
same wake twice at once; a request runs at most its subscription's timeout (the lease
unless set), and a wake sent again goes out under a new generation (see
:func:`.engine.take_delivery`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import httpx
import orjson

from .. import offsets
from .engine import request_timeout
from .model import Link, SubscriptionRow
from .signing import SigningKey
from .store import SubscriptionStore
from .tokens import TokenClaims, issue

log = logging.getLogger("wakeful.subscriptions")

MAX_IDLE_SECONDS = 5.0


def callback_url(row: SubscriptionRow) -> str:
    return f"{row.base_url}/__ds/subscriptions/{row.id}/callback"


def wake_payload(row: SubscriptionRow, token: str) -> dict[str, object]:
    return {
        "subscription_id": row.id,
        "wake_id": row.wake_id,
        "generation": row.generation,
        "streams": [stream_view(link) for link in row.links],
        "callback_url": callback_url(row),
        "callback_token": token,
        # Append with this producer (Producer-Id, Producer-Epoch, Producer-Seq from 0) and
        # nothing more is appended for this wake once a newer one has been sent.
        "producer": {"id": row.id, "epoch": row.generation},
    }


def stream_view(link: Link) -> dict[str, object]:
    return {
        "path": link.path,
        "link_type": link.link_type,
        "acked_offset": offsets.format_offset(link.acked),
        "tail_offset": offsets.format_offset(link.tail),
        "has_pending": link.pending,
    }


class Dispatcher:
    def __init__(self, store: SubscriptionStore, key: SigningKey, secret: bytes) -> None:
        self._store = store
        self._key = key
        self._secret = secret
        self._poke = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._client = httpx.AsyncClient(follow_redirects=False)

    def poke(self) -> None:
        self._poke.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="wakeful-subscription-dispatcher")

    async def stop(self) -> None:
        tasks = [*self._sending, *([self._task] if self._task else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._client.aclose()

    async def _run(self) -> None:
        while True:
            try:
                await self._tick()
                deadline = await self._store.next_deadline()
            except Exception:
                log.exception("subscription dispatcher failed; retrying")
                deadline = time.time() + 1.0
            wait = MAX_IDLE_SECONDS if deadline is None else max(0.0, deadline - time.time())
            self._poke.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(wait, MAX_IDLE_SECONDS)):
                    await self._poke.wait()

    async def _tick(self) -> None:
        now = time.time()
        await self._store.expire_leases(now)
        for row in await self._store.take_due_deliveries(now):
            task = asyncio.create_task(self._deliver(row))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _deliver(self, row: SubscriptionRow) -> None:
        url = row.spec.webhook.url if row.spec.webhook else ""
        assert row.wake_id is not None
        token = issue(
            self._secret,
            TokenClaims(row.id, row.generation, row.wake_id),
            ttl_seconds=max(row.lease_seconds * 10, 3600),
        )
        body = orjson.dumps(wake_payload(row, token))
        headers = {
            "Content-Type": "application/json",
            "Webhook-Signature": self._key.signature_header(body),
        }
        try:
            response = await self._client.post(
                url, content=body, headers=headers, timeout=request_timeout(row)
            )
        except httpx.HTTPError as exc:
            await self._store.delivery_failed(row, f"{type(exc).__name__}: {exc}")
            return
        if not response.is_success:
            await self._store.delivery_failed(row, f"HTTP {response.status_code}")
            return
        done = False
        with contextlib.suppress(ValueError):
            answer = orjson.loads(response.content) if response.content else None
            done = isinstance(answer, dict) and answer.get("done") is True
        await self._store.delivery_succeeded(row, done)
