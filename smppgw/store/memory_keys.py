"""The memory store's half of ``KeyStore`` (``store.keys``): a base class of ``MemoryStore``."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from smppgw.store.keys import ApiKeyRecord

__all__ = ["MemoryKeys"]


class MemoryKeys:
    _api_keys: dict[str, ApiKeyRecord]

    def _keys_init(self) -> None:
        self._api_keys = {}

    def add_key(self, key: ApiKeyRecord) -> None:
        from smppgw.store.base import StoreError

        if key.id in self._api_keys or any(k.hash == key.hash for k in self._api_keys.values()):
            raise StoreError(f"store: key {key.id!r} exists")
        self._api_keys[key.id] = key

    def api_keys(self, *, revoked: bool = False) -> list[ApiKeyRecord]:
        return [k for k in self._api_keys.values() if revoked or k.revoked_at is None]

    def revoke_key(self, key_id: str, *, now: float) -> bool:
        key = self._api_keys.get(key_id)
        if key is None or key.revoked_at is not None:
            return False
        self._api_keys[key_id] = attrs.evolve(key, revoked_at=now)
        return True

    def touch_keys(self, used: Mapping[str, float]) -> None:
        for key_id, at in used.items():
            if (key := self._api_keys.get(key_id)) is not None:
                self._api_keys[key_id] = attrs.evolve(key, last_used_at=at)
