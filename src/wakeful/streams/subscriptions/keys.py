"""The keys a server signs with: the webhook signing key and the callback-token secret.

Both live in the database, made on first start, so every process on one database (a
server, its workers) signs and verifies with the same keys.
"""

from __future__ import annotations

from . import signing, tokens
from .signing import SigningKey
from .store import SubscriptionStore


async def load_keys(store: SubscriptionStore) -> tuple[SigningKey, bytes]:
    """The webhook signing key and the token secret, created on first start."""
    key = SigningKey.from_bytes(await store.setting(signing.SETTING, signing.new_private_key))
    return key, await store.setting(tokens.SETTING, tokens.new_secret)
