"""Outbound safety: a webhook may only reach public addresses, unless a range is allowed.

A subscriber chooses the URL, so without this a webhook could be aimed at the server's own
loopback services, the cloud metadata address (169.254.169.254) or the private network behind
it. The check is made on the addresses the name resolves to, and the connection goes to the
checked addresses (the resolver hands only those to the connector), so a name that resolves
differently a second time cannot slip past. IP literals never reach a resolver and are checked
before the request. Allowed ranges come from ``TRYVOGA_WEBHOOK_ALLOW_NETWORKS``.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from tryvoga.errors import BadRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL = 2048
# Legacy numeric forms (127.1, 2130706433, 0x7f.1) that some resolvers map onto addresses.
_NUMERIC_HOST = re.compile(r"(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+))*")


class DestinationRefused(OSError):
    """The destination resolves only to addresses that webhooks may not reach."""


class Policy:
    def __init__(self, allow_networks: Iterable[str] = ()) -> None:
        self.allowed = tuple(ipaddress.ip_network(n, strict=False) for n in allow_networks)

    def allows(self, address: str | IPAddress) -> bool:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        if any(ip in network for network in self.allowed):
            return True
        embedded = embedded_ipv4(ip)
        if embedded:
            # Reached through a translator or a tunnel, the IPv4 address is what answers:
            # it is judged, and every one of them must pass.
            return all(self.allows(inner) for inner in embedded)
        if ip.is_unspecified or ip.is_multicast:
            return False
        return ip.is_global

    def why_refused(self, address: str) -> str:
        ranges = ", ".join(map(str, self.allowed))
        hint = (f"it is outside TRYVOGA_WEBHOOK_ALLOW_NETWORKS ({ranges})" if ranges else
                "set TRYVOGA_WEBHOOK_ALLOW_NETWORKS to a range that holds it to allow it")
        return f"{address} is a private, loopback, link-local or reserved address; {hint}"

    def check_url(self, raw: object) -> str:
        """A normalised http(s) URL, or a 422 that says what is wrong with it."""
        if raw is None:
            raise BadRequest("url is required: the http:// or https:// address to POST to",
                             field="url")
        if not isinstance(raw, str):
            kind = {bool: "a boolean", int: "a number", float: "a number", list: "a list",
                    dict: "an object"}.get(type(raw), type(raw).__name__)
            raise BadRequest(f"url must be a string, the http:// or https:// address to POST "
                             f"to, not {kind}", field="url")
        if not raw.strip():
            raise BadRequest("url is empty: give the http:// or https:// address to POST to",
                             field="url")
        text = raw.strip()
        if len(text) > MAX_URL:
            raise BadRequest(f"url is longer than {MAX_URL} characters", field="url")
        try:
            url = URL(text)
            port = url.port
        except (ValueError, TypeError):
            raise BadRequest(f"url {text!r} is not a valid URL", field="url",
                             code="webhook_url_invalid") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise BadRequest("url must be an absolute http:// or https:// URL",
                             field="url", code="webhook_url_invalid")
        if port is None or not 0 < port < 65536:
            raise BadRequest("url has an invalid port", field="url",
                             code="webhook_url_invalid")
        if url.user or url.password:
            raise BadRequest("url must not carry a user name or password; the signature "
                             "authenticates the sender", field="url",
                             code="webhook_url_invalid")
        host = url.host.rstrip(".").lower()
        literal = literal_ip(host)
        if literal is None and _NUMERIC_HOST.fullmatch(host):
            raise BadRequest(f"url: {host!r} is not a canonical IP address (write it as "
                             "four decimal numbers, e.g. 203.0.113.7)", field="url",
                             code="webhook_url_invalid")
        if host == "localhost" or host.endswith(".localhost"):
            literal = ipaddress.ip_address("127.0.0.1")
        if literal is not None and not self.allows(literal):
            raise BadRequest(f"url: {self.why_refused(str(literal))}", field="url",
                             code="webhook_destination_refused")
        return str(url.with_fragment(None))


NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d


def embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for: IPv4-mapped (::ffff:a.b.c.d),
    IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d, and the local-use 64:ff9b:1::/48),
    6to4 (2002:aabb:ccdd::) and Teredo (server and client); [] for any other."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if any(ip in network for network in NAT64):
        return [low32]
    if ip in IPV4_COMPATIBLE and int(ip) > 1:  # not :: nor ::1, which are IPv6's own
        return [low32]
    return []


def literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class SafeResolver(AbstractResolver):
    """Resolves with the system resolver, then keeps only addresses the policy allows."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._inner = ThreadedResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        allowed = [r for r in found if self.policy.allows(r["host"])]
        if not allowed:
            refused = ", ".join(sorted({r["host"] for r in found})) or "no address"
            raise DestinationRefused(f"{host} resolves to {refused}: "
                                     f"{self.policy.why_refused(refused)}")
        return allowed

    async def close(self) -> None:
        await self._inner.close()
