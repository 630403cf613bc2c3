"""What a response may look like: ``Reply`` patterns, and ``judge``, which holds a
response against them (see ``conformance.smsc.steps`` for how cases use them).

``resp(status)`` is the request's own *_resp and ``nack(status)`` a generic_nack; a status
is a value, a tuple of values, ``ERROR`` (any non-zero) or ``ANY``. A pattern may carry a
``check`` of the decoded frame. Patterns a step lists as *lenient* pass with a note in
lenient mode and fail in strict mode (``conformance.model``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Final

import attrs

from conformance.model import CaseFailed
from conformance.smsc.context import SmscContext
from conformance.wire import Frame, command_name
from smppgw.core.constants import CommandId, status_name

__all__ = ["ANY", "ERROR", "Accept", "FrameCheck", "Reply", "StatusSpec", "judge", "nack", "resp"]

ERROR: Final = "error"  # any non-zero command_status
ANY: Final = "any"
StatusSpec = int | tuple[int, ...] | str
FrameCheck = Callable[[Frame, SmscContext], str | None]


class Accept(enum.Enum):
    """Whether the SMSC closing the connection (instead of answering) is acceptable."""

    NEVER = "never"
    LENIENT = "lenient"  # tolerated in lenient mode only
    ALWAYS = "always"


def _status_text(spec: StatusSpec) -> str:
    if spec == ERROR:
        return "an error status"
    if spec == ANY:
        return "any status"
    if isinstance(spec, tuple):
        return " or ".join(status_name(s) for s in spec)
    assert isinstance(spec, int)
    return status_name(spec)


def _status_ok(spec: StatusSpec, status: int) -> bool:
    if spec == ERROR:
        return status != 0
    if spec == ANY:
        return True
    if isinstance(spec, tuple):
        return status in spec
    return status == spec


@attrs.frozen
class Reply:
    """One acceptable shape of a response. ``command_id`` None means the request's *_resp."""

    status: StatusSpec = 0
    command_id: int | None = None
    check: FrameCheck | None = None

    def expected(self, request_id: int) -> str:
        cid = self.command_id if self.command_id is not None else request_id | 0x8000_0000
        return f"{command_name(cid)} with {_status_text(self.status)}"

    def mismatch(self, frame: Frame, ctx: SmscContext, request_id: int) -> str | None:
        """None if ``frame`` fits; else what is wrong with it."""
        cid = self.command_id if self.command_id is not None else request_id | 0x8000_0000
        if frame.command_id != cid or not _status_ok(self.status, frame.status):
            return f"expected {self.expected(request_id)}"
        if frame.pdu is None and frame.status == 0:
            return f"{frame.name} does not decode: {frame.error}"
        if self.check is not None:
            return self.check(frame, ctx)
        return None


def resp(status: StatusSpec = 0, check: FrameCheck | None = None) -> Reply:
    return Reply(status=status, check=check)


def nack(status: StatusSpec = ERROR, check: FrameCheck | None = None) -> Reply:
    return Reply(status=status, command_id=CommandId.GENERIC_NACK, check=check)


def judge(
    frame: Frame, ctx: SmscContext, request_id: int, expect: tuple[Reply, ...], lenient: tuple[Reply, ...]
) -> None:
    """Pass, note (lenient alternative in lenient mode) or raise ``CaseFailed``."""
    problems = []
    for reply in expect:
        problem = reply.mismatch(frame, ctx, request_id)
        if problem is None:
            return
        problems.append(problem)
    for reply in lenient:
        if reply.mismatch(frame, ctx, request_id) is None:
            wanted = " or ".join(r.expected(request_id) for r in expect)
            if ctx.strict:
                raise CaseFailed(
                    f"strict mode wants {wanted}; got {frame.describe()} (lenient mode accepts it)"
                )
            ctx.note(f"accepted in lenient mode: {frame.describe()} (strict mode wants {wanted})")
            return
    specific = [p for p in problems if not p.startswith("expected ")]
    reason = specific[0] if specific else " or ".join(r.expected(request_id) for r in expect)
    if not specific:
        reason = f"expected {reason}"
    raise CaseFailed(f"{reason}; got {frame.describe()}")
