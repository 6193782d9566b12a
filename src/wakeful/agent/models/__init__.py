"""Model adapters: ``openai:<model>``, ``anthropic:<model>``, ``test`` and ``demo``.

Users name a model with a string so that it can live in configuration and be recorded
on every run; :func:`resolve` turns the string into an adapter, taking keys and base URLs
from the usual environment variables. Provider SDKs are imported only when a model of
theirs is resolved, so importing Wakeful stays fast and neither SDK is needed to run
the test or demo models.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from ..._extras import require
from .base import (
    INVALID_JSON_KEY,
    Finish,
    FinishReason,
    Message,
    Model,
    ModelError,
    ModelEvent,
    ModelRequest,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolCallReady,
    ToolSpec,
    Usage,
    invalid_arguments,
)
from .demo import DemoModel
from .test import Response, TestModel

__all__ = [
    "DEFAULT_ANTHROPIC_MODEL",
    "DEFAULT_OPENAI_MODEL",
    "INVALID_JSON_KEY",
    "DemoModel",
    "Finish",
    "FinishReason",
    "Message",
    "Model",
    "ModelError",
    "ModelEvent",
    "ModelRequest",
    "ReasoningDelta",
    "Response",
    "TestModel",
    "TextDelta",
    "ToolCall",
    "ToolCallReady",
    "ToolSpec",
    "Usage",
    "default_model",
    "invalid_arguments",
    "resolve",
]

DEFAULT_OPENAI_MODEL = "openai:gpt-4o-mini"
DEFAULT_ANTHROPIC_MODEL = "anthropic:claude-sonnet-4-6"
PROVIDERS = ("openai", "anthropic", "test", "demo")


def resolve(spec: str | Model, **options: Any) -> Model:
    """The model ``spec`` names; ``options`` go to the adapter's constructor.

    ``openai:<model>`` reads OPENAI_API_KEY and OPENAI_BASE_URL (or ``api_key=`` /
    ``base_url=``); without a key it still works against an explicit base URL, since
    local servers (Ollama, vLLM, LM Studio) do not check one. ``anthropic:<model>``
    reads ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL. ``test`` takes ``script=``.

    With the ``pydantic-ai`` extra, any other name pydantic-ai knows (``google-gla:…``,
    ``groq:…``, ``openai-responses:…``), or any name after ``pydantic-ai:``, is one of
    its models, streamed through :mod:`.pydantic_ai`.
    """
    if isinstance(spec, Model):
        if options:
            raise ValueError("options can only be given with a model name, not a model object")
        return spec
    provider, _, model = spec.strip().partition(":")
    provider = provider.lower()
    if provider == "pydantic-ai" or (provider not in PROVIDERS and model and _has_pydantic_ai()):
        return _pydantic_ai(model if provider == "pydantic-ai" else spec.strip(), options)
    if provider == "test":
        return TestModel(**options)
    if provider == "demo":
        if options:
            raise ValueError(f"the demo model takes no options (got {sorted(options)})")
        return DemoModel()
    if provider not in PROVIDERS:
        raise ValueError(
            f"unknown model provider {provider!r} in {spec!r}: use one of "
            "'openai:<model>', 'anthropic:<model>', 'test' or 'demo' (or install "
            "'wakeful[pydantic-ai]' for every provider pydantic-ai knows)"
        )
    if not model:
        example = DEFAULT_OPENAI_MODEL if provider == "openai" else DEFAULT_ANTHROPIC_MODEL
        raise ValueError(f"{spec!r} names no model: write it like {example!r}")
    if provider == "openai":
        return _openai(model, options)
    return _anthropic(model, options)


def _openai(model: str, options: dict[str, Any]) -> Model:
    require("openai", extra="openai", feature="openai: models")
    from .openai import OpenAIModel

    base_url = options.pop("base_url", None) or os.environ.get("OPENAI_BASE_URL") or None
    api_key = options.pop("api_key", None) or os.environ.get("OPENAI_API_KEY")
    if not api_key:
        if base_url is None:
            raise ValueError(
                f"openai:{model} needs an API key: set OPENAI_API_KEY (or pass api_key=), "
                "or give a base_url for a local server that needs none"
            )
        api_key = "unused"  # local OpenAI-compatible servers ignore it; the SDK wants one
    return OpenAIModel(model, api_key=api_key, base_url=base_url, **options)


def _anthropic(model: str, options: dict[str, Any]) -> Model:
    require("anthropic", extra="anthropic", feature="anthropic: models")
    from .anthropic import AnthropicModel

    base_url = options.pop("base_url", None) or os.environ.get("ANTHROPIC_BASE_URL") or None
    api_key = options.pop("api_key", None) or os.environ.get("ANTHROPIC_API_KEY")
    if not api_key:
        raise ValueError(
            f"anthropic:{model} needs an API key: set ANTHROPIC_API_KEY (or pass api_key=)"
        )
    return AnthropicModel(model, api_key=api_key, base_url=base_url, **options)


def _has_pydantic_ai() -> bool:
    return importlib.util.find_spec("pydantic_ai") is not None


def _pydantic_ai(name: str, options: dict[str, Any]) -> Model:
    require("pydantic_ai", extra="pydantic-ai", feature="pydantic-ai models")
    from pydantic_ai.exceptions import UserError

    from .pydantic_ai import PydanticAIModel

    if options:
        raise ValueError(f"pydantic-ai models take no options here (got {sorted(options)})")
    try:
        return PydanticAIModel(name)
    except UserError as exc:  # an unknown name, or a known provider without its key
        provider = name.partition(":")[0]
        known = not str(exc).startswith("Unknown model")
        raise ValueError(
            f"{name}: {exc}"
            if known
            else f"unknown model provider {provider!r} in {name!r}:"
            f" Wakeful's own are 'openai', 'anthropic', 'test' and 'demo'; pydantic-ai says {exc}"
        ) from exc


def default_model() -> Model:
    """OpenAI if OPENAI_API_KEY is set, else Anthropic if ANTHROPIC_API_KEY is, else the
    offline demo model (whose label says so wherever its output appears)."""
    if os.environ.get("OPENAI_API_KEY"):
        return resolve(DEFAULT_OPENAI_MODEL)
    if os.environ.get("ANTHROPIC_API_KEY"):
        return resolve(DEFAULT_ANTHROPIC_MODEL)
    return DemoModel()
