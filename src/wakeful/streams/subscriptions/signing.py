"""Ed25519 webhook signatures and the JWKS that publishes the public key.

``Webhook-Signature: t=<unix seconds>,kid=<key id>,ed25519=<base64url signature>`` signs
``<t>.<raw body>``. The key id is ``ds_`` plus the key's RFC 7638 thumbprint, so it is
stable for the key's lifetime and derived from the key itself. The private key is kept in
the database, so restarts and every process sharing the database sign with the same key.
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SETTING = "webhook_signing_key"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_private_key() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes_raw()


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    x: str
    kid: str

    @classmethod
    def from_bytes(cls, raw: bytes) -> SigningKey:
        private = Ed25519PrivateKey.from_private_bytes(raw)
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        x = _b64url(public)
        canonical = orjson.dumps({"crv": "Ed25519", "kty": "OKP", "x": x})
        return cls(private, x, "ds_" + _b64url(hashlib.sha256(canonical).digest()))

    def jwk(self) -> dict[str, str]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "kid": self.kid,
            "use": "sig",
            "alg": "EdDSA",
            "x": self.x,
        }

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [self.jwk()]}

    def signature_header(self, body: bytes, now: float | None = None) -> str:
        timestamp = str(int(time.time() if now is None else now))
        signature = self.private.sign(timestamp.encode() + b"." + body)
        return f"t={timestamp},kid={self.kid},ed25519={_b64url(signature)}"
