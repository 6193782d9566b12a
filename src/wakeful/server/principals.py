"""Who is calling: principals, and the authenticators that turn a request into one.

Every request the server authorizes resolves to a :class:`Principal` before routing. With
no authenticator (a server on the loopback interface, no token) every caller is the one
admin; ``--token`` is the same with a password; a tokens file maps many bearer tokens to
named principals; ``--auth module:object`` installs any :class:`Authenticator` (one that
checks JWTs, say) with the policy of its choice.
"""

from __future__ import annotations

import hmac
import inspect
import tomllib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import HTTPConnection

from .policy import OwnerPolicy, Policy


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller. ``name`` is what ownership is recorded as; ``claims`` carry whatever an
    authenticator knows about it (a JWT's claims, say) for a policy to decide on."""

    name: str
    admin: bool = False
    claims: Mapping[str, Any] = field(default_factory=dict)


ADMIN = Principal("admin", admin=True)

#: ``request -> Principal``, or None when the request carries no credentials it accepts
#: (answered 401). May be sync or async.
Authenticator = Callable[[HTTPConnection], Principal | Awaitable[Principal | None] | None]


async def authenticate(
    authenticator: Authenticator, connection: HTTPConnection
) -> Principal | None:
    found = authenticator(connection)
    if inspect.isawaitable(found):
        found = await found
    if found is not None and not isinstance(found, Principal):
        raise TypeError(f"an authenticator must return a Principal or None, not {found!r}")
    return found


def bearer_token(connection: HTTPConnection) -> str | None:
    """The ``Authorization: Bearer`` token, or ``?access_token=`` (browsers' EventSource
    cannot set headers)."""
    header = connection.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None
    query = parse_qs(connection.scope.get("query_string", b"").decode(errors="replace"))
    supplied = query.get("access_token", [""])[0]
    return supplied or None


class TokenAuthenticator:
    """Bearer tokens mapped to principals, compared in constant time."""

    def __init__(self, tokens: Mapping[str, Principal]) -> None:
        if not tokens or any(not token for token in tokens):
            raise ValueError("give at least one token, none of them empty")
        self._tokens = [(token.encode(), principal) for token, principal in tokens.items()]

    def __call__(self, connection: HTTPConnection) -> Principal | None:
        supplied = bearer_token(connection)
        if supplied is None:
            return None
        encoded = supplied.encode()
        found = None
        for token, principal in self._tokens:
            # Every token is compared, so the time taken says nothing about which matched.
            if hmac.compare_digest(encoded, token):
                found = principal
        return found


@dataclass(frozen=True, slots=True)
class Auth:
    """What ``--auth module:object`` names: how callers are known and what they may do."""

    authenticator: Authenticator
    policy: Policy = field(default_factory=OwnerPolicy)


def single_token(token: str) -> Auth:
    """``--token``: one secret, and whoever holds it is the admin."""
    return Auth(TokenAuthenticator({token: ADMIN}))


def load_tokens_file(path: Path) -> Auth:
    """A TOML file of tokens, one table per principal::

    [principals.alice]
    token = "..."

    [principals.ops]
    token = "..."
    admin = true
    """
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    tables = data.get("principals")
    if not isinstance(tables, dict) or not tables:
        raise ValueError(f"{path} has no [principals.<name>] tables")
    tokens: dict[str, Principal] = {}
    for name, table in tables.items():
        token = table.get("token") if isinstance(table, dict) else None
        if not isinstance(token, str) or len(token) < 16:
            raise ValueError(f"principal {name!r} needs a token of at least 16 characters")
        if token in tokens:
            raise ValueError(f"principals {tokens[token].name!r} and {name!r} share a token")
        admin = table.get("admin", False)
        if not isinstance(admin, bool):
            raise ValueError(f"principal {name!r}: admin must be true or false")
        tokens[token] = Principal(name, admin=admin)
    return Auth(TokenAuthenticator(tokens))


def load_auth(value: object) -> Auth:
    """What ``--auth`` loaded, as an :class:`Auth`: one already, or a bare authenticator
    (which gets the default policy)."""
    if isinstance(value, Auth):
        return value
    if callable(value):
        return Auth(value)
    raise TypeError(f"--auth must name an Auth or an authenticator, not {type(value).__name__}")
