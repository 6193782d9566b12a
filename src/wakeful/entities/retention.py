"""Retention of the runtime's system streams.

The wake stream only announces wakes: the subscriptions table is the truth about which
entities have work (a follower that misses announcements re-scans it). So the stream need
not keep every announcement it ever carried; without a policy it grows by one event per
wake forever. Every process's background tasks trim it to its last announcements (the
setting ``wake_retention``: enough that a follower a sweep or two behind still reads every
one, few enough that the stream stays around a megabyte), and its readers, on
``OffsetGone``, skip ahead to where it now begins and re-scan the table.
"""

from __future__ import annotations

from ..errors import NotFound
from ..streams.storage import Storage
from .addressing import WAKE_STREAM


async def trim_wake_stream(storage: Storage, keep_last: int | None) -> int:
    """Drop all but the last ``keep_last`` wake announcements (None: keep all); returns
    where the stream now begins."""
    if keep_last is None:
        return 0
    try:
        return await storage.trim(WAKE_STREAM, keep_last=keep_last)
    except NotFound:
        return 0  # no wake announced yet by any process
