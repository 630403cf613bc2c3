"""``support.isotime.iso``: the one ISO 8601 format of the API and the events, the same
text as ``datetime.isoformat`` (milliseconds truncated, rounding at the microsecond)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from smppgw.support.isotime import iso


def reference(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False))  # to 2100
def test_iso_is_datetimes_text(wall: float) -> None:
    assert iso(wall) == reference(wall)


def test_edges_of_a_second_and_the_cache() -> None:
    for wall in (0.0, 1.9995, 2.9999995, 1_765_000_000.999999, 1_765_000_000.9999995, 1_765_000_001.0):
        assert iso(wall) == reference(wall)
    # Back and forth between two seconds: the cached prefix follows.
    assert [iso(w) for w in (10.5, 11.25, 10.75)] == [
        "1970-01-01T00:00:10.500Z", "1970-01-01T00:00:11.250Z", "1970-01-01T00:00:10.750Z"
    ]  # fmt: skip
