"""Which webhook URLs may be called: syntax, scheme and every resolved address, vetted before any connection.

A receiver URL is user input, so a careless sender is a server-side request forgery hole into the internal
network and the cloud metadata service. ``vet_url`` resolves the host once and refuses the URL unless every
address is public (or inside an operator's ``allowed_networks``); the sender then connects to those vetted
addresses only, so a DNS answer that changes between check and connect (rebinding) cannot slip through.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import httpx

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
Resolver = Callable[[str, int], list[str]]
"""``(host, port) -> IP address strings``: how a host name becomes addresses."""

# Refused even inside an allowed network: reading them hands out the cloud's credentials for this machine.
# 168.63.129.16 (Azure wireserver) and 100.100.100.200 (Alibaba) are not link-local, so they need naming.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {
        IPv4Address("169.254.169.254"),  # AWS, Azure IMDS, GCP, Oracle, OpenStack
        IPv4Address("168.63.129.16"),  # Azure wireserver
        IPv4Address("100.100.100.200"),  # Alibaba Cloud
        IPv6Address("fd00:ec2::254"),  # AWS IMDS over IPv6
    }
)

_NAT64 = IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix: the IPv4 address is the last 32 bits
_IPV4_COMPATIBLE = IPv6Network("::/96")  # deprecated ::a.b.c.d
_LEGACY_IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*")
_INTERNAL_ADVICE = (
    "webhooks may not call internal networks. "
    "Allow it with REPROTECT_WEBHOOK__ALLOWED_NETWORKS if this receiver is legitimate."
)
_METADATA_ADVICE = "webhooks may never call a cloud metadata service, and no setting allows it."


class UrlRefused(Exception):
    """A webhook URL the policy refuses; ``code`` is stable, ``message`` names the host and the reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class UrlPolicy:
    """What a webhook URL may be: https only unless ``allow_http``; public addresses plus ``allowed_networks``.

    ``allowed_networks`` (CIDRs such as ``"127.0.0.0/8"`` or ``"::1/128"``) exempts every address inside
    them from the refusal of private, loopback and other non-public addresses, except the cloud metadata
    addresses (``METADATA_ADDRESSES``), which are refused even when an allowed network includes them.
    """

    allow_http: bool = False
    allowed_networks: tuple[str, ...] = ()
    _networks: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        networks = []
        for cidr in self.allowed_networks:
            try:
                networks.append(ipaddress.ip_network(cidr))
            except ValueError as exc:
                raise ValueError(f"allowed network {cidr!r} is not a valid CIDR: {exc}") from exc
        object.__setattr__(self, "_networks", tuple(networks))

    def allows_scheme(self, scheme: str) -> bool:
        """Whether a URL with this (lower-case) scheme may be called."""
        return scheme == "https" or (scheme == "http" and self.allow_http)

    def allows_network(self, address: IPAddress) -> bool:
        """Whether ``address`` lies in one of the operator's allowed networks."""
        return any(address in network for network in self._networks)


