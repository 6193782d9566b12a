"""Every setting of ``wakeful serve``, ``wakeful worker`` and the runtime, in one place.

Each setting is a field of :class:`Settings` with its default and a one-line description,
written here once: the command line makes its options from these fields (the
description is the option's ``--help``), ``create_app``, the worker and the runtime read
them, and the README's Configuration table is checked against them. What a process
runs with is, from weakest to strongest: the default, the environment variable
``WAKEFUL_<NAME>`` (:meth:`Settings.from_env`), then the command-line option.

This module imports nothing of Wakeful above the streams layer, so every layer (the
runtime included) can read its defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .streams.json_limits import DEFAULT_MAX_DEPTH, WRITABLE_DEPTH

ENV_PREFIX = "WAKEFUL_"
# Older names still read, so a deployment configured before the rename keeps its database.
_FORMER_ENV = {"database": "WAKEFUL_DATABASE_URL"}


@dataclass(frozen=True, slots=True)
class Option:
    """How a setting appears on the command line.

    ``flag`` is the option's declaration when it is not ``--<field-name>``; ``worker``
    says whether ``wakeful worker`` takes it too (settings of HTTP serving do not)."""

    flag: str | None = None
    worker: bool = True


HTTP = Option(worker=False)


class Settings(BaseModel):
    """What a Wakeful process runs with. ``Settings()`` is every default;
    :meth:`from_env` adds the environment; fields given to either override both."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    # Where the data lives.
    database: Annotated[str, Option()] = Field(
        ".wakeful/wakeful.db",
        min_length=1,
        description="SQLite file path or sqlite:///path, or postgresql://user@host/db.",
    )
    sqlite_synchronous: Annotated[Literal["off", "normal", "full", "extra"], Option()] = Field(
        "normal",
        description="SQLite durability: 'normal' survives a killed process, 'full' also power"
        " loss.",
    )
    # Listening for HTTP.
    host: Annotated[str, HTTP] = Field(
        "127.0.0.1",
        description="Interface to listen on; any other than loopback needs a token.",
    )
    port: Annotated[int, HTTP] = Field(8787, ge=0, le=65535, description="Port to listen on.")
    http: Annotated[Literal["auto", "httptools", "h11"], HTTP] = Field(
        "auto", description="HTTP parser: auto (httptools if installed), httptools or h11."
    )
    # Who may call.
    token: Annotated[str | None, HTTP] = Field(
        None,
        repr=False,
        description="Bearer token required on every request. Without one, only 127.0.0.1 is"
        " served.",
    )
    principals: Annotated[Path | None, HTTP] = Field(
        None,
        description="TOML file of principals, each with a token (and admin); see docs/security.md.",
    )
    auth: Annotated[Any, HTTP] = Field(
        None,
        description="Principals and policy: an Auth or an authenticator, or its"
        " module:object name.",
    )
    cors_origins: Annotated[tuple[str, ...], Option("--cors-origin", worker=False)] = Field(
        ("*",),
        description="Origins a browser may call the JSON API from ('*': any; repeatable, or"
        " space-separated in the environment). Stream routes allow any origin.",
    )
    # Requests the server accepts.
    max_body_bytes: Annotated[int, HTTP] = Field(
        32 << 20, ge=1, description="Largest request body accepted; bigger ones get 413."
    )
    max_json_depth: Annotated[int, HTTP] = Field(
        DEFAULT_MAX_DEPTH,
        ge=1,
        le=WRITABLE_DEPTH,
        description="Deepest JSON nesting accepted; deeper gets 400.",
    )
    max_header_bytes: Annotated[int, HTTP] = Field(
        64 << 10,
        ge=1024,
        description="Largest request head (all headers together) accepted; more gets 431.",
    )
    max_headers: Annotated[int, HTTP] = Field(
        100, ge=1, description="Most headers one request may carry; more get 431."
    )
    # Live reads.
    long_poll_timeout: Annotated[float, HTTP] = Field(
        30.0, gt=0, description="Seconds a long-poll read waits for new data."
    )
    sse_max_seconds: Annotated[float, HTTP] = Field(
        60.0, gt=0, description="Seconds before an SSE connection is closed for reconnect."
    )
    max_live_per_client: Annotated[int, HTTP] = Field(
        64, ge=1, description="Open long-poll and SSE reads per client address; more get 429."
    )
    # Running entities.
    run_workers: Annotated[bool, Option("--workers/--no-workers", worker=False)] = Field(
        True, description="Run entity handlers in this process (--no-workers: HTTP only)."
    )
    worker_concurrency: Annotated[int, Option("--concurrency")] = Field(
        64, ge=1, description="Handler passes run at once in this process."
    )
    state_cache_size: Annotated[int, Option()] = Field(
        1000, ge=0, description="Entities whose loaded state is kept in memory between wakes."
    )
    max_model_calls: Annotated[int, Option()] = Field(
        16, ge=1, description="Model calls at once in this process (more wait their turn)."
    )
    max_tool_calls: Annotated[int, Option()] = Field(
        32, ge=1, description="Tool executions at once in this process (more wait their turn)."
    )
    expiry_sweep_seconds: Annotated[float, Option()] = Field(
        30.0, gt=0, description="Seconds between sweeps that delete expired streams."
    )
    wake_retention: Annotated[int, Option()] = Field(
        10_000,
        ge=0,
        description="Wake announcements the wake stream keeps; older ones are trimmed at each"
        " expiry sweep (the wakes themselves stay until handled). 0 keeps every one.",
    )
    # Spending (docs/usage.md): prices, and budgets a type or thread may override.
    prices: Annotated[Path | None, Option()] = Field(
        None,
        description="TOML file of model prices (USD per million tokens) over the built-in"
        " table; see docs/usage.md.",
    )
    run_token_budget: Annotated[int | None, Option()] = Field(
        None, ge=0, description="Tokens (input plus output) one agent run may spend."
    )
    run_cost_budget: Annotated[float | None, Option()] = Field(
        None, ge=0, description="US dollars one agent run may spend."
    )
    entity_daily_token_budget: Annotated[int | None, Option()] = Field(
        None, ge=0, description="Tokens one entity's runs may spend per UTC day."
    )
    entity_daily_cost_budget: Annotated[float | None, Option()] = Field(
        None, ge=0, description="US dollars one entity's runs may spend per UTC day."
    )
    principal_daily_token_budget: Annotated[int | None, Option()] = Field(
        None, ge=0, description="Tokens the runs one principal started may spend per UTC day."
    )
    principal_daily_cost_budget: Annotated[float | None, Option()] = Field(
        None, ge=0, description="US dollars the runs one principal started may spend per UTC day."
    )
    public_url: Annotated[str | None, Option()] = Field(
        None,
        description="URL outside services use to reach this server (webhook callbacks of"
        " remote types); serve defaults to its own address.",
    )
    thread_type: Annotated[str, HTTP] = Field(
        "thread", min_length=1, description="Entity type the threads API (/v1/threads) serves."
    )
    log_level: Annotated[Literal["critical", "error", "warning", "info", "debug"], Option()] = (
        Field("info", description="Log level: critical, error, warning, info or debug.")
    )

    @field_validator("sqlite_synchronous", "log_level", mode="before")
    @classmethod
    def _lowercase(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, /, **overrides: Any) -> Settings:
        """The defaults, overridden by ``WAKEFUL_*`` variables of ``environ`` (by default
        the process environment), overridden by ``overrides``. An empty variable counts as
        unset. Raises :class:`InvalidSettings` naming where each bad value came from."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for name in cls.model_fields:
            for variable in env_names(name):
                if raw := environ.get(variable):
                    values[name] = raw.split() if name == "cors_origins" else raw
                    sources[name] = variable
                    break
        for name, value in overrides.items():
            values[name] = value
            sources[name] = name
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise InvalidSettings.from_validation(error, sources) from None


class InvalidSettings(ValueError):
    """Settings that cannot be used; ``problems`` maps each bad setting to what is wrong,
    and ``sources`` says where its value came from (an environment variable, or the name
    it was given by)."""

    def __init__(self, problems: dict[str, str], sources: Mapping[str, str]) -> None:
        self.problems = problems
        self.sources = {name: sources.get(name, name) for name in problems}
        super().__init__(
            "; ".join(f"{self.sources[name]}: {problem}" for name, problem in problems.items())
        )

    @classmethod
    def from_validation(cls, error: ValidationError, sources: Mapping[str, str]) -> InvalidSettings:
        problems: dict[str, str] = {}
        for item in error.errors():
            name = str(item["loc"][0]) if item["loc"] else "settings"
            problems.setdefault(name, f"{item['msg']} (got {item.get('input')!r})")
        return cls(problems, sources)


def env_name(field: str) -> str:
    """The environment variable that sets ``field``: ``WAKEFUL_`` and its name."""
    return ENV_PREFIX + field.upper()


def env_names(field: str) -> tuple[str, ...]:
    """Every variable read for ``field``, the first set one winning: its own, then any
    former name."""
    former = _FORMER_ENV.get(field)
    return (env_name(field), former) if former else (env_name(field),)


def option_of(field: str) -> Option:
    """How ``field`` appears on the command line."""
    found = [item for item in Settings.model_fields[field].metadata if isinstance(item, Option)]
    return found[0] if found else Option()


def flag_of(field: str) -> str:
    """The option's declaration, e.g. ``--max-tool-calls`` or ``--workers/--no-workers``."""
    return option_of(field).flag or "--" + field.replace("_", "-")


DEFAULTS = Settings()
