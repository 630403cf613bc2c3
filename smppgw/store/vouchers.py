"""Voucher pools in the store: the records and the ``VoucherStore`` protocol.

A pool is a named list of codes, imported (``import_vouchers``) in order; a code is
unique across every pool (``POST /v1/vouchers/{code}/redeem`` names only the code). A
number gets at most one code of a pool: ``issue_voucher`` gives back the code the number
already has, else takes the next unused one (the lowest import order) in one atomic
step, so two callers at once never get the same code and a number never gets two.
Redeeming a code marks it once (``redeem_voucher``). Issuing and redeeming write their
event (``voucher.issued``, ``voucher.redeemed``: subject ``voucher:<code>``, sequence 1
and 2) in the same transaction as the change, when the outbox is on (``route_events``).

A code's ``campaign`` is the one it was imported with; a code imported without one takes
the campaign it is issued for (``issue_voucher(campaign=...)``), so the report can group
by campaign either way. Times here are wall-clock seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Protocol, runtime_checkable

import attrs

from smppgw.store.events import EventRecord, event_id
from smppgw.support.isotime import iso

__all__ = [
    "VOUCHER_ISSUED",
    "VOUCHER_REDEEMED",
    "PoolCounts",
    "RedeemError",
    "VoucherImport",
    "VoucherRecord",
    "VoucherStore",
    "voucher_event",
]

VOUCHER_ISSUED: Final = "voucher.issued"
VOUCHER_REDEEMED: Final = "voucher.redeemed"


@attrs.frozen(kw_only=True)
class VoucherRecord:
    code: str
    pool: str
    campaign: str | None = None
    imported_at: float = 0.0
    issued_to: str | None = None  # the number (E.164 digits) it was given to
    issued_at: float | None = None
    redeemed_at: float | None = None

    @property
    def state(self) -> str:
        if self.redeemed_at is not None:
            return "redeemed"
        return "available" if self.issued_to is None else "issued"

    def to_dict(self) -> dict[str, Any]:
        """As the API and the events show it: times ISO 8601 UTC."""

        def at(t: float | None) -> str | None:
            return None if t is None else iso(t)

        return {
            "code": self.code, "pool": self.pool, "campaign": self.campaign, "state": self.state,
            "issued_to": self.issued_to, "issued_at": at(self.issued_at), "redeemed_at": at(self.redeemed_at),
        }  # fmt: skip


@attrs.frozen(kw_only=True)
class VoucherImport:
    """What an import did: codes added, and the ones refused because a pool has them
    (in this pool or another, or twice in the same import), in the order given."""

    imported: int
    duplicates: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class PoolCounts:
    """One row of the counts: a pool (and a campaign, in the report)."""

    pool: str
    campaign: str | None = None
    total: int = 0
    issued: int = 0  # redeemed ones included
    redeemed: int = 0

    @property
    def available(self) -> int:
        return self.total - self.issued


class RedeemError(Exception):
    """A code that cannot be redeemed: ``reason`` is ``unknown``, ``not_issued`` or
    ``redeemed`` (already); ``record`` is the code's, when it exists."""

    def __init__(self, reason: str, code: str, record: VoucherRecord | None = None) -> None:
        super().__init__(reason)
        self.reason, self.code, self.record = reason, code, record


def voucher_event(record: VoucherRecord, kind: str) -> EventRecord:
    """The ``voucher.issued`` (sequence 1) or ``voucher.redeemed`` (2) event of ``record``."""
    subject = f"voucher:{record.code}"
    sequence = 1 if kind == VOUCHER_ISSUED else 2
    occurred = record.issued_at if kind == VOUCHER_ISSUED else record.redeemed_at
    return EventRecord(
        id=event_id(subject, sequence), type=kind, subject=subject, sequence=sequence,
        occurred_at=occurred or 0.0, data=record.to_dict(),
    )  # fmt: skip


@runtime_checkable
class VoucherStore(Protocol):
    def import_vouchers(
        self, pool: str, codes: Sequence[tuple[str, str | None]], *, at: float
    ) -> VoucherImport:
        """Add ``codes`` ((code, campaign) pairs, in order) to ``pool``, in one
        transaction; a code a pool has already (or given twice) is skipped and reported.
        Raises StoreError (nothing written)."""

    def issue_voucher(
        self, pool: str, number: str, *, campaign: str | None, at: float
    ) -> tuple[VoucherRecord, bool] | None:
        """The code of ``pool`` that ``number`` has, with False; else the next unused code
        given to it now, with True (its ``voucher.issued`` event written with it); None
        when the pool has no unused code (or no code). Atomic: concurrent callers never
        share a code, a number never gets two. Raises StoreError (nothing written)."""

    def redeem_voucher(self, code: str, *, at: float) -> VoucherRecord:
        """Mark an issued ``code`` redeemed now, with its ``voucher.redeemed`` event.
        Raises RedeemError (unknown, not issued, already redeemed) or StoreError."""

    def get_voucher(self, code: str) -> VoucherRecord | None: ...

    def voucher_pools(self) -> list[PoolCounts]:
        """Counts per pool (campaign None), by pool name."""

    def voucher_report(self) -> list[PoolCounts]:
        """Counts per (pool, campaign), by pool then campaign (None first)."""
