"""Opening listening sockets with an error that says where: "Address already in use"
alone does not tell which of a tool's addresses (SMPP, HTTP API, control API) is taken."""

from __future__ import annotations

import trio

__all__ = ["listen_error", "open_listeners"]


def listen_error(exc: OSError, host: str | None, port: int) -> OSError:
    """``exc`` as ``cannot listen on HOST:PORT: <why>``, its errno kept."""
    where = host or "*"
    address = f"[{where}]:{port}" if ":" in where else f"{where}:{port}"
    return OSError(exc.errno, f"cannot listen on {address}: {exc.strerror or exc}")


async def open_listeners(port: int, *, host: str | None) -> list[trio.SocketListener]:
    """``trio.open_tcp_listeners`` whose OSError names the address.

    Raises:
        OSError: ``cannot listen on 127.0.0.1:2775: Address already in use``.
    """
    try:
        return await trio.open_tcp_listeners(port, host=host)
    except OSError as exc:
        raise listen_error(exc, host, port) from None
