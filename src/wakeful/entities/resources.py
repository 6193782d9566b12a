"""Typed resources: what a runtime provides to every handler context, keyed by class.

A runtime is given a :class:`Resources` and each pass's context reads from it with the
class as the key, so ``ctx.resources.require(Database)`` is a ``Database`` to the type
checker and no string names a service. The agent loop reaches handlers this way
(:class:`AgentFactory`), and so can anything a user's handlers share (a client pool,
settings).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    # Typing only: the agent layer sits above this one (it imports the entities), so at
    # run time this module must not import it; the runtime hands the agent layer's
    # factory in as a resource instead (see ``AgentFactory``).
    from ..agent.loop import Agent
    from ..state import StateStore
    from .context import Context

T = TypeVar("T")


class MissingResource(LookupError):
    """A handler asked for a resource (such as the agent loop) its runtime does not provide:
    a mistake in how the runtime was set up, not in a request."""


class Resources:
    """A small registry of typed values, keyed by class (a value may be a subclass)."""

    def __init__(self) -> None:
        self._values: dict[type[Any], Any] = {}

    def provide(self, kind: type[T], value: T) -> Resources:
        """Provide ``value`` as ``kind`` (replacing an earlier one); returns ``self``."""
        if not isinstance(value, kind):
            raise TypeError(f"{value!r} is not a {kind.__name__}")
        self._values[kind] = value
        return self

    def get(self, kind: type[T]) -> T | None:
        found = self._values.get(kind)
        return found if isinstance(found, kind) else None

    def require(self, kind: type[T]) -> T:
        """The value provided as ``kind``; :class:`MissingResource` if there is none."""
        found = self.get(kind)
        if found is None:
            raise MissingResource(f"this runtime provides no {kind.__name__}")
        return found

    def __contains__(self, kind: object) -> bool:
        return kind in self._values


class AgentFactory:
    """Makes the agent for ``ctx.use_agent(...)``; the agent layer implements it
    (:class:`wakeful.agent.Agents`) and the server provides it to its runtime.

    A class rather than a ``typing.Protocol`` so that it can key :class:`Resources` (a
    type checker accepts no protocol where a concrete class is expected)."""

    def __call__(self, ctx: Context, /, *args: Any, **kwargs: Any) -> Agent:
        """The agent for ``ctx``, from the arguments of ``AgentOptions`` or from one
        ``AgentOptions``."""
        raise NotImplementedError


class PassCloser:
    """Closes the rows a pass left open once that pass is over for good (kill, stop, a
    handler out of attempts, a commit that failed): the agent layer implements it
    (:class:`wakeful.agent.provider.OpenRuns`), so that no run, step or tool call stays
    ``running`` forever, while this layer imports nothing from it.

    ``reason`` is one of :data:`CLOSE_REASONS`; ``error`` says what failed, if anything.
    Returns the events that close them (none when nothing is open)."""

    def __call__(
        self, store: StateStore, reason: str, error: str | None = None
    ) -> list[dict[str, Any]]:
        raise NotImplementedError


#: Why a pass is over for good, as :class:`PassCloser` is told.
PASS_FAILED = "pass_failed"
STOPPED = "stopped"
KILLED = "killed"
CLOSE_REASONS = (PASS_FAILED, STOPPED, KILLED)
