"""Wakeful: durable, collaborative AI agents on Durable Streams."""

__version__ = "0.1.0"
