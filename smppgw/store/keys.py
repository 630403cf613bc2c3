"""API keys as the store keeps them (``KeyStore``): only a hash of each key.

A key is 32 random bytes (``secrets.token_urlsafe``), so a plain SHA-256 of it is
enough: a slow KDF (bcrypt, scrypt, Argon2) exists to make guessing a *low-entropy*
password from its hash expensive, and nobody can enumerate 2**256 keys however cheap
each guess is; a fast hash also lets every request be checked without a CPU cost worth
naming. The hash is also the lookup key (an index), so the plain key is never stored
and never needed to find its record.

A key has an ``id`` (public: what ``smppgw keys list`` shows and ``revoke`` takes), a
``name``, its ``scopes``, an optional ``tenant`` (a tenant key sees only its tenant's
messages, inbound messages and idempotency keys), its own limits (None: the ``[api]``
defaults) and its times (wall clock). The SQLite half is ``store.sqlite_keys``; the
memory half ``store.memory_keys``; another backend (Redis) implements the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Final, Protocol

import attrs

__all__ = ["SCOPES", "ApiKeyRecord", "KeyStore", "key_hash"]

#: Every scope; ``admin`` implies the others (and is the only one for the event log);
#: ``consent:write`` implies ``consent:read``, ``vouchers:write`` ``vouchers:read``,
#: ``threads:write`` ``threads:read``.
SCOPES: Final = ("messages:send", "messages:read", "inbound:read", "consent:read", "consent:write",
                 "vouchers:read", "vouchers:write", "threads:read", "threads:write", "admin")  # fmt: skip


def key_hash(key: str | bytes) -> str:
    """The stored form of a key: SHA-256, hex (see the module's note on why not a KDF)."""
    return hashlib.sha256(key.encode() if isinstance(key, str) else key).hexdigest()


@attrs.frozen(kw_only=True)
class ApiKeyRecord:
    id: str
    name: str
    hash: str
    scopes: tuple[str, ...]
    tenant: str | None = None
    rate: float | None = None  # requests per second; None: [api] key_rate
    max_queued: int | None = None  # queued parts; None: [api] key_max_queued
    created_at: float = 0.0  # wall clock
    revoked_at: float | None = None
    last_used_at: float | None = None


class KeyStore(Protocol):
    def add_key(self, key: ApiKeyRecord) -> None:
        """Store a new key (its hash); raises StoreError for a repeated id or hash."""

    def api_keys(self, *, revoked: bool = False) -> list[ApiKeyRecord]:
        """Every key, oldest first; revoked ones only if ``revoked``."""

    def revoke_key(self, key_id: str, *, now: float) -> bool:
        """Revoke a key (wall-clock ``now``); False if there is no such live key."""

    def touch_keys(self, used: Mapping[str, float]) -> None:
        """Record when keys were last used (key id -> wall clock), batched by the caller."""
