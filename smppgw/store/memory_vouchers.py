"""The memory store's half of ``VoucherStore`` (``store.vouchers``), with the SQLite
store's answers and nothing durable. Each call runs to its end without yielding (the
store is used from the trio thread), which is what makes an issue atomic here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from smppgw.store.events import EventRecord
from smppgw.store.vouchers import (
    VOUCHER_ISSUED,
    VOUCHER_REDEEMED,
    PoolCounts,
    RedeemError,
    VoucherImport,
    VoucherRecord,
    voucher_event,
)

__all__ = ["MemoryVouchers"]


class MemoryVouchers:
    if TYPE_CHECKING:  # MemoryEvents' (the other base of MemoryStore), for the type checker

        def append_event(self, event: EventRecord) -> None: ...

    def _vouchers_init(self) -> None:
        self._vouchers: dict[str, VoucherRecord] = {}  # by code, in import order
        self._free: dict[str, list[str]] = defaultdict(list)  # pool -> unused codes, next last
        self._issued: dict[tuple[str, str], str] = {}  # (pool, number) -> code

    def import_vouchers(
        self, pool: str, codes: Sequence[tuple[str, str | None]], *, at: float
    ) -> VoucherImport:
        added: dict[str, VoucherRecord] = {}
        duplicates: list[str] = []
        for code, campaign in codes:
            if code in self._vouchers or code in added:
                duplicates.append(code)
            else:
                added[code] = VoucherRecord(code=code, pool=pool, campaign=campaign, imported_at=at)
        self._vouchers.update(added)
        free = self._free[pool]
        free[:0] = reversed(added)  # popped from the end: the first imported goes first
        return VoucherImport(imported=len(added), duplicates=tuple(duplicates))

    def issue_voucher(
        self, pool: str, number: str, *, campaign: str | None, at: float
    ) -> tuple[VoucherRecord, bool] | None:
        if (code := self._issued.get((pool, number))) is not None:
            return self._vouchers[code], False
        free = self._free.get(pool)
        if not free:
            return None
        code = free.pop()
        record = self._vouchers[code]
        record = attrs.evolve(
            record, issued_to=number, issued_at=at, campaign=record.campaign if record.campaign else campaign
        )
        self._vouchers[code] = record
        self._issued[pool, number] = code
        self.append_event(voucher_event(record, VOUCHER_ISSUED))
        return record, True

    def redeem_voucher(self, code: str, *, at: float) -> VoucherRecord:
        record = self._vouchers.get(code)
        if record is None:
            raise RedeemError("unknown", code)
        if record.issued_to is None:
            raise RedeemError("not_issued", code, record)
        if record.redeemed_at is not None:
            raise RedeemError("redeemed", code, record)
        record = self._vouchers[code] = attrs.evolve(record, redeemed_at=at)
        self.append_event(voucher_event(record, VOUCHER_REDEEMED))
        return record

    def get_voucher(self, code: str) -> VoucherRecord | None:
        return self._vouchers.get(code)

    def _counts(self, by_campaign: bool) -> list[PoolCounts]:
        rows: dict[tuple[str, str | None], list[int]] = {}
        for r in self._vouchers.values():
            row = rows.setdefault((r.pool, r.campaign if by_campaign else None), [0, 0, 0])
            row[0] += 1
            row[1] += r.issued_to is not None
            row[2] += r.redeemed_at is not None
        keys = sorted(rows, key=lambda k: (k[0], k[1] is not None, k[1] or ""))
        return [
            PoolCounts(pool=p, campaign=c, total=rows[p, c][0], issued=rows[p, c][1], redeemed=rows[p, c][2])
            for p, c in keys
        ]

    def voucher_pools(self) -> list[PoolCounts]:
        return self._counts(False)

    def voucher_report(self) -> list[PoolCounts]:
        return self._counts(True)
