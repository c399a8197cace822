"""Where notify may send: a recipient's webhook or robot address must not turn the service into a client of the
deployment's own network (loopback, private, link-local, multicast, unspecified and other non-global ranges),
unless the deployment lists the destination in `NOTIFY.WEBHOOK_ALLOW` (host names and IPs / CIDRs).

Checked twice. When an address is registered, without DNS (its answers change; a fast, clear 400 for the
obvious cases: an internal IP literal, `localhost`). And when a request connects: notify's HTTP channels go
through urllib3, whose `create_connection` is wrapped here, so the addresses a name resolves to at send time
are the ones checked and the only ones connected to — a name that re-binds to 127.0.0.1 after registration,
or a redirect to an internal host, is refused as well.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from contextlib import contextmanager
from urllib.parse import urlsplit

import eventlet
import urllib3.util.connection as _u3conn

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# names that mean this machine whatever DNS says
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
SETTING = "NOTIFY.WEBHOOK_ALLOW"


class DestinationRefused(OSError):
    """Raised inside a send whose connection would reach a refused address (an OSError, so that the HTTP
    library treats it as a failed connection and unwinds normally)."""


def _plain(ip: Address) -> Address:
    """The IPv4 address behind an IPv4-mapped or NAT64 IPv6 address: it is where the packets go."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _kind(ip: Address) -> str | None:
    """Why an address is internal (None: a global unicast address)."""
    if ip.is_loopback:
        return "loopback"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "reserved"
    return None


def _literal(host: str) -> Address | None:
    """The IP a host string names by itself, including the legacy IPv4 forms resolvers accept (`127.1`,
    `2130706433`, `0x7f.1`)."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


class Destinations:
    """The deployment's policy: global addresses pass; internal ones only when listed."""

    def __init__(self, hosts: Iterable[str] = (), networks: Iterable[Network] = ()):
        self.hosts = frozenset(h.lower().rstrip(".") for h in hosts)
        self.networks = tuple(networks)

    @classmethod
    def parse(cls, spec) -> Destinations:
        """`NOTIFY.WEBHOOK_ALLOW`: a list, or a comma/space separated string, of host names, IPs and CIDRs.
        A bad entry stops the start (a typo must not silently leave a receiver unreachable)."""
        if spec is None:
            items: list[str] = []
        elif isinstance(spec, str):
            items = spec.replace(",", " ").split()
        elif isinstance(spec, list | tuple):
            items = [str(x).strip() for x in spec if str(x).strip()]
        else:
            raise ValueError(f"{SETTING}: a list or a comma-separated string of hosts and CIDRs, not {spec!r}")
        hosts, networks = [], []
        for item in items:
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            if "/" in item or ":" in item or not all(part for part in item.rstrip(".").split(".")):
                raise ValueError(f"{SETTING}: {item!r} is neither a host name nor an IP address or CIDR")
            hosts.append(item)
        return cls(hosts, networks)

    def listed_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def refused_ip(self, ip: Address) -> str | None:
        """Why notify must not connect to this address (None: it may)."""
        for candidate in {ip, _plain(ip)}:
            if any(candidate in net for net in self.networks if net.version == candidate.version):
                return None
        kind = _kind(_plain(ip)) or _kind(ip)
        if kind is None:
            return None
        return f"{ip} is a {kind} address; list it in {SETTING} to allow it"

    def refused_host(self, host: str) -> str | None:
        """The check without DNS: an internal IP literal or a name of this machine."""
        if not host:
            return "the address has no host"
        if self.listed_host(host):
            return None
        ip = _literal(host)
        if ip is not None:
            return self.refused_ip(ip)
        name = host.lower().rstrip(".")
        if name in _LOCAL_NAMES or name.endswith(".localhost"):
            return f"{host} is this machine; list it in {SETTING} to allow it"
        return None

    def refused_address(self, channel: str, address: str) -> str | None:
        """At registration: why an address of a channel points somewhere notify must not send."""
        if channel == "webhook":
            try:
                host = urlsplit(address).hostname or ""
            except ValueError:
                return "not a URL"
            return self.refused_host(host)
        # a robot's token names no host (Apprise posts to the robot service's fixed host); an Apprise URL of
        # the robot does not either, and the send-time check covers whatever the plugin connects to
        return None

    @contextmanager
    def guard(self):
        """Within this block, connections this green thread opens through urllib3 are checked after DNS.
        Yields a list that holds the reasons of the refused ones."""
        _install()
        me = eventlet.getcurrent()
        refused: list[str] = []
        _guards[me] = (self, refused)
        try:
            yield refused
        finally:
            _guards.pop(me, None)


# -- the connection hook ---------------------------------------------------------------------------------------

_guards: dict[object, tuple[Destinations, list[str]]] = {}
_original_create_connection = _u3conn.create_connection


def _guarded_create_connection(address, *args, **kwargs):
    found = _guards.get(eventlet.getcurrent())
    if found is None:  # not a notify send: the process's other HTTP clients are not ours to police
        return _original_create_connection(address, *args, **kwargs)
    policy, refused = found
    host, port = address
    if policy.listed_host(host):
        return _original_create_connection(address, *args, **kwargs)
    allowed, reasons = [], []
    for *_rest, sockaddr in socket.getaddrinfo(host.strip("[]"), port, 0, socket.SOCK_STREAM):
        ip = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        reason = policy.refused_ip(ip)
        if reason:
            reasons.append(reason)
        else:
            allowed.append(ip)
    if not allowed:
        reason = f"destination refused: {host} resolves to {reasons[0]}" if reasons else \
            f"destination refused: {host} resolves to nothing"
        refused.append(reason)
        raise DestinationRefused(reason)
    error: OSError | None = None
    # connect to the checked addresses themselves, never to the name again (a second lookup could re-bind)
    for ip in dict.fromkeys(allowed):
        try:
            return _original_create_connection((str(ip), port), *args, **kwargs)
        except OSError as exc:
            error = exc
    raise error  # type: ignore[misc]


def _install() -> None:
    if _u3conn.create_connection is not _guarded_create_connection:
        _u3conn.create_connection = _guarded_create_connection
