"""Webhook URL checks against server-side request forgery.

Production webhooks must be ``https`` to a public address; ``http`` is allowed only to
``localhost`` and ``127.0.0.x`` for development. Private, link-local, loopback (beyond that
exception), multicast, reserved and cloud-metadata addresses are refused.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from ...errors import BadRequest, WebhookURLRejected, excerpt

_DEV_HOSTS = {"localhost"}


def _is_dev_host(host: str) -> bool:
    if host in _DEV_HOSTS:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return isinstance(address, ipaddress.IPv4Address) and address in ipaddress.ip_network(
        "127.0.0.0/24"
    )


#: Stored with the subscription and sent a request per wake; real URLs are far shorter.
MAX_URL_LENGTH = 2048


def _rejected(reason: str) -> BadRequest:
    return WebhookURLRejected(f"webhook URL rejected: {reason}")


def validate(url: str) -> str:
    if len(url) > MAX_URL_LENGTH:
        raise _rejected(f"it is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        _ = parts.port
    except ValueError as exc:
        raise _rejected(str(exc)) from None
    if parts.scheme not in ("http", "https") or not host:
        raise _rejected("it must be an absolute http(s) URL")
    if parts.username or parts.password:
        raise _rejected("credentials in the URL are not allowed")
    if _is_dev_host(host):
        return url
    if parts.scheme != "https":
        raise _rejected("use https (http is allowed only for localhost and 127.0.0.x)")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host.endswith((".localhost", ".local", ".internal")):
            raise _rejected(f"{excerpt(host)} is a local name") from None
        return url
    if not address.is_global:
        raise _rejected(f"{excerpt(host)} is not a public address")
    return url
