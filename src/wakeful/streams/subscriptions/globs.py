"""Subscription patterns: ``*`` matches one path segment, ``**`` zero or more."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1024)
def _segments(pattern: str) -> tuple[str, ...]:
    return tuple(pattern.split("/"))


def matches(pattern: str, path: str) -> bool:
    return _match(_segments(pattern), tuple(path.split("/")))


def _match(pattern: tuple[str, ...], path: tuple[str, ...]) -> bool:
    if not pattern:
        return not path
    head = pattern[0]
    if head == "**":
        return any(_match(pattern[1:], path[skip:]) for skip in range(len(path) + 1))
    if not path:
        return False
    return _segment(head, path[0]) and _match(pattern[1:], path[1:])


def _segment(pattern: str, name: str) -> bool:
    """One segment; ``*`` inside a segment (``job-*``) matches any run of characters."""
    if pattern == "*":
        return True
    if "*" not in pattern:
        return pattern == name
    parts = pattern.split("*")
    if not name.startswith(parts[0]) or not name.endswith(parts[-1]):
        return False
    position = len(parts[0])
    limit = len(name) - len(parts[-1])
    for part in parts[1:-1]:
        found = name.find(part, position, limit)
        if found < 0:
            return False
        position = found + len(part)
    return position <= limit
