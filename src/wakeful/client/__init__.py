"""Python clients for a Wakeful server: :class:`AsyncClient` and the blocking :class:`Client`.

::

    async with AsyncClient("http://127.0.0.1:8787") as client:
        note = await client.spawn("note", message="hello")
        async for event in client.observe(note):
            print(event.type, event.value)
"""

from .async_client import DEFAULT_URL, AsyncClient
from .errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidURL,
    NotFound,
    ServerUnreachable,
    Unauthorized,
    WakefulError,
)
from .models import Entity, EntityType, Event, Thread
from .sync_client import Client

__all__ = [
    "DEFAULT_URL",
    "AsyncClient",
    "BadRequest",
    "Client",
    "Conflict",
    "Entity",
    "EntityType",
    "Event",
    "Forbidden",
    "InvalidURL",
    "NotFound",
    "ServerUnreachable",
    "Thread",
    "Unauthorized",
    "WakefulError",
]
