"""A chat assistant with tools, as a thread.

Run: ``wakeful serve examples.chat:registry`` then create a thread:

    curl -X POST localhost:8787/v1/threads -H 'content-type: application/json' \\
         -d '{"prompt": "What is the weather in Paris?"}'

Without OPENAI_API_KEY or ANTHROPIC_API_KEY it answers with the offline demo model.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from wakeful import Registry, ThreadConfig, ToolContext, define_thread, tool

# A tiny stand-in for a weather service, so the example runs offline.
FORECASTS = {"paris": "sunny, 21 °C", "london": "light rain, 14 °C", "tokyo": "cloudy, 18 °C"}


@tool
def get_weather(city: str) -> str:
    """Today's weather in a city."""
    return FORECASTS.get(city.strip().lower(), f"no forecast for {city}")


@tool
def get_time(timezone: str = "UTC") -> str:
    """The current time in an IANA time zone such as Europe/Paris."""
    try:
        zone = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {timezone!r}"
    return dt.datetime.now(zone).strftime("%Y-%m-%d %H:%M %Z")


@tool
def remember(note: str, context: ToolContext) -> str:
    """Remember a note for later in this conversation."""
    context.ctx.set_tag("last_note", note[:100])
    return f"noted: {note}"


def register(registry: Registry, name: str = "thread") -> None:
    define_thread(
        registry,
        name,
        ThreadConfig(
            system="You are a concise assistant. Use tools when they help.",
            tools=[get_weather, get_time, remember],
        ),
    )


registry = Registry()
register(registry)
