"""Retention: the runtime's system streams trimmed, idle entities deleted.

The wake stream only announces wakes: the subscriptions table is the truth about which
entities have work (a follower that misses announcements re-scans it). So the stream need
not keep every announcement it ever carried; without a policy it grows by one event per
wake forever. Every process's background tasks trim it to its last announcements (the
setting ``wake_retention``: enough that a follower a sweep or two behind still reads every
one, few enough that the stream stays around a megabyte), and its readers, on
``OffsetGone``, skip ahead to where it now begins and re-scan the table.

Entity types defined with ``idle_ttl`` have their entities deleted, whole, once nothing
was appended to them for that long (see :func:`delete_idle`).
"""

from __future__ import annotations

import logging
import time

from ..errors import Conflict, NotFound
from ..streams.model import StreamRecord
from ..streams.storage import Storage
from .addressing import WAKE_STREAM, Address
from .definition import Registry
from .service import EntityService

log = logging.getLogger("wakeful.entities")
IDLE_PAGE = 100


async def trim_wake_stream(storage: Storage, keep_last: int | None) -> int:
    """Drop all but the last ``keep_last`` wake announcements (None: keep all); returns
    where the stream now begins."""
    if keep_last is None:
        return 0
    try:
        return await storage.trim(WAKE_STREAM, keep_last=keep_last)
    except NotFound:
        return 0  # no wake announced yet by any process


async def delete_idle(storage: Storage, registry: Registry, now: float | None = None) -> int:
    """Delete the entities of types with an ``idle_ttl`` that nothing was appended to for
    that long and that have no wake pending; returns how many.

    Each delete is conditional on the stream's tail as it was seen here, so a message that
    lands in between keeps the entity (the delete is refused, all of it)."""
    now = time.time() if now is None else now
    service = EntityService(storage, registry)
    removed = 0
    for entity_type in registry:
        ttl = entity_type.idle_ttl
        if ttl is None:
            continue
        after = ""
        while True:
            found = await storage.find_streams(
                {"kind": "entity", "type": entity_type.name},
                prefix=f"{entity_type.name}/",
                after=after,
                limit=IDLE_PAGE,
            )
            for stream, _ in found:
                after = stream.path
                if now - stream.last_access >= ttl and await _idle_and_gone(
                    service, storage, stream
                ):
                    removed += 1
            if len(found) < IDLE_PAGE:
                break
    return removed


async def _idle_and_gone(service: EntityService, storage: Storage, stream: StreamRecord) -> bool:
    address = Address.parse("/" + "/".join(stream.path.split("/")[:2]))
    try:
        subscription = await storage.subscriptions.get(address.subscription_id)
    except NotFound:
        subscription = None
    if subscription is not None and subscription.wake_id is not None:
        return False  # a wake is pending or running: not idle
    try:
        await service.delete(address.url, if_tail=stream.tail)
    except (Conflict, NotFound):
        return False  # woken (or deleted) since it was listed
    log.info("%s: deleted after %.0f idle seconds", address.url, time.time() - stream.last_access)
    return True
