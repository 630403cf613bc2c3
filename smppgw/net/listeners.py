"""Opening listening sockets with an error that says where: "Address already in use"
alone does not tell which of a tool's addresses (SMPP, HTTP API, control API) is taken."""

from __future__ import annotations

import errno
from typing import Final

import trio

from smppgw.support.groups import find

__all__ = ["ListenError", "bind_error", "listen_error", "open_listeners"]

_BIND_ERRORS: Final = frozenset({errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES})


def bind_error(exc: BaseException) -> OSError | None:
    """The OSError of a failed bind in ``exc`` (or in its exception groups), else None:
    for servers that open their sockets themselves (Hypercorn)."""
    found = find(exc, (OSError,)) if isinstance(exc, BaseExceptionGroup) else exc
    return found if isinstance(found, OSError) and found.errno in _BIND_ERRORS else None


class ListenError(OSError):
    """A socket could not listen; ``str()`` is the message alone (no ``[Errno 98]``)."""

    def __str__(self) -> str:
        return str(self.strerror)


def listen_error(exc: OSError, host: str | None, port: int) -> OSError:
    """``exc`` as ``cannot listen on HOST:PORT: <why>``, its errno kept."""
    where = host or "*"
    address = f"[{where}]:{port}" if ":" in where else f"{where}:{port}"
    return ListenError(exc.errno, f"cannot listen on {address}: {exc.strerror or exc}")


async def open_listeners(port: int, *, host: str | None) -> list[trio.SocketListener]:
    """``trio.open_tcp_listeners`` whose OSError names the address.

    Raises:
        OSError: ``cannot listen on 127.0.0.1:2775: Address already in use``.
    """
    try:
        return await trio.open_tcp_listeners(port, host=host)
    except OSError as exc:
        raise listen_error(exc, host, port) from None
