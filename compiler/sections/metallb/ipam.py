"""IP address management for load-balancer pools: parsing, overlap, first-fit allocation.

Pure and built on the standard library's ``ipaddress``. Addresses are handled as ``Span``s,
contiguous runs ``[first, last]`` of one IP version, which covers CIDRs, ``a-b`` ranges and
single IPs alike. The MetalLB-specific parsing rules live here because fleetc must refuse what
MetalLB's own parser refuses, and more (host bits, mixed families).
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
BITS = {4: 32, 6: 128}


class AddressError(ValueError):
    """An address entry MetalLB would reject or silently misread; the message says which."""


@dataclass(frozen=True, order=True)
class Span:
    """Addresses ``first`` to ``last`` (inclusive, as integers) of IP ``version`` 4 or 6."""

    version: int
    first: int
    last: int

    @classmethod
    def of_network(cls, network: IPNetwork) -> Span:
        return cls(network.version, int(network.network_address), int(network.broadcast_address))

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def address(self, value: int) -> IPAddress:
        return ipaddress.ip_address(value) if self.version == 4 else ipaddress.IPv6Address(value)

    def networks(self) -> list[IPNetwork]:
        """The CIDRs that exactly cover the span (what MetalLB summarises a range into)."""
        return list(
            ipaddress.summarize_address_range(self.address(self.first), self.address(self.last))
        )

    def overlaps(self, other: Span) -> bool:
        return (
            self.version == other.version and self.first <= other.last and other.first <= self.last
        )

    def contains(self, other: Span) -> bool:
        same = self.version == other.version
        return same and self.first <= other.first <= other.last <= self.last

    def __str__(self) -> str:
        """The MetalLB form: one CIDR when the span is exactly one, else ``a-b``."""
        return _text(self)


# Fleets repeat the same few ranges and pools on many clusters: parse and print each once.
_CACHED = 4096


@functools.lru_cache(maxsize=_CACHED)
def _text(span: Span) -> str:
    networks = span.networks()
    if len(networks) == 1:
        return str(networks[0])
    return f"{span.address(span.first)}-{span.address(span.last)}"


def _ip(text: str, entry: str) -> IPAddress:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise AddressError(f"{text!r} in {entry!r} is not an IP address") from None


@functools.lru_cache(maxsize=_CACHED)
def parse(entry: str) -> Span:
    """A CIDR, an ``a-b`` range (split on the first ``-``, as MetalLB does) or a single IP.

    Raises ``AddressError`` for what MetalLB rejects (bad syntax, start after end) and for what
    it silently misreads: host bits in a CIDR (masked away) and mixed-family ranges (no
    addresses at all).
    """
    text = entry.strip()
    if "-" in text:
        start_text, _, end_text = text.partition("-")
        start, end = _ip(start_text.strip(), entry), _ip(end_text.strip(), entry)
        if start.version != end.version:
            raise AddressError(
                f"range {entry!r} mixes IPv{start.version} and IPv{end.version} "
                "(MetalLB would silently give this pool no addresses)"
            )
        if int(start) > int(end):
            raise AddressError(f"range {entry!r}: start IP {start} is after the end IP {end}")
        return Span(start.version, int(start), int(end))
    if "/" in text:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise AddressError(f"invalid CIDR {entry!r}") from None
        if int(network.network_address) != int(ipaddress.ip_interface(text).ip):
            raise AddressError(
                f"CIDR {entry!r} has host bits set (MetalLB would silently use {network})"
            )
        return Span.of_network(network)
    address = _ip(text, entry)
    return Span(address.version, int(address), int(address))


class SpanIndex:
    """Spans sorted by start with the furthest end so far: whether any overlaps or contains a
    span in log n. Callers use it to skip a linear search that would find nothing, so checks
    over long address lists (untrusted input) are not quadratic."""

    def __init__(self, spans: Iterable[Span]) -> None:
        spans = list(spans)
        self.by_version: dict[int, tuple[list[int], list[int]]] = {}
        for version in (4, 6):
            ordered = sorted(s for s in spans if s.version == version)
            reach, furthest = [], -1
            for span in ordered:
                furthest = max(furthest, span.last)
                reach.append(furthest)
            self.by_version[version] = ([s.first for s in ordered], reach)

    def _reach(self, version: int, first: int) -> int:
        """The furthest end among the spans that start at or before ``first`` (-1: none)."""
        starts, reach = self.by_version.get(version, ([], []))
        index = bisect.bisect_right(starts, first)
        return reach[index - 1] if index else -1

    def overlaps_any(self, span: Span) -> bool:
        return self._reach(span.version, span.last) >= span.first

    def contains(self, span: Span) -> bool:
        return self._reach(span.version, span.first) >= span.last


def first_overlap(span: Span, others: Iterable[Span]) -> Span | None:
    return next((other for other in others if span.overlaps(other)), None)


def intersect(a: Sequence[Span], b: Sequence[Span]) -> list[Span]:
    """The addresses in both ``a`` and ``b``."""
    out = []
    for x in a:
        for y in b:
            if x.overlaps(y):
                out.append(Span(x.version, max(x.first, y.first), min(x.last, y.last)))
    return sorted(out)


@dataclass(frozen=True)
class Request:
    """What a load balancer asks for: an aligned /``prefix_length`` or ``count`` addresses."""

    version: int
    prefix_length: int | None = None
    count: int | None = None

    @property
    def size(self) -> int:
        if self.prefix_length is not None:
            return 1 << (BITS[self.version] - self.prefix_length)
        assert self.count is not None
        return self.count

    @property
    def alignment(self) -> int:
        return self.size if self.prefix_length is not None else 1

    def fits(self, span: Span) -> bool:
        """Whether ``span`` is exactly what this request would have been given."""
        return (
            span.version == self.version
            and span.size == self.size
            and span.first % self.alignment == 0
        )

    def __str__(self) -> str:
        if self.prefix_length is not None:
            return f"an IPv{self.version} /{self.prefix_length}"
        return f"{self.count} contiguous IPv{self.version} address(es)"


def first_free(ranges: Sequence[Span], used: Sequence[Span], request: Request) -> Span | None:
    """The lowest span in ``ranges`` that satisfies ``request`` and overlaps nothing ``used``.

    ``used`` is merged into disjoint sorted spans first, so a long list (a fleet.lock arrives by
    pull request) costs n log n, not n squared."""
    size, alignment = request.size, request.alignment
    taken = _merged(sorted(u for u in used if u.version == request.version))
    lasts = [span.last for span in taken]
    for scope in sorted(r for r in ranges if r.version == request.version):
        start = -(-scope.first // alignment) * alignment
        index = bisect.bisect_left(lasts, start)  # the first taken span that ends at or after start
        while start + size - 1 <= scope.last:
            while index < len(taken) and taken[index].last < start:
                index += 1
            if index == len(taken) or taken[index].first > start + size - 1:
                return Span(request.version, start, start + size - 1)
            start = -(-(taken[index].last + 1) // alignment) * alignment
    return None


def _merged(spans: list[Span]) -> list[Span]:
    """Sorted spans joined where they overlap or touch: disjoint, in order."""
    out: list[Span] = []
    for span in spans:
        if out and span.first <= out[-1].last + 1:
            if span.last > out[-1].last:
                out[-1] = Span(span.version, out[-1].first, span.last)
        else:
            out.append(span)
    return out
