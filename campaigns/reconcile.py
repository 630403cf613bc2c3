"""Setting the gateway's records against what the SMSC received, and the tables.

A message is told apart at the SMSC by its destination (``common.destination``), a part
of a two-part message by its UDH sequence number.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import attrs

from campaigns.common import FINAL, PREFIX

__all__ = ["Reconciled", "part_of", "reconcile", "table"]


def part_of(record: dict[str, Any]) -> int:
    """The UDH sequence number of a received part (1 for a message in one part)."""
    payload = bytes.fromhex(record["payload_hex"])
    if not record["esm_class"] & 0x40 or not payload:
        return 1
    udh, at = payload[1 : 1 + payload[0]], 0
    while at + 2 <= len(udh):
        iei, length = udh[at], udh[at + 1]
        if iei == 0x00 and length == 3:
            return udh[at + 4]
        if iei == 0x08 and length == 4:
            return udh[at + 5]
        at += 2 + length
    return 1


@attrs.define
class Reconciled:
    """The gateway's records of some messages set against what the SMSC received."""

    sent: int = 0  # acknowledged by the API
    delivered: int = 0  # final ``delivered``
    failed: Counter[str] = attrs.field(factory=Counter)  # final, another status: reported
    stuck: int = 0  # not final
    lost: int = 0  # acknowledged, yet missing from the gateway, or shown sent and absent at the SMSC
    unreached: int = 0  # parts that never reached the SMSC (not a loss when reported failed)
    duplicated: int = 0  # extra copies at the SMSC
    counted: int = 0  # ... of which within the parts' resent_unknown
    uncounted: int = 0  # ... beyond it
    strangers: int = 0  # messages at the SMSC the campaign never had acknowledged
    problems: list[str] = attrs.field(factory=list)


def reconcile(
    acked: dict[int, str],
    views: dict[str, dict[str, Any]],
    received: Iterable[dict[str, Any]],
    numbers: range,
) -> Reconciled:
    """Set the acknowledged messages (number -> id) of ``numbers`` against the gateway's
    ``views`` and the SMSC's ``received`` log (every SMSC process of the run)."""
    copies: Counter[tuple[int, int]] = Counter()
    for record in received:
        dest = record["destination_addr"]
        if dest.startswith(PREFIX) and int(dest[len(PREFIX) :]) in numbers:
            copies[int(dest[len(PREFIX) :]), part_of(record)] += 1
    out = Reconciled(sent=len(acked))
    for (i, _), _n in copies.items():
        if i not in acked:
            out.strangers += 1
    for i, message_id in sorted(acked.items()):
        view = views.get(message_id)
        if view is None:
            out.lost += 1
            out.problems.append(f"message {i} ({message_id}) acknowledged but not in the gateway")
            continue
        status = view["status"]
        if status == "delivered":
            out.delivered += 1
        elif status in FINAL:
            out.failed[status] += 1
        else:
            out.stuck += 1
            out.problems.append(f"message {i} ({message_id}) still {status}")
        for part in view["parts"]:
            n = copies[i, part["index"]]
            if n == 0:
                out.unreached += 1
                if part["smsc_message_id"] is not None or part["status"] == "delivered":
                    out.lost += 1
                    out.problems.append(f"message {i} part {part['index']} shown sent, not at the SMSC")
                continue
            extra = n - 1
            out.duplicated += extra
            out.counted += min(extra, part["resent_unknown"])
            if extra > part["resent_unknown"]:
                out.uncounted += extra - part["resent_unknown"]
                out.problems.append(
                    f"message {i} part {part['index']}: {n} copies at the SMSC, "
                    f"resent_unknown {part['resent_unknown']}"
                )
    if out.strangers:
        out.problems.append(f"{out.strangers} parts at the SMSC were never acknowledged")
    return out


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain text table: right-aligned columns, one header line and a rule."""
    cells = [headers, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[k]) for row in cells) for k in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if k else c.ljust(w) for k, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in cells]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
