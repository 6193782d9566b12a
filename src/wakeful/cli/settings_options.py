"""The options of ``wakeful serve`` and ``wakeful worker``, made from :class:`Settings`.

Each field of :class:`~wakeful.settings.Settings` becomes one option, named by
:func:`~wakeful.settings.flag_of`, whose help is the field's description and whose shown
default is the field's default; so no option, help text or default is written here.
An option left out is ``None`` to the command, which lets :meth:`Settings.from_env`
apply the environment beneath the options that were given.
"""

from __future__ import annotations

import functools
import inspect
import os
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from ..settings import InvalidSettings, Settings, env_name, env_names, flag_of, option_of

Command = Callable[..., None]


def fields_of(*, worker: bool) -> list[str]:
    """The settings a command takes: all of them for ``serve``, the worker's for ``worker``."""
    return [name for name in Settings.model_fields if not worker or option_of(name).worker]


def shown_default(name: str) -> str:
    """The default as the help and the README show it."""
    default = Settings.model_fields[name].default
    if default is None:
        return "none"
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, tuple):
        return " ".join(default)
    return str(default)


def help_of(name: str) -> str:
    return f"{Settings.model_fields[name].description} (env: {env_name(name)})"


def _option_type(name: str) -> Any:
    """What the command line parses the option as; Settings validates the rest."""
    annotation = Settings.model_fields[name].annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    if typing.get_origin(annotation) is tuple:
        return list[str]
    if annotation in (int, float, bool, Path):
        return annotation
    return str  # strings, names of one of a few values (Settings checks which), module:object


def _parameter(name: str) -> inspect.Parameter:
    option = typer.Option(flag_of(name), help=help_of(name), show_default=shown_default(name))
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[_option_type(name) | None, option],
    )


def usage_error(error: InvalidSettings) -> typer.BadParameter:
    """A usage error naming the option or variable each bad value came from."""
    hints = [
        source if source.startswith("WAKEFUL_") else flag_of(source).split("/")[0]
        for source in error.sources.values()
    ]
    return typer.BadParameter("; ".join(error.problems.values()), param_hint=" / ".join(hints))


def load_settings(given: dict[str, Any], *, worker: bool) -> Settings:
    """Defaults < the environment < ``given`` (the options on the command line)."""
    names = {env for name in fields_of(worker=worker) for env in env_names(name)}
    environ = {key: value for key, value in os.environ.items() if key in names}
    try:
        return Settings.from_env(environ, **given)
    except InvalidSettings as error:
        raise usage_error(error) from None


def with_settings(*, worker: bool) -> Callable[[Command], Command]:
    """Gives ``command`` an option for each of its settings (see :func:`fields_of`); it is
    called with its own parameters and ``settings=`` the :class:`Settings` they make."""

    def decorate(command: Command) -> Command:
        names = fields_of(worker=worker)
        own = [
            parameter
            for parameter in inspect.signature(command, eval_str=True).parameters.values()
            if parameter.name != "settings"
        ]
        parameters = [*own, *(_parameter(name) for name in names)]

        @functools.wraps(command)
        def run(**values: Any) -> None:
            given = {name: value for name in names if (value := values.pop(name)) is not None}
            command(**values, settings=load_settings(given, worker=worker))

        run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
        return run

    return decorate
