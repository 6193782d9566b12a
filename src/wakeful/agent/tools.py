"""Tools: plain Python functions the model may call.

A function's type hints and docstring become the tool's JSON schema (through Pydantic);
the model's arguments are validated against it, and invalid arguments go back to the model
as a tool error instead of raising. A parameter annotated :class:`ToolContext` receives
the handler context and the call's idempotency key, and is hidden from the model.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_type_hints

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from .executor_rows import ExecutorCall, check_name
from .models.base import ToolSpec

if TYPE_CHECKING:
    from ..entities.context import Context

ToolKind = Literal["call", "async", "approval", "executor"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often a failing (or interrupted) tool call is tried, and which errors retry."""

    attempts: int = 1
    backoff_seconds: float = 0.5
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def retries(self, error: BaseException) -> bool:
        return isinstance(error, self.retry_on)


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a tool can reach: the handler context and the identity of this call."""

    ctx: Context
    run_id: str
    call_id: str
    attempt: int

    @property
    def idempotency_key(self) -> str:
        """Stable across retries and crash recovery: use it for your own side effects."""
        return f"{self.ctx.url}:{self.run_id}:{self.call_id}"


class ToolArgumentsError(ValueError):
    """The model's arguments do not fit the tool's schema."""


@dataclass(slots=True)
class Tool:
    name: str
    description: str
    function: Callable[..., Any]
    arguments: type[BaseModel]
    context_parameter: str | None = None
    kind: ToolKind = "call"
    timeout: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: The executor that runs the tool's calls (``kind="executor"``), outside the handler.
    executor: str | None = None
    #: The parameter that receives the claimed :class:`ExecutorCall`, in an executor.
    call_parameter: str | None = None
    _spec: ToolSpec | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def spec(self) -> ToolSpec:
        # Generating a JSON schema costs far more than a step of the loop: do it once.
        if self._spec is None:
            schema = self.arguments.model_json_schema()
            schema.pop("title", None)
            self._spec = ToolSpec(self.name, self.description, schema)
        return self._spec

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        try:
            model = self.arguments.model_validate(arguments)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in item['loc']) or 'arguments'}: {item['msg']}"
                for item in exc.errors()[:5]
            )
            raise ToolArgumentsError(f"invalid arguments for {self.name}: {problems}") from None
        return {name: getattr(model, name) for name in type(model).model_fields}

    async def call(self, arguments: dict[str, Any], context: ToolContext) -> Any:
        values = self.validate(arguments)
        if self.context_parameter is not None:
            values[self.context_parameter] = context
        return await self._invoke(values)

    async def call_claimed(self, claimed: ExecutorCall) -> Any:
        """Run a call an executor claimed (the tool's ``ExecutorCall`` parameter, if it
        has one, receives it: its idempotency key is the same on every attempt)."""
        values = self.validate(claimed.args)
        if self.call_parameter is not None:
            values[self.call_parameter] = claimed
        return await self._invoke(values)

    async def _invoke(self, values: dict[str, Any]) -> Any:
        if inspect.iscoroutinefunction(self.function):
            awaitable: Awaitable[Any] = self.function(**values)
        else:
            awaitable = asyncio.to_thread(self.function, **values)
        if self.timeout is None:
            return await awaitable
        async with asyncio.timeout(self.timeout):
            return await awaitable


def jsonable(value: Any) -> Any:
    """A tool's result as JSON values (a model dumped; what JSON cannot hold, as text)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    try:
        return orjson.loads(orjson.dumps(value))
    except TypeError:
        return str(value)


def _description(function: Callable[..., Any]) -> str:
    doc = inspect.getdoc(function) or ""
    return doc.split("\n\n", 1)[0].strip() or function.__name__.replace("_", " ")


def tool(
    function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    kind: ToolKind = "call",
    timeout: float | None = None,
    retry: RetryPolicy | None = None,
    executor: str | None = None,
) -> Any:
    """Make a tool from a function; usable bare (``@tool``) or with options.

    ``kind="async"``: the result comes later from outside (the run waits for it);
    ``kind="approval"``: a person must approve each call before it runs;
    ``executor="browser"``: the executor of that name runs each call, wherever it is
    (a page, another process), and the run waits for its result without holding a worker.
    """
    if executor is not None:
        check_name(executor)
        if kind != "call":
            raise TypeError("a tool run by an executor takes no other kind")
        kind = "executor"

    def build(target: Callable[..., Any]) -> Tool:
        hints = get_type_hints(target)
        fields: dict[str, Any] = {}
        context_parameter = call_parameter = None
        for parameter in inspect.signature(target).parameters.values():
            annotation = hints.get(parameter.name, Any)
            if annotation is ToolContext:
                context_parameter = parameter.name
                continue
            if annotation is ExecutorCall:
                call_parameter = parameter.name
                continue
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise TypeError(f"tool {target.__name__}: *args and **kwargs are not supported")
            default = ... if parameter.default is parameter.empty else parameter.default
            fields[parameter.name] = (annotation, default)
        tool_name = name or target.__name__
        arguments = create_model(
            f"{tool_name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
        )
        return Tool(
            name=tool_name,
            description=description or _description(target),
            function=target,
            arguments=arguments,
            context_parameter=context_parameter,
            kind=kind,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            executor=executor,
            call_parameter=call_parameter,
        )

    if function is not None:
        return build(function)
    return build


def as_tool(value: Tool | Callable[..., Any]) -> Tool:
    return value if isinstance(value, Tool) else tool(value)


class _AnyArguments(BaseModel):
    """The arguments of a tool whose schema is the front end's: any object passes here,
    and the front end that runs the tool checks them."""

    model_config = ConfigDict(extra="allow")


def _runs_in_the_front_end(**arguments: Any) -> Any:
    raise AssertionError("a front-end tool is never called here: its result comes from outside")


def front_end_tool(name: str, description: str, parameters: dict[str, Any]) -> Tool:
    """A tool the front end runs (AG-UI's ``RunAgentInput.tools``): offered to the model
    with the front end's JSON schema; each call waits durably, as an ``async`` tool's
    does, for the result the front end sends back."""
    made = Tool(name, description, _runs_in_the_front_end, _AnyArguments, kind="async")
    made._spec = ToolSpec(name, description, parameters)
    return made
