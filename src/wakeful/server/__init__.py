"""The Wakeful server: one ASGI app serving streams, the JSON API and the console."""

from .app import ServerSettings, create_app

__all__ = ["ServerSettings", "create_app"]
