"""Which hosts a fetch may reach: public addresses, the operator's own hosts, FETCH_ALLOW_HOSTS.

A feed is written by someone else: an item, a sitemap entry or a redirect pointing at
127.0.0.1, 10.x, 169.254.169.254 (cloud metadata) or a LAN name would make an internal page a
citable article. So every request (each redirect hop, robots.txt too) is checked after name
resolution: a host that resolves to any address that is not globally routable is refused,
unless the operator named it, as a feed or page of their own (trusted as given) or in
FETCH_ALLOW_HOSTS (a host name, an address or a network such as 10.0.0.0/8).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from index.ingest.feeds.errors import FetchError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def host_of(url: str) -> str:
    """The URL's host name in lower case, without brackets ("" when it has none)."""
    return (urlsplit(url).hostname or "").lower()


def _plain(address: Address) -> Address:
    """An IPv4 address written as IPv6 (`::ffff:127.0.0.1`, `::127.0.0.1`) as the IPv4 it is."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        packed = address.packed
        if packed[:12] == bytes(12) and packed[12:] != bytes(4):  # IPv4-compatible, deprecated
            return ipaddress.IPv4Address(packed[12:])
    return address


def is_public(address: Address) -> bool:
    """Globally routable: not loopback, private, link-local, shared, reserved or 0.0.0.0."""
    plain = _plain(address)
    return plain.is_global and not plain.is_multicast


class AddressPolicy:
    """`check(url)` refuses a URL whose host is not public, unless the operator allowed it."""

    def __init__(self, trusted: Iterable[str] = (), allowed: Iterable[str] = ()) -> None:
        self._hosts = {h.strip().lower().strip("[]") for h in [*trusted, *allowed] if h.strip()}
        self._networks: list[Network] = []
        for entry in allowed:
            try:
                self._networks.append(ipaddress.ip_network(entry.strip().strip("[]"), strict=False))
            except ValueError:
                continue  # a host name, matched by name above

    def _allowed(self, address: Address) -> bool:
        plain = _plain(address)
        return any(plain in net or address in net for net in self._networks)

    async def check(self, url: str) -> None:
        """Raise `FetchError` ("refused: …") unless every address of the URL's host may be used."""
        host = host_of(url)
        if not host or host in self._hosts:
            return
        try:
            port = urlsplit(url).port
        except ValueError:
            raise FetchError(f"bad URL (port of {url})") from None
        try:
            literal: Address | None = ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(host, port or 80, type=socket.SOCK_STREAM)
            except socket.gaierror:
                raise FetchError("DNS: host not found") from None
            addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        for address in addresses:
            if not is_public(address) and not self._allowed(address):
                raise FetchError(
                    f"refused: {host} is a non-public address ({_plain(address)}); "
                    "FETCH_ALLOW_HOSTS lists the internal hosts that may be fetched"
                )
