"""Shared helpers for the simulator's network-level tests (interop, hostile, determinism).

Only plain helpers live here (no autouse fixtures), so the other simulator tests are
unaffected. Import them as ``from tests.simulator.conftest import ...``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, NamedTuple

import trio

from simulator import run_simulator
from simulator.config import config_from_dict
from simulator.smsc import Simulator

__all__ = [
    "HOST",
    "RawPdu",
    "read_pdu",
    "recv_until_eof",
    "start_simulator",
    "wait_until",
]

HOST = "127.0.0.1"
_HEADER = struct.Struct(">IIII")


class RawPdu(NamedTuple):
    command_length: int
    command_id: int
    command_status: int
    sequence_number: int
    body: bytes


async def start_simulator(nursery: trio.Nursery, **config: Any) -> Simulator:
    """Start a simulator on an ephemeral loopback port; ``config`` keys as in TOML (the
    ``fast`` profile, receipts at once, unless it names another)."""
    data: dict[str, Any] = {"host": HOST, "port": 0, "seed": 1, "profile": "fast"}
    data.update(config)
    sim = await nursery.start(run_simulator, config_from_dict(data))
    assert isinstance(sim, Simulator)
    assert sim.port > 0
    return sim


async def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes; returns its last value."""
    with trio.move_on_after(timeout):
        while not predicate():
            await trio.sleep(interval)
        return True
    return predicate()


async def read_pdu(stream: trio.abc.Stream, buffer: bytearray, timeout: float = 2.0) -> RawPdu | None:
    """Read one whole PDU from a raw stream (header fields and body, undecoded).

    Returns None at EOF. ``buffer`` keeps octets read past the PDU for the next call.
    Raises ``trio.TooSlowError`` if no whole PDU arrives within ``timeout``.
    """
    with trio.fail_after(timeout):
        while True:
            if len(buffer) >= 4:
                length = int.from_bytes(buffer[:4], "big")
                if len(buffer) >= length >= 16:
                    frame = bytes(buffer[:length])
                    del buffer[:length]
                    return RawPdu(*_HEADER.unpack_from(frame), frame[16:])
            data = await stream.receive_some(65536)
            if not data:
                return None
            buffer += data


async def recv_until_eof(stream: trio.abc.Stream, timeout: float) -> bytes:
    """Everything the peer sends until it closes; ``trio.TooSlowError`` if it never does."""
    out = bytearray()
    with trio.fail_after(timeout):
        while True:
            try:
                data = await stream.receive_some(65536)
            except trio.BrokenResourceError:  # reset by the peer: closed too
                return bytes(out)
            if not data:
                return bytes(out)
            out += data