@dataclass(frozen=True)
class VettedUrl:
    """A URL that passed the policy, with the addresses its host resolved to (the only ones to connect to)."""

    url: httpx.URL
    host: str
    port: int
    addresses: list[str]

    @property
    def host_header(self) -> str:
        """The ``Host`` header value: the host as written, with the port when it is not the scheme's default."""
        return self.url.netloc.decode("ascii")

    @property
    def is_literal(self) -> bool:
        """Whether the URL names an IP address rather than a host name (then there is no SNI name)."""
        return _parse_address(self.host) is not None


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve ``host`` with the operating system (``getaddrinfo``, TCP): distinct addresses, in its order."""
    addresses: list[str] = []
    for family, _, _, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        if family in (socket.AF_INET, socket.AF_INET6) and address not in addresses:
            addresses.append(address)
    return addresses


def check_address(address: str, policy: UrlPolicy) -> None:
    """Raise ``UrlRefused("address_not_allowed")`` unless a webhook may connect to ``address``."""
    ip = _parse_address(address)
    if ip is None:
        raise UrlRefused("address_not_allowed", f"{address!r} is not an IP address.")
    _judge(ip, policy, lead=f"{address} is")


def check_url(url: str, policy: UrlPolicy, resolve: Resolver = system_resolver) -> list[str]:
    """Vet ``url`` (syntax, scheme, every address its host resolves to); return the vetted addresses."""
    return vet_url(url, policy, resolve).addresses


def vet_url(url: str, policy: UrlPolicy, resolve: Resolver = system_resolver) -> VettedUrl:
    """Like :func:`check_url`, but also return the parsed URL the sender needs to connect to the addresses."""
    parsed = _parse_url(url, policy)
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    literal = _parse_address(host)
    if literal is not None:
        standard = isinstance(literal, IPv6Address) or str(literal) == host
        lead = f"{host} is" if standard else f"{host} means {literal}, which is"
        _judge(literal, policy, lead=lead)
        return VettedUrl(url=parsed, host=host, port=port, addresses=[str(literal)])
    resolved = _resolve(host, host, port, resolve)  # the raw (punycode) host: decoding may fail on bad IDNA
    for ip in resolved:
        _judge(ip, policy, lead=f"{host} resolves to {ip},")
    return VettedUrl(url=parsed, host=host, port=port, addresses=[str(ip) for ip in resolved])


def _parse_url(url: str, policy: UrlPolicy) -> httpx.URL:
    # The sender builds its request from this same parsed URL: no second parser to disagree with.
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UrlRefused("invalid_url", f"The webhook URL is not valid: {exc}.") from exc
    if parsed.scheme and parsed.scheme not in ("http", "https"):
        raise UrlRefused("scheme_not_allowed", f"Webhook URLs must use https, not {parsed.scheme}.")
    if not parsed.scheme or not parsed.raw_host:
        raise UrlRefused("invalid_url", "The webhook URL must be absolute, with a scheme and a host.")
    shown = parsed.raw_host.decode("ascii", "replace")
    if not policy.allows_scheme(parsed.scheme):
        raise UrlRefused(
            "scheme_not_allowed",
            f"{shown}: webhook URLs must use https; plain http is allowed only for development "
            "receivers (REPROTECT_WEBHOOK__ALLOW_HTTP).",
        )
    if parsed.userinfo:
        raise UrlRefused(
            "credentials_in_url",
            f"The URL for {shown} contains credentials (user:password@); webhooks are authenticated "
            "by their signature, so remove them.",
        )
    return parsed


def _resolve(display: str, host: str, port: int, resolve: Resolver) -> list[IPAddress]:
    try:
        answers = resolve(host, port)
    except (OSError, UnicodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UrlRefused("unresolvable_host", f"{display} could not be resolved: {reason}.") from exc
    if not answers:
        raise UrlRefused("unresolvable_host", f"{display} resolved to no address.")
    addresses = []
    for answer in answers:
        ip = _parse_address(answer)
        if ip is None:
            raise UrlRefused("unresolvable_host", f"{display} resolved to {answer!r}, which is not an IP address.")
        addresses.append(ip)
    return addresses


def _judge(ip: IPAddress, policy: UrlPolicy, *, lead: str) -> None:
    kind, embedded = _embedded_ipv4(ip)
    if ip in METADATA_ADDRESSES or embedded in METADATA_ADDRESSES:
        what = f"{kind} of {embedded}, " if embedded is not None else ""
        raise UrlRefused("address_not_allowed", f"{lead} {what}a cloud metadata address; {_METADATA_ADVICE}")
    if policy.allows_network(ip):
        return
    if embedded is not None:
        # NAT64, 6to4 and IPv4-mapped addresses reach the embedded IPv4 address: judge that one.
        if policy.allows_network(embedded) or _is_public(embedded):
            return
        label = f"{kind} of {embedded}, {_label(embedded)}"
    elif _is_public(ip):
        return
    else:
        label = _label(ip)
    raise UrlRefused("address_not_allowed", f"{lead} {label}; {_INTERNAL_ADVICE}")


def _is_public(ip: IPAddress) -> bool:
    # is_global alone lets through global multicast (224.0.1.0/24, ff0e::/16) and unassigned IPv6 space.
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def _label(ip: IPAddress) -> str:
    for is_kind, label in (
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
    ):
        if is_kind:
            return label
    return "an address that is not publicly routable"


def _embedded_ipv4(ip: IPAddress) -> tuple[str, IPv4Address | None]:
    if isinstance(ip, IPv4Address):
        return "", None
    if ip.ipv4_mapped is not None:
        return "an IPv4-mapped form", ip.ipv4_mapped
    if ip.sixtofour is not None:
        return "a 6to4 form", ip.sixtofour
    if ip in _NAT64:
        return "a NAT64 form", IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # :: and ::1 are IPv6's own unspecified and loopback
        return "an IPv4-compatible form", IPv4Address(int(ip))
    return "", None


def _parse_address(text: str) -> IPAddress | None:
    """An IP address in standard notation, or in the legacy IPv4 forms the C library still accepts."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return _legacy_ipv4(text)


def _legacy_ipv4(text: str) -> IPv4Address | None:
    # inet_aton() reads 2130706433, 0x7f.0.0.1, 017700000001 and 127.1 as 127.0.0.1: so must we.
    parts = text.removesuffix(".").split(".")
    if not 1 <= len(parts) <= 4 or not all(_LEGACY_IPV4_PART.fullmatch(part) for part in parts):
        return None
    *leading, last = [_legacy_number(part) for part in parts]
    # Each leading part is one byte; the last fills the bytes that remain (127.1 is 127.0.0.1).
    if any(number > 0xFF for number in leading) or last >= 1 << (8 * (4 - len(leading))):
        return None
    value = last
    for position, number in enumerate(leading):
        value |= number << (8 * (3 - position))
    return IPv4Address(value)


def _legacy_number(part: str) -> int:
    if part[:2].lower() == "0x":
        return int(part, 16)
    return int(part, 8) if part.startswith("0") else int(part)
