"""TLS for SMPP over TCP: the ``ssl.SSLContext`` of each side, built from settings.

SMPP 3.4 itself has no TLS; carriers run it over TLS on a separate port (often 3550)
exactly as over TCP (SMPP 3.4 §2.2: the transport is below the PDUs). The rules here:

- the ESME side verifies the server's certificate chain (the system CAs, or ``ca``) and
  its name (``server_name``, else the host it connects to, an IP address included);
  ``verify = False`` turns both off, and only a config written that way gets it;
- TLS 1.2 is the minimum on both sides;
- a failed handshake is ``TlsHandshakeFailed`` (a ``ConnectionLost``): the caller retries
  it like any failed connect and never falls back to plaintext.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import attrs

from smppgw.core.errors import ConnectionLost

__all__ = [
    "TlsHandshakeFailed",
    "TlsSettings",
    "TlsSetupError",
    "client_context",
    "handshake_failure",
    "server_context",
]


@attrs.frozen(kw_only=True)
class TlsSettings:
    """The client side of one SMSC's TLS (the ``[[smsc]]`` ``tls_*`` keys)."""

    ca: str | None = None  # a PEM CA bundle; None: the system CAs
    cert: str | None = None  # a client certificate (PEM), with ``key``
    key: str | None = None
    verify: bool = True
    server_name: str | None = None  # SNI and the name to verify; None: the host


class TlsSetupError(ValueError):
    """A file of the settings cannot be used; ``field`` names the setting (``ca``, ``cert``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class TlsHandshakeFailed(ConnectionLost):
    """The TLS handshake failed: the peer does not speak TLS, its certificate did not
    verify, or it wanted a client certificate. Never a reason to try plaintext."""


def _read(path: str, field: str) -> None:
    if not Path(path).is_file():
        raise TlsSetupError(field, f"no such file: {path}")


def client_context(settings: TlsSettings) -> ssl.SSLContext:
    """The ESME side's context: verification on unless ``settings.verify`` is False.

    Raises:
        TlsSetupError: a file is missing or not usable PEM (naming ``ca``, ``cert`` or ``key``).
    """
    for field in ("ca", "cert", "key"):
        if (path := getattr(settings, field)) is not None:
            _read(path, field)
    if (settings.cert is None) != (settings.key is None):
        raise TlsSetupError("cert" if settings.key is None else "key", "cert and key go together")
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.ca is not None:
        try:
            context.load_verify_locations(cafile=settings.ca)
        except ssl.SSLError as exc:
            raise TlsSetupError("ca", f"not a PEM CA bundle: {settings.ca} ({exc.reason or exc})") from None
    if settings.cert is not None and settings.key is not None:
        try:
            context.load_cert_chain(settings.cert, settings.key)
        except ssl.SSLError as exc:
            raise TlsSetupError("cert", f"certificate and key do not load: {exc.reason or exc}") from None
    if not settings.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def server_context(cert: str, key: str, *, client_ca: str | None = None) -> ssl.SSLContext:
    """The SMSC side's context (the simulator); with ``client_ca`` a client certificate
    signed by it is required (mutual TLS).

    Raises:
        TlsSetupError: a file is missing or not usable PEM.
    """
    for field, path in (("cert", cert), ("key", key), ("client_ca", client_ca)):
        if path is not None:
            _read(path, field)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise TlsSetupError("cert", f"certificate and key do not load: {exc.reason or exc}") from None
    if client_ca is not None:
        try:
            context.load_verify_locations(cafile=client_ca)
        except ssl.SSLError as exc:
            raise TlsSetupError("client_ca", f"not a PEM CA bundle: {client_ca}") from exc
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def handshake_failure(host: str, port: int, exc: BaseException) -> TlsHandshakeFailed:
    """``TLS handshake with HOST:PORT failed: <why>`` for a failed handshake (trio wraps
    the ``ssl`` error in ``BrokenResourceError``; the cause says what went wrong)."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if isinstance(cause, ssl.SSLCertVerificationError):
        why = f"certificate verify failed: {cause.verify_message}"
    elif isinstance(cause, ssl.SSLError) and cause.reason:
        why = cause.reason
        if cause.reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG"):
            why += " (is the server speaking TLS on this port?)"
    elif isinstance(cause, ssl.SSLError):
        why = str(cause)
    else:
        why = f"the server closed the connection ({cause!r}; is it speaking TLS on this port?)"
    return TlsHandshakeFailed(f"TLS handshake with {host}:{port} failed: {why}")
