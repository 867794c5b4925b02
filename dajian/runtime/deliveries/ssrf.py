"""The address guard of outbound HTTP (webhooks, IM robots): no request reaches a
loopback, private or otherwise non-public address unless the workspace's allow-list
names it.

A URL must be ``http`` or ``https`` with a host. The host is resolved once and **every**
address it resolves to must be public (or allow-listed): not loopback, private (RFC
1918, unique-local), link-local (cloud metadata at 169.254.169.254), multicast,
reserved, unspecified or shared CGNAT space (100.64.0.0/10), and no IPv6 address that
embeds such an IPv4 address (mapped, compatible, 6to4, NAT64, Teredo). The sender then
connects to the address that was checked (:func:`resolve_safe`), so a second DNS answer
cannot point the request elsewhere.

Allow-list entries are host names (matched exactly, case-insensitively), IP addresses
or CIDR networks: a named host allows whatever it resolves to; an address or network
allows those addresses whatever name led there.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import httpx

from dajian.platform.errors import ErrorDetail
from dajian.runtime.deliveries.errors import DeliveryErrorCode, delivery_error

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Save-time checks wait this long for DNS; a name that does not answer is checked at send.
CHECK_RESOLVE_TIMEOUT = 2.0
MAX_ALLOWLIST_ENTRIES = 100

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# getaddrinfo blocks without a timeout; it runs here so callers can stop waiting.
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dajian-dns")


@dataclass(frozen=True)
class Problem:
    """Why a URL may not be used: ``code`` is INVALID_URL or PRIVATE_ADDRESS."""

    code: str
    message: str


class UnsafeURL(Exception):
    """The URL may not be requested now (see :attr:`problems`)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))


@dataclass(frozen=True)
class Allowlist:
    """A workspace's allow-list, parsed (entries that are none of the three are ignored)."""

    hosts: frozenset[str]
    networks: tuple[Network, ...]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        hosts: set[str] = set()
        networks: list[Network] = []
        for entry in entries:
            parsed = parse_entry(entry)
            if isinstance(parsed, str):
                hosts.add(parsed)
            elif parsed is not None:
                networks.append(parsed)
        return cls(frozenset(hosts), tuple(networks))

    def allows_ip(self, ip: IPAddress) -> bool:
        candidates = [ip, *([v4] if (v4 := embedded_ipv4(ip)) else [])]
        return any(
            c in net for c in candidates for net in self.networks if c.version == net.version
        )


def normalize_host(host: str) -> str | None:
    """A host name in lower-case ASCII (IDNA) without a trailing dot, or None."""
    try:
        ascii_host = host.strip().rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = ascii_host.split(".")
    if not ascii_host or len(ascii_host) > 253 or not all(_HOST_LABEL.match(p) for p in labels):
        return None
    return ascii_host


