"""Model adapters: ``openai:<model>``, ``anthropic:<model>``, ``test`` and ``demo``.

Users name a model with a string so that it can live in configuration and be recorded
on every run; :func:`resolve` turns the string into an adapter, taking keys and base URLs
from the usual environment variables. Provider SDKs are imported only when a model of
theirs is resolved, so importing Wakeful stays fast and neither SDK is needed to run
the test or demo models.
"""

from __future__ import annotations

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
    """
    if isinstance(spec, Model):
        if options:
            raise ValueError("options can only be given with a model name, not a model object")
        return spec
    provider, _, model = spec.strip().partition(":")
    provider = provider.lower()
    if provider == "test":
        return TestModel(**options)
    if provider == "demo":
        if options:
            raise ValueError(f"the demo model takes no options (got {sorted(options)})")
        return DemoModel()
    if provider not in PROVIDERS:
        raise ValueError(
            f"unknown model provider {provider!r} in {spec!r}: use one of "
            "'openai:<model>', 'anthropic:<model>', 'test' or 'demo'"
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


def default_model() -> Model:
    """OpenAI if OPENAI_API_KEY is set, else Anthropic if ANTHROPIC_API_KEY is, else the
    offline demo model (whose label says so wherever its output appears)."""
    if os.environ.get("OPENAI_API_KEY"):
        return resolve(DEFAULT_OPENAI_MODEL)
    if os.environ.get("ANTHROPIC_API_KEY"):
        return resolve(DEFAULT_ANTHROPIC_MODEL)
    return DemoModel()
