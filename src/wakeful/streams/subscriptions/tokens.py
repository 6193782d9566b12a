"""Callback and claim tokens: HMAC-signed JWTs scoped to one subscription wake.

A token names the subscription, the generation and the wake it was issued for, so a token
from an older wake can never act on a newer one. The HMAC secret lives in the database.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import jwt

from ...errors import ErrorCode, Unauthorized

SETTING = "subscription_token_secret"
ALGORITHM = "HS256"


def new_secret() -> bytes:
    return secrets.token_bytes(32)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subscription_id: str
    generation: int
    wake_id: str


def issue(secret: bytes, claims: TokenClaims, ttl_seconds: float) -> str:
    payload = {
        "sub": claims.subscription_id,
        "gen": claims.generation,
        "wid": claims.wake_id,
        "exp": int(time.time() + ttl_seconds),
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def verify(secret: bytes, authorization: str | None, subscription_id: str) -> TokenClaims:
    """The claims of a ``Bearer`` token valid for ``subscription_id``, else 401."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized("a Bearer token is required", code=ErrorCode.TOKEN_REQUIRED)
    token = authorization[7:].strip()
    try:
        payload = jwt.decode(token, secret, algorithms=[ALGORITHM])
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token expired", code=ErrorCode.TOKEN_EXPIRED) from None
    except jwt.InvalidTokenError:
        raise Unauthorized("invalid token", code=ErrorCode.TOKEN_INVALID) from None
    if payload.get("sub") != subscription_id:
        raise Unauthorized("token is for another subscription", code=ErrorCode.TOKEN_INVALID)
    generation, wake_id = payload.get("gen"), payload.get("wid")
    if not isinstance(generation, int) or not isinstance(wake_id, str):
        raise Unauthorized("invalid token", code=ErrorCode.TOKEN_INVALID)
    return TokenClaims(subscription_id, generation, wake_id)