def parse_entry(entry: object) -> str | Network | None:
    """An allow-list entry as a host name (normalised) or a network (a single address
    is a /32 or /128); None when it is neither."""
    if not isinstance(entry, str) or not entry.strip():
        return None
    text = entry.strip()
    try:
        return ipaddress.ip_network(text.strip("[]"), strict=False)
    except ValueError:
        pass
    if text.replace(".", "").isdigit():  # "10.1" is no host name and no address either
        return None
    return normalize_host(text)


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, NAT64,
    Teredo client), or None."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if int(ip) >> 32 == 0 and int(ip) > 1:  # ::a.b.c.d, IPv4-compatible (deprecated)
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why requests may not go to ``ip`` without the allow-list, or None if public."""
    v4 = embedded_ipv4(ip)
    if v4 is not None:
        reason = blocked_reason(v4)
        mapped = isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None
        if reason or mapped:  # a mapped address is exactly its IPv4 address
            return f"{reason} (in {ip})" if reason else None
    checks = (
        ("is_loopback", "a loopback address"),
        ("is_unspecified", "the unspecified address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
    )
    for attribute, reason in checks:
        if getattr(ip, attribute):
            return f"{ip} is {reason}"
    if ip in _CGNAT:
        return f"{ip} is a shared (CGNAT) address"
    if ip.is_reserved:
        return f"{ip} is a reserved address"
    if ip.is_private:
        return f"{ip} is a private address"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None


@dataclass(frozen=True)
class Target:
    """A parsed request target: the URL, the host to resolve and the port."""

    url: httpx.URL
    host: str
    port: int


def parse_url(url: str) -> Target:
    """The target of ``url``, or :class:`UnsafeURL` (INVALID_URL)."""

    def invalid(detail: str) -> UnsafeURL:
        return UnsafeURL([Problem(DeliveryErrorCode.INVALID_URL, detail)])

    if not isinstance(url, str) or not url.strip():
        raise invalid("the address is empty")
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, ValueError) as exc:
        raise invalid(str(exc)) from None
    if parsed.scheme not in ("http", "https"):
        raise invalid(f"the scheme must be http or https, not {parsed.scheme or 'none'!r}")
    host = parsed.raw_host.decode("ascii").strip("[]").rstrip(".").lower()
    if not host:
        raise invalid("the address has no host")
    if literal_ip(host) is None and normalize_host(host) is None:
        raise invalid(f"{host!r} is not a host name")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return Target(parsed, host, port)


def literal_ip(host: str) -> IPAddress | None:
    """The address a host spells as an IP literal, or None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def resolve_host(host: str, port: int, timeout: float) -> list[IPAddress]:
    """Every address the name ``host`` resolves to. Raises ``OSError`` when it does not
    resolve within ``timeout`` seconds."""
    future = _resolver.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=timeout)
    except FutureTimeout:
        raise OSError(f"resolving {host} took longer than {timeout:g} s") from None
    found: dict[IPAddress, None] = {}
    for *_, sockaddr in infos:
        found[ipaddress.ip_address(str(sockaddr[0]).split("%")[0])] = None
    if not found:
        raise OSError(f"{host} has no address")
    return list(found)


def addresses_of(target: Target, timeout: float) -> list[IPAddress]:
    """The target's IP literal, or what its name resolves to (see :func:`resolve_host`)."""
    ip = literal_ip(target.host)
    return [ip] if ip is not None else resolve_host(target.host, target.port, timeout)


def _address_problems(
    target: Target, addresses: list[IPAddress], allow: Allowlist
) -> list[Problem]:
    if target.host in allow.hosts:
        return []
    problems = []
    for ip in addresses:
        reason = blocked_reason(ip)
        if reason and not allow.allows_ip(ip):
            problems.append(Problem(DeliveryErrorCode.PRIVATE_ADDRESS, reason))
    return problems


def url_problems(
    url: str, allowlist: Iterable[str], resolve: bool = True, timeout: float = CHECK_RESOLVE_TIMEOUT
) -> list[Problem]:
    """Problems with ``url`` for a save-time check. A host name that does not resolve
    (within ``timeout``) is no problem here: it is resolved again at send."""
    try:
        target = parse_url(url)
    except UnsafeURL as exc:
        return exc.problems
    allow = Allowlist.parse(allowlist)
    if target.host in allow.hosts:
        return []
    addresses: list[IPAddress] = []
    if resolve:
        with contextlib.suppress(OSError, UnicodeError):
            addresses = addresses_of(target, timeout)
    elif (ip := literal_ip(target.host)) is not None:
        addresses = [ip]
    return _address_problems(target, addresses, allow)


def check_url(url: str, allowlist: Iterable[str], resolve: bool = True) -> list[str]:
    """The problems of :func:`url_problems` as texts (empty: the URL may be saved)."""
    return [p.message for p in url_problems(url, allowlist, resolve)]


def resolve_safe(url: str, allowlist: Iterable[str], timeout: float = 10.0) -> str:
    """The IP address to connect to for ``url``: its host resolved once, every answer
    checked. Raises :class:`UnsafeURL` for a refused URL and ``OSError`` when the host
    does not resolve."""
    target = parse_url(url)
    allow = Allowlist.parse(allowlist)
    addresses = addresses_of(target, timeout)
    problems = _address_problems(target, addresses, allow)
    if problems:
        raise UnsafeURL(problems)
    return str(addresses[0])


def url_errors(url: str, path: str, allowlist: Iterable[str]) -> list[ErrorDetail]:
    """Save-time errors of an action's ``url`` at ``path`` (INVALID_URL or
    PRIVATE_ADDRESS), resolving the host with a short timeout."""
    return [delivery_error(p.code, path, detail=p.message) for p in url_problems(url, allowlist)]
