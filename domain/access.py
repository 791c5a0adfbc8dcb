"""Who may call the API: roles, and the format of an API key.

A key reads `doms_<key_id>_<secret>`: the key id finds the stored key, the secret proves
it. The secret is 256 random bits, so it is stored as its SHA-256 alone. A slow password
hash (bcrypt, argon2) defends guessable secrets against an offline search; a 256-bit random
secret has nothing to guess, and a fast hash keeps every request's check cheap.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

PREFIX = "doms"
KEY_ID_BYTES = 8  # 16 hex digits: unique enough to look a key up, and no secret
SECRET_BYTES = 32  # 256 bits


class Role(StrEnum):
    # Any role may list the fulfilment centres; their stock and capacity are operators' alone.
    CUSTOMER = "customer"  # bound to one customer id: its own orders and surveys only
    OPERATOR = "operator"  # everything: inventory, all orders, reports, shipment events
    CARRIER = "carrier"  # shipment events only


class InvalidKeySpec(ValueError):
    """A key asked for with a role and customer that do not go together."""


def check_key_spec(role: Role, customer_id: str | None) -> None:
    if role is Role.CUSTOMER and not customer_id:
        raise InvalidKeySpec("a customer key needs the customer id it acts for")
    if role is not Role.CUSTOMER and customer_id is not None:
        raise InvalidKeySpec(f"only customer keys act for a customer, not {role} keys")


@dataclass(frozen=True)
class ApiToken:
    key_id: str
    secret: str

    def __str__(self) -> str:
        return f"{PREFIX}_{self.key_id}_{self.secret}"

    @classmethod
    def new(cls) -> ApiToken:
        return cls(secrets.token_hex(KEY_ID_BYTES), secrets.token_urlsafe(SECRET_BYTES))

    @classmethod
    def parse(cls, text: str) -> ApiToken | None:
        """The token, or None when `text` is not shaped like one."""
        prefix, _, rest = text.partition("_")
        key_id, _, secret = rest.partition("_")  # the key id is hex: the secret may hold "_"
        if prefix != PREFIX or len(key_id) != 2 * KEY_ID_BYTES or not secret:
            return None
        if any(digit not in "0123456789abcdef" for digit in key_id):
            return None
        return cls(key_id, secret)

    @property
    def secret_hash(self) -> str:
        return hash_secret(self.secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant time, so the time taken tells nothing about how much of the hash matched."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)
