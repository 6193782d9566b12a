"""Chat threads: a conversation with an agent, built on an entity and the agent loop."""

from .definition import ThreadConfig, builtin_registry, define_thread
from .service import ThreadService

__all__ = ["ThreadConfig", "ThreadService", "builtin_registry", "define_thread"]
