"""Event timestamps: ISO 8601 UTC with milliseconds, as datetime would write them."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from wakeful.state.events import now_timestamp


def test_now_timestamp_matches_datetime_formatting() -> None:
    for _ in range(3):
        before = datetime.now(UTC).replace(microsecond=0)
        stamp = now_timestamp()
        after = datetime.now(UTC)
        assert stamp.endswith("Z") and len(stamp) == len("2026-01-01T00:00:00.000Z")
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        assert before <= parsed <= after
        time.sleep(0.4)  # crosses a second boundary at least once
