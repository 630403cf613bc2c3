"""message_id formats, and the receipt-id base trap (SMPP-REFERENCE §6.3 item 1)."""

from __future__ import annotations

import random
import uuid

__all__ = ["IdFactory"]


class IdFactory:
    """Sequential ids rendered per the account's behaviour."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._next = 1

    def new(self, fmt: str, width: int = 10) -> tuple[int, str]:
        """(number, the id as the submit_sm_resp carries it)."""
        n = self._next
        self._next += 1
        if fmt == "decimal":
            return n, str(n)
        if fmt == "hex":
            return n, format(n, "x")
        if fmt == "padded":
            return n, f"{n:0{width}d}"
        return n, str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    @staticmethod
    def for_receipt(number: int, resp_id: str, base: str) -> str:
        """The id a receipt carries: the same string, or the same number in another base."""
        if base == "decimal":
            return str(number) if _is_numeric_id(resp_id) else resp_id
        if base == "hex":
            return format(number, "X") if _is_numeric_id(resp_id) else resp_id
        return resp_id


def _is_numeric_id(resp_id: str) -> bool:
    # uuid ids have no single number behind them; every other format does.
    return "-" not in resp_id
