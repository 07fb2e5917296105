"""MetalLB address entries are parsed and printed once per text (fleets repeat them on many
clusters): the cached answers are the uncached ones, and a rejected entry is rejected (and
reported) every time it is read."""

from __future__ import annotations

import ipaddress

import pytest
from fleetc.sections.metallb import ipam
from hypothesis import given, settings
from hypothesis import strategies as st

octet = st.integers(0, 255)
ipv4 = st.builds(lambda *o: ".".join(map(str, o)), octet, octet, octet, octet)
entries = st.one_of(
    st.builds(lambda a, n: f"{a}/{n}", ipv4, st.integers(0, 33)),
    st.builds(lambda a, b: f"{a}-{b}", ipv4, ipv4),
    ipv4,
    st.sampled_from(["10.0.0.0/16", "fd00::/120", "fd00::1-fd00::ff", "10.0.0.1-fd00::1", "x"]),
)


def _outcome(parse, entry: str) -> tuple[str, object]:
    try:
        return "span", parse(entry)
    except ipam.AddressError as exc:
        return "error", str(exc)


@settings(max_examples=300, deadline=None)
@given(entries)
def test_a_cached_parse_is_the_parse(entry: str):
    fresh = _outcome(ipam.parse.__wrapped__, entry)
    assert _outcome(ipam.parse, entry) == fresh
    assert _outcome(ipam.parse, entry) == fresh  # and again, from the cache


@settings(max_examples=300, deadline=None)
@given(ipv4, ipv4)
def test_a_span_prints_as_metallb_writes_it(a: str, b: str):
    first, last = sorted((int(ipaddress.ip_address(a)), int(ipaddress.ip_address(b))))
    span = ipam.Span(4, first, last)
    networks = span.networks()
    want = str(networks[0]) if len(networks) == 1 else f"{span.address(first)}-{span.address(last)}"
    assert str(span) == want == str(span)


def test_a_rejected_entry_is_rejected_each_time():
    for _ in range(2):
        with pytest.raises(ipam.AddressError, match="host bits"):
            ipam.parse("10.0.0.1/24")
