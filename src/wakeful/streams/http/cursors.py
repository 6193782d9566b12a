"""Stream cursors: time-interval numbers that keep CDN cache keys moving forward.

Time is cut into fixed intervals from a fixed epoch; the cursor is the interval number.
When a client echoes a cursor at or past the current interval, the answer jumps ahead by
a random amount so that two cached responses can never form a loop.
"""

from __future__ import annotations

import random
import re
import time

EPOCH = 1728432000.0  # 2024-10-09T00:00:00Z
INTERVAL_SECONDS = 20
_CURSOR = re.compile(r"[0-9]{1,18}")


def current(now: float | None = None) -> int:
    return int(((time.time() if now is None else now) - EPOCH) // INTERVAL_SECONDS)


def next_cursor(client_cursor: str | None, now: float | None = None) -> str:
    interval = current(now)
    # ASCII digits only, and few enough of them for int() (isdigit() also accepts "²").
    if client_cursor is not None and _CURSOR.fullmatch(client_cursor):
        echoed = int(client_cursor)
        if echoed >= interval:
            jitter_seconds = random.randint(1, 3600)
            return str(echoed + max(1, jitter_seconds // INTERVAL_SECONDS))
    return str(interval)
