"""The SQLite store's half of ``VoucherStore`` (``store.vouchers``): a base class of
``SqliteStore``.

One table, made where missing (``CREATE TABLE IF NOT EXISTS``, within the schema's
version). ``seq`` is the import order: the next unused code of a pool is its lowest
``seq`` with no ``issued_to`` (a partial index keeps that a short walk however many are
issued). An issue is one ``BEGIN IMMEDIATE`` transaction (the write lock first, so two
connections on the same file queue): the number's code if it has one, else one
``UPDATE ... WHERE seq = (SELECT ... LIMIT 1) RETURNING``, with its event. A unique
partial index on (pool, issued_to) makes a second code for a number impossible even for
a writer that skipped the first step.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from smppgw.store.events import EventRecord, EventRouter
from smppgw.store.sqlite_rows import Transaction
from smppgw.store.vouchers import (
    VOUCHER_ISSUED,
    VOUCHER_REDEEMED,
    PoolCounts,
    RedeemError,
    VoucherImport,
    VoucherRecord,
    voucher_event,
)

__all__ = ["VOUCHERS_SCHEMA", "SqliteVouchers"]

VOUCHERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS vouchers (
    seq INTEGER PRIMARY KEY,  -- the import order: the next unused code is the lowest
    code TEXT NOT NULL UNIQUE,  -- across every pool (a redemption names only the code)
    pool TEXT NOT NULL,
    campaign TEXT,
    imported_at REAL NOT NULL,
    issued_to TEXT,  -- the number (E.164 digits)
    issued_at REAL,
    redeemed_at REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS vouchers_issued ON vouchers (pool, issued_to) WHERE issued_to IS NOT NULL;
CREATE INDEX IF NOT EXISTS vouchers_free ON vouchers (pool, seq) WHERE issued_to IS NULL;
"""
_COLUMNS = "code, pool, campaign, imported_at, issued_to, issued_at, redeemed_at"
_ISSUE = (
    "UPDATE vouchers SET issued_to = ?, issued_at = ?, campaign = COALESCE(campaign, ?) "
    "WHERE seq = (SELECT seq FROM vouchers WHERE pool = ? AND issued_to IS NULL ORDER BY seq LIMIT 1) "
    f"RETURNING {_COLUMNS}"
)
_COUNTS = (
    "SELECT pool, {group}, COUNT(*), COUNT(issued_to), COUNT(redeemed_at) FROM vouchers "
    "GROUP BY pool{by} ORDER BY pool{by}"
)


def _record(row: Sequence[Any]) -> VoucherRecord:
    def t(value: float | None) -> float | None:  # a REAL: RETURNING may give a whole one as an int
        return None if value is None else float(value)

    return VoucherRecord(
        code=row[0], pool=row[1], campaign=row[2], imported_at=float(row[3]), issued_to=row[4],
        issued_at=t(row[5]), redeemed_at=t(row[6]),
    )  # fmt: skip


class SqliteVouchers:
    _db: sqlite3.Connection
    _router: EventRouter | None

    if TYPE_CHECKING:  # SqliteEvents' (the other base of SqliteStore)

        def _write_events(self, staged: Sequence[tuple[EventRecord, Any]]) -> None: ...

    def _vouchers_init(self) -> None:
        self._db.executescript(VOUCHERS_SCHEMA)

    def _event(self, record: VoucherRecord, kind: str) -> None:
        """Inside the caller's transaction."""
        if self._router is not None:
            event = voucher_event(record, kind)
            self._write_events([(event, self._router(event.type, None))])

    def import_vouchers(
        self, pool: str, codes: Sequence[tuple[str, str | None]], *, at: float
    ) -> VoucherImport:
        duplicates: list[str] = []
        imported = 0
        with Transaction(self._db):
            for code, campaign in codes:  # one by one: each duplicate is reported in order
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO vouchers (code, pool, campaign, imported_at) VALUES (?, ?, ?, ?)",
                    (code, pool, campaign, at),
                )
                if cursor.rowcount == 1:
                    imported += 1
                else:
                    duplicates.append(code)
        return VoucherImport(imported=imported, duplicates=tuple(duplicates))

    def issue_voucher(
        self, pool: str, number: str, *, campaign: str | None, at: float
    ) -> tuple[VoucherRecord, bool] | None:
        db = self._db
        with Transaction(db):
            row = db.execute(
                f"SELECT {_COLUMNS} FROM vouchers WHERE pool = ? AND issued_to = ?", (pool, number)
            ).fetchone()
            if row is not None:
                return _record(row), False
            row = db.execute(_ISSUE, (number, at, campaign, pool)).fetchone()
            if row is None:
                return None
            record = _record(row)
            self._event(record, VOUCHER_ISSUED)
        return record, True

    def redeem_voucher(self, code: str, *, at: float) -> VoucherRecord:
        db = self._db
        with Transaction(db):
            row = db.execute(
                "UPDATE vouchers SET redeemed_at = ? "
                f"WHERE code = ? AND issued_to IS NOT NULL AND redeemed_at IS NULL RETURNING {_COLUMNS}",
                (at, code),
            ).fetchone()
            if row is not None:
                record = _record(row)
                self._event(record, VOUCHER_REDEEMED)
        if row is None:  # why not: read after the (empty) transaction
            found = self.get_voucher(code)
            if found is None:
                raise RedeemError("unknown", code)
            raise RedeemError("not_issued" if found.issued_to is None else "redeemed", code, found)
        return record

    def get_voucher(self, code: str) -> VoucherRecord | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM vouchers WHERE code = ?", (code,)).fetchone()
        return None if row is None else _record(row)

    def voucher_pools(self) -> list[PoolCounts]:
        rows = self._db.execute(_COUNTS.format(group="NULL", by="")).fetchall()
        return [PoolCounts(pool=r[0], campaign=r[1], total=r[2], issued=r[3], redeemed=r[4]) for r in rows]

    def voucher_report(self) -> list[PoolCounts]:
        rows = self._db.execute(_COUNTS.format(group="campaign", by=", campaign")).fetchall()
        return [PoolCounts(pool=r[0], campaign=r[1], total=r[2], issued=r[3], redeemed=r[4]) for r in rows]
