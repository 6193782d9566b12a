"""Chat threads: a conversation with an agent, built on an entity and the agent loop."""

from .definition import ThreadConfig, define_thread
from .service import ThreadService

__all__ = ["ThreadConfig", "ThreadService", "define_thread"]
