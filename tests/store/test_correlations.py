"""The correlation section of the store (base.CorrelationStore), on every backend:
which part an SMSC id named, a newer row replacing an older one under the same id (an
SMSC reuses ids), rows dropped after the horizon, and kept across a restart."""

from __future__ import annotations

from smppgw.store.base import CorrelationStore
from tests.store.helpers import Backend


def test_put_get_per_smsc_and_newest_wins(backend: Backend) -> None:
    store = backend.open(clock_offset=1_000.0)
    assert isinstance(store, CorrelationStore)
    store.put_correlation("a", "17", "m1", 1, 10.0)
    store.put_correlation("b", "17", "m2", 2, 10.0)
    assert store.get_correlation("a", "17") == ("m1", 1)
    assert store.get_correlation("b", "17") == ("m2", 2)
    assert store.get_correlation("c", "17") is None and store.get_correlation("a", "18") is None
    store.put_correlation("a", "17", "m3", 1, 20.0)  # the SMSC reused the id
    assert store.get_correlation("a", "17") == ("m3", 1)
    store.flush()
    assert store.get_correlation("a", "17") == ("m3", 1)


def test_rows_expire_after_the_horizon_and_survive_a_restart(backend: Backend) -> None:
    store = backend.open(clock_offset=1_000.0)
    for i in range(10):
        store.put_correlation("a", str(i), f"m{i}", 1, float(i))
    store.flush()
    assert store.expire_correlations(5.0, limit=3) == 3  # oldest first, a bounded bite
    assert store.get_correlation("a", "2") is None and store.get_correlation("a", "3") == ("m3", 1)
    assert store.expire_correlations(5.0) == 2
    assert store.get_correlation("a", "4") is None and store.get_correlation("a", "5") == ("m5", 1)
    store.close()
    again = backend.reopen()
    assert again.get_correlation("a", "9") == ("m9", 1)
    assert again.get_correlation("a", "0") is None
    assert again.expire_correlations(100.0) == 5
    assert again.get_correlation("a", "9") is None
