"""Requests the platform sends to URLs its users gave (session callbacks): guarded against
server-side request forgery.

A URL is checked twice: statically when it is accepted (scheme, allowed hosts, a literal address
or `localhost`), and when it is used, where its host is resolved once, the address checked, and
the connection made to exactly that address (the `Host` header and TLS name still say the
host), so a DNS answer that changes between check and use cannot redirect it. No redirect is
ever followed and every request has a short timeout.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

MAX_URL_LENGTH = 1024
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class OutboundRefused(ValueError):
    """The URL may not be requested under the outbound policy; the message says why."""


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    schemes: frozenset[str]
    # host names (or `*.example.com` suffixes) requests may go to; empty means any public host
    hosts: tuple[str, ...]
    # loopback, link-local, private and other non-global addresses
    allow_private: bool
    timeout_seconds: float


@dataclass(frozen=True, slots=True)
class OutboundTarget:
    scheme: str
    host: str
    port: int
    target: str  # path and query, as sent on the request line
    address: str  # the resolved address the connection goes to

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def _host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    if not allowed:
        return True
    for entry in allowed:
        entry = entry.lower().rstrip(".")
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
        if host == entry:
            return True
    return False


def _address_check(address: str, policy: OutboundPolicy) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if policy.allow_private:
        return
    if not ip.is_global or ip.is_multicast:
        raise OutboundRefused(
            f"{address} is a loopback, link-local, private or reserved address, "
            "which callbacks may not reach"
        )


def outbound_url_check(url: str, policy: OutboundPolicy) -> tuple[str, str, int, str]:
    """Static checks (no DNS): the scheme, host and port of `url`, and its request target."""
    if len(url) > MAX_URL_LENGTH:
        raise OutboundRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in policy.schemes:
        raise OutboundRefused(
            f"scheme {scheme or '(none)'!r} is not allowed (allowed: "
            f"{', '.join(sorted(policy.schemes))})"
        )
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise OutboundRefused("the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise OutboundRefused("credentials in the URL are not allowed")
    if not _host_allowed(host, policy.hosts):
        raise OutboundRefused(f"host {host!r} is not among the allowed callback hosts")
    if not policy.allow_private and (host in _LOCAL_NAMES or host.endswith(".localhost")):
        raise OutboundRefused(f"host {host!r} is a loopback name, which callbacks may not reach")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        _address_check(host, policy)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), target


def outbound_target_resolve(url: str, policy: OutboundPolicy) -> OutboundTarget:
    """Check `url`, resolve its host once and check the address the request will go to."""
    scheme, host, port, target = outbound_url_check(url, policy)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise OutboundRefused(f"cannot resolve {host!r}: {exc}") from None
    if not infos:
        raise OutboundRefused(f"cannot resolve {host!r}")
    address = str(infos[0][4][0])
    _address_check(address, policy)
    return OutboundTarget(scheme=scheme, host=host, port=port, target=target, address=address)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address, verifying the certificate for the URL's host name."""

    def __init__(self, target: OutboundTarget, timeout: float) -> None:
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def outbound_post_json(target: OutboundTarget, payload: Any, *, timeout: float) -> int:
    """POST `payload` as JSON to the pinned address; the response status (redirects are not
    followed: a 3xx is just a status). Raises OSError or http.client.HTTPException."""
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = _PinnedHTTPSConnection(target, timeout)
    else:
        connection = http.client.HTTPConnection(target.address, target.port, timeout=timeout)
    try:
        connection.request(
            "POST",
            target.target,
            body=json.dumps(payload).encode(),
            headers={
                "Host": target.host_header,
                "Content-Type": "application/json",
                "User-Agent": "backendai-django",
            },
        )
        response = connection.getresponse()
        response.read(64 * 1024)
        return response.status
    finally:
        connection.close()
