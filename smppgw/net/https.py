"""HTTPS for the HTTP front (``net/http.py``): the server's ``ssl.SSLContext`` from a
PEM certificate (chain) and its private key.

TLS 1.2 at least, HTTP/1.1 only (ALPN offers ``http/1.1``), no client certificates.
Every file problem is a ``TlsSetupError`` naming ``cert`` or ``key``, found when the
config is read, not at the first connection. An encrypted key is refused: OpenSSL would
otherwise ask for its password on the terminal and a service would hang at start.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from smppgw.net.tls import TlsSetupError

__all__ = ["https_context"]


def _pem(path: Path, field: str, marker: bytes, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TlsSetupError(field, f"no such file: {path}") from None
    except OSError as exc:
        raise TlsSetupError(field, f"cannot read {path}: {exc.strerror or exc}") from None
    if marker not in data:
        raise TlsSetupError(field, f"not a PEM {what}: {path}")
    return data


def _no_password() -> bytes:
    raise TlsSetupError("key", "the key is encrypted; give an unencrypted key (readable only by the gateway)")


def https_context(cert: str | Path, key: str | Path) -> ssl.SSLContext:
    """Raises TlsSetupError naming ``cert`` or ``key``: missing, unreadable, not PEM,
    encrypted, or a key that is not the certificate's."""
    cert, key = Path(cert), Path(key)
    _pem(cert, "cert", b"-----BEGIN CERTIFICATE-----", "certificate")
    pem = _pem(key, "key", b"PRIVATE KEY-----", "private key")
    if b"ENCRYPTED" in pem:
        _no_password()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(cert, key, password=_no_password)
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise TlsSetupError("key", f"{key} is not the private key of {cert}") from None
        field = "key" if _certificates_load(cert) else "cert"
        why = f" ({exc.reason})" if exc.reason else ""
        raise TlsSetupError(field, f"does not load{why}: {cert if field == 'cert' else key}") from None
    return context


def _certificates_load(cert: Path) -> bool:
    """Whether OpenSSL reads ``cert`` as certificates (then the key is what failed)."""
    try:
        ssl.create_default_context(cafile=str(cert))
    except ssl.SSLError:
        return False
    return True
