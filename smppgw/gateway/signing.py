"""Webhook signatures (the Standard Webhooks scheme) and the SSRF rule for callback URLs.

Signature: ``webhook-signature: v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>``,
one per secret, space-separated (two during a rotation), where ``id`` is the
``webhook-id`` header (the event id) and ``timestamp`` the ``webhook-timestamp`` header
(Unix seconds of the attempt). Secrets are given as ``whsec_<base64>`` (the prefix is
optional); the HMAC key is the decoded bytes.

SSRF: a per-message ``callback_url`` comes from an API caller, not the operator, so the
gateway must not be made to POST to itself or to the network behind it: a target whose
address is loopback, private, link-local, multicast, reserved or unspecified is refused,
literally at the API (``literal_refusal``) and as resolved at each delivery
(``resolved_target``), unless the operator allows private targets. The delivery then
connects to the address that was checked (no second lookup for DNS rebinding to answer).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress

import httpx
import trio

__all__ = [
    "address_refusal",
    "literal_refusal",
    "parse_secrets",
    "resolved_refusal",
    "resolved_target",
    "sign",
]


def parse_secrets(value: str) -> tuple[bytes, ...]:
    """One or two secrets separated by whitespace, each ``whsec_<base64>``.

    Raises:
        ValueError: none given, or one is not base64.
    """
    out: list[bytes] = []
    for word in value.split():
        raw = word.removeprefix("whsec_")
        try:
            key = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a secret is whsec_ followed by base64") from None
        if not key:
            raise ValueError("an empty secret")
        out.append(key)
    if not out:
        raise ValueError("no secret in it")
    return tuple(out)


def sign(secrets: tuple[bytes, ...], event_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value: one ``v1,<base64>`` per secret."""
    signed = f"{event_id}.{timestamp}.".encode() + body
    # hmac.digest: OpenSSL's one-shot HMAC, a few times cheaper than an hmac.new object.
    return " ".join("v1," + base64.b64encode(hmac.digest(key, signed, "sha256")).decode() for key in secrets)


def address_refusal(address: str) -> str | None:
    """What an IP address is if it is no target for a caller's URL ("loopback address
    127.0.0.1"), or None."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, hit in (
        ("loopback", ip.is_loopback),
        ("private", ip.is_private),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("reserved", ip.is_reserved),
    ):
        if hit:
            return f"{kind} address {ip}"
    return None


def literal_refusal(url: str) -> str | None:
    """What can be told without a DNS lookup: the scheme, a host, a literal address, localhost."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "not a URL"
    if parsed.scheme not in ("http", "https"):
        return f"an http or https URL, got scheme {parsed.scheme!r}"
    host = parsed.host.rstrip(".").lower()
    if not host:
        return "a URL with a host"
    if host == "localhost" or host.endswith(".localhost"):
        return "loopback host localhost is not allowed"
    if (kind := address_refusal(host)) is not None:
        return f"{kind} is not allowed"
    return None


async def resolved_target(url: str) -> tuple[str | None, str | None]:
    """(refusal, address): ``literal_refusal``, then every address the host resolves to;
    allowed, the address to connect to (the first one; None when the host is a literal
    address already, or does not resolve: then the attempt fails and is retried)."""
    if (refused := literal_refusal(url)) is not None:
        return refused, None
    parsed = httpx.URL(url)
    if address_refusal(parsed.host) is None and _is_address(parsed.host):
        return None, None  # a literal public address: nothing to resolve
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        infos = await trio.socket.getaddrinfo(parsed.host, port, type=trio.socket.SOCK_STREAM)
    except OSError:
        return None, None
    for info in infos:
        if (kind := address_refusal(str(info[4][0]))) is not None:
            return f"{parsed.host} resolves to {kind}, which is not allowed", None
    return None, (str(infos[0][4][0]) if infos else None)


async def resolved_refusal(url: str) -> str | None:
    """``resolved_target``'s refusal alone."""
    return (await resolved_target(url))[0]


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
