"""Handlers anywhere: a Registry's passes run outside the server, over HTTP only.

The pass is the server's own, with the same ``ctx``, agent loop and exactly-once
semantics; it reaches the server through its pass routes with the wake's token (see
docs/serverless.md). :class:`HttpWorker` is ``wakeful worker --server URL``;
:func:`run_pass` runs one wake a claim or a webhook handed out.
"""

from __future__ import annotations

from .claims import ClaimedWake
from .passes import run_pass
from .webhooks import JwksKeys, WakeHandler, wake_app
from .worker import HttpWorker

__all__ = ["ClaimedWake", "HttpWorker", "JwksKeys", "WakeHandler", "run_pass", "wake_app"]
