"""Wakeful: durable, collaborative AI agents on Durable Streams.

Everything a handler author, a client or an embedding app needs is importable from here::

    from wakeful import Registry, Context, Wake, collection, tool, ToolContext

The names load on first use, so ``import wakeful`` stays cheap and a process that only
runs handlers never imports the HTTP server or the HTTP client. The subpackages are the
layers underneath (see ``__all__`` for what is public); modules whose names start with
``_`` are internal.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# Not ``typing.TYPE_CHECKING``: importing typing would double the cost of ``import
# wakeful``. Type checkers take any constant of this name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:  # what the lazy names below are, for type checkers and editors
    from typing import Any

    from ._extras import MissingExtra
    from .agent.budgets import Budget, BudgetReason
    from .agent.executor_rows import ExecutorCall
    from .agent.loop import Agent, RunResult
    from .agent.mcp import MCPTools
    from .agent.models.base import Model, ModelError
    from .agent.models.test import TestModel
    from .agent.options import AgentOptions
    from .agent.pricing import Price, Prices
    from .agent.tools import RetryPolicy, Tool, ToolContext, tool
    from .client import AsyncClient, Client, Entity, Event, Thread
    from .client.executor import Executor
    from .entities.context import Context
    from .entities.definition import Registry, collection
    from .entities.resources import MissingResource, Resources
    from .entities.wake import ChildStatus, Message, Reply, Signal, Timer, Wake
    from .errors import (
        AlreadyAnswered,
        AlreadyClaimed,
        BadRequest,
        CallClaimed,
        CallFenced,
        CallNotClaimable,
        Conflict,
        EntityExists,
        EntityTerminated,
        ErrorCode,
        Fenced,
        Forbidden,
        Gone,
        HeadersTooLarge,
        InvalidAddress,
        InvalidArguments,
        InvalidEntityURL,
        InvalidMessage,
        InvalidSchema,
        InvalidURL,
        LocalTypeConflict,
        MessageRejected,
        MethodNotAllowed,
        NoPendingWork,
        NoPublicURL,
        NotFound,
        OffsetGone,
        PayloadTooLarge,
        SequenceGap,
        ServerUnreachable,
        StaleEpoch,
        StreamClosed,
        StreamDeleted,
        StreamExists,
        StreamNotFound,
        SubscriptionExists,
        SubscriptionNotFound,
        TooManyRequests,
        TypeInUse,
        Unauthorized,
        Unavailable,
        UnknownEntity,
        UnknownEntityType,
        UnknownExecutorCall,
        UnknownRun,
        UnknownThread,
        UnknownToolCall,
        UnsupportedMediaType,
        WakefulError,
        WebhookURLRejected,
    )
    from .integrations._durable import CallInfo, DurableResult, current_call
    from .integrations.openai_agents import WakefulRunner
    from .integrations.openai_agents_session import WakefulSession
    from .integrations.pydantic_ai import WakefulAgent
    from .server.app import create_app
    from .server.principals import Auth, Principal, bearer_token
    from .settings import InvalidSettings, Settings
    from .state import StateStore
    from .threads.definition import ThreadConfig, define_thread

# Where each public name lives. Most of these modules pull in Pydantic, httpx or Starlette,
# so each module is imported when one of its names is first asked for.
_LAZY: dict[str, tuple[str, ...]] = {
    # handlers: the registry, the context a handler gets, and why it woke
    "wakeful.entities.definition": ("Registry", "collection"),
    "wakeful.entities.context": ("Context",),
    "wakeful.entities.wake": ("Wake", "Message", "Reply", "ChildStatus", "Signal", "Timer"),
    "wakeful.entities.resources": ("Resources", "MissingResource"),
    "wakeful.state": ("StateStore",),
    # the agent loop and its tools
    "wakeful.agent.loop": ("Agent", "RunResult"),
    "wakeful.agent.options": ("AgentOptions",),
    "wakeful.agent.budgets": ("Budget", "BudgetReason"),
    "wakeful.agent.pricing": ("Price", "Prices"),
    "wakeful.agent.models.base": ("Model", "ModelError"),
    "wakeful.agent.models.test": ("TestModel",),
    "wakeful.agent.tools": ("Tool", "tool", "ToolContext", "RetryPolicy"),
    "wakeful.agent.mcp": ("MCPTools",),
    "wakeful.agent.executor_rows": ("ExecutorCall",),
    "wakeful.client.executor": ("Executor",),
    "wakeful._extras": ("MissingExtra",),
    # agents of other frameworks, durable (each behind its extra)
    "wakeful.integrations._durable": ("DurableResult", "current_call", "CallInfo"),
    "wakeful.integrations.pydantic_ai": ("WakefulAgent",),
    "wakeful.integrations.openai_agents": ("WakefulRunner",),
    "wakeful.integrations.openai_agents_session": ("WakefulSession",),
    # chat threads
    "wakeful.threads.definition": ("ThreadConfig", "define_thread"),
    # serving and calling a server
    "wakeful.settings": ("Settings", "InvalidSettings"),
    "wakeful.server.app": ("create_app",),
    "wakeful.server.principals": ("Auth", "Principal", "bearer_token"),
    "wakeful.client": ("AsyncClient", "Client", "Entity", "Event", "Thread"),
    # errors
    "wakeful.errors": (
        "WakefulError",
        "ErrorCode",
        "BadRequest",
        "Unauthorized",
        "Forbidden",
        "NotFound",
        "MethodNotAllowed",
        "Conflict",
        "Gone",
        "PayloadTooLarge",
        "UnsupportedMediaType",
        "HeadersTooLarge",
        "TooManyRequests",
        "Unavailable",
        "StreamNotFound",
        "StreamDeleted",
        "OffsetGone",
        "StreamExists",
        "StreamClosed",
        "StaleEpoch",
        "SequenceGap",
        "SubscriptionNotFound",
        "SubscriptionExists",
        "Fenced",
        "AlreadyClaimed",
        "NoPendingWork",
        "WebhookURLRejected",
        "InvalidAddress",
        "InvalidEntityURL",
        "UnknownEntityType",
        "UnknownEntity",
        "InvalidArguments",
        "InvalidMessage",
        "InvalidSchema",
        "EntityExists",
        "EntityTerminated",
        "LocalTypeConflict",
        "TypeInUse",
        "NoPublicURL",
        "UnknownToolCall",
        "UnknownRun",
        "MessageRejected",
        "AlreadyAnswered",
        "UnknownExecutorCall",
        "CallClaimed",
        "CallNotClaimable",
        "CallFenced",
        "UnknownThread",
        "InvalidURL",
        "ServerUnreachable",
    ),
}
_LOCATIONS = {name: module for module, names in _LAZY.items() for name in names}

__all__ = [
    "Agent",
    "AgentOptions",
    "AlreadyAnswered",
    "AlreadyClaimed",
    "AsyncClient",
    "Auth",
    "BadRequest",
    "Budget",
    "BudgetReason",
    "CallClaimed",
    "CallFenced",
    "CallInfo",
    "CallNotClaimable",
    "ChildStatus",
    "Client",
    "Conflict",
    "Context",
    "DurableResult",
    "Entity",
    "EntityExists",
    "EntityTerminated",
    "ErrorCode",
    "Event",
    "Executor",
    "ExecutorCall",
    "Fenced",
    "Forbidden",
    "Gone",
    "HeadersTooLarge",
    "InvalidAddress",
    "InvalidArguments",
    "InvalidEntityURL",
    "InvalidMessage",
    "InvalidSchema",
    "InvalidSettings",
    "InvalidURL",
    "LocalTypeConflict",
    "MCPTools",
    "Message",
    "MessageRejected",
    "MethodNotAllowed",
    "MissingExtra",
    "MissingResource",
    "Model",
    "ModelError",
    "NoPendingWork",
    "NoPublicURL",
    "NotFound",
    "OffsetGone",
    "PayloadTooLarge",
    "Price",
    "Prices",
    "Principal",
    "Registry",
    "Reply",
    "Resources",
    "RetryPolicy",
    "RunResult",
    "SequenceGap",
    "ServerUnreachable",
    "Settings",
    "Signal",
    "StaleEpoch",
    "StateStore",
    "StreamClosed",
    "StreamDeleted",
    "StreamExists",
    "StreamNotFound",
    "SubscriptionExists",
    "SubscriptionNotFound",
    "TestModel",
    "Thread",
    "ThreadConfig",
    "Timer",
    "TooManyRequests",
    "Tool",
    "ToolContext",
    "TypeInUse",
    "Unauthorized",
    "Unavailable",
    "UnknownEntity",
    "UnknownEntityType",
    "UnknownExecutorCall",
    "UnknownRun",
    "UnknownThread",
    "UnknownToolCall",
    "UnsupportedMediaType",
    "Wake",
    "WakefulAgent",
    "WakefulError",
    "WakefulRunner",
    "WakefulSession",
    "WebhookURLRejected",
    "__version__",
    "bearer_token",
    "collection",
    "create_app",
    "current_call",
    "define_thread",
    "tool",
]


def __getattr__(name: str) -> Any:
    location = _LOCATIONS.get(name)
    if location is None:
        raise AttributeError(f"module 'wakeful' has no attribute {name!r}")
    value = getattr(importlib.import_module(location), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LOCATIONS})
