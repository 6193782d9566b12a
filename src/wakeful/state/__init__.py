"""The State Protocol: change events materialized into typed collections."""

from .collections import Collection
from .events import Change, Control, change, delete, insert, parse, update
from .materialize import StateStore

__all__ = [
    "Change",
    "Collection",
    "Control",
    "StateStore",
    "change",
    "delete",
    "insert",
    "parse",
    "update",
]
