"""Type operations for clients: list and describe every type, register and remove remote ones.

Python types come from the code a process runs and cannot be changed from outside; remote
types (see :mod:`.remote`) are registered here and stored for every process to see.
"""

from __future__ import annotations

from typing import Any

from ..errors import LocalTypeConflict, TypeInUse, UnknownEntityType
from ..streams.storage import Storage
from .definition import Registry
from .remote import RemoteTypeSpec
from .remote_types import Outcome, RemoteTypes


class TypeService:
    def __init__(self, storage: Storage, registry: Registry) -> None:
        if registry.remote is None:
            raise ValueError("TypeService needs a registry with remote types (with_remote)")
        self.storage = storage
        self.registry = registry
        self.remote: RemoteTypes = registry.remote

    async def describe_all(self) -> list[dict[str, Any]]:
        await self.remote.refresh()
        local = [entity_type.describe() for entity_type in self.registry]
        remote = [found.describe() for found in self.remote if found.name not in self.registry]
        return local + sorted(remote, key=lambda described: str(described["name"]))

    async def describe(self, name: str) -> dict[str, Any]:
        await self.remote.refresh()  # also see updates and removals made elsewhere
        return self.registry.find(name).describe()

    async def register(self, spec: RemoteTypeSpec) -> tuple[dict[str, Any], Outcome]:
        self._refuse_local(spec.name)
        registered, outcome = await self.remote.put(spec)
        return registered.describe(), outcome

    async def remove(self, name: str) -> None:
        """Remove a remote type that no entity uses any more (409 ``TYPE_IN_USE`` while
        some do: their webhooks would keep firing for a type no one could message)."""
        self._refuse_local(name)
        await self.remote.refresh()
        if self.remote.get(name) is None:
            raise UnknownEntityType(f"no remote entity type {name!r} is registered")
        live = await self.storage.find_streams(
            {"kind": "entity", "type": name}, prefix=f"{name}/", limit=1
        )
        if live:
            example = "/" + "/".join(live[0][0].path.split("/")[:2])
            raise TypeInUse(
                f"entity type {name!r} still has entities (such as {example}); delete them first"
            )
        await self.remote.remove(name)

    def _refuse_local(self, name: str) -> None:
        if name in self.registry:
            raise LocalTypeConflict(
                f"entity type {name!r} is defined in Python by this server and cannot be"
                " registered or removed over HTTP"
            )
