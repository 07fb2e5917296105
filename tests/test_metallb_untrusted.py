"""MetalLB inputs are untrusted: whatever a placed hub object's spec holds, the overlap check
answers with a diagnostic at its file; and allocation stays fast however many addresses the
inputs (fleet.lock included) mark as used."""

from __future__ import annotations

import shutil
import types
from pathlib import Path

import pytest
from conftest import REPO
from fleetc.core.diagnostics import Diagnostics, Position
from fleetc.pipeline import compile_fleet
from fleetc.sections.metallb import ipam
from fleetc.sections.metallb import rules as metallb_rules
from fleetc.sections.metallb.allocate import Pool
from fleetc.sections.metallb.config import Entry
from fleetc.shell.load import load
from hypothesis import given, settings
from hypothesis import strategies as st

PLACEMENT = """\
  placements:
    - name: pools
      resourceSelectors: [{group: "", version: v1, kind: Namespace, name: metallb-system}]
      policy: {placementType: PickAll}
"""
POOL = """\
apiVersion: v1
kind: Namespace
metadata: {name: metallb-system}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: extra, namespace: metallb-system}
"""


@pytest.mark.parametrize("spec", ['spec: "x"', "spec: [1]", "spec: {addresses: 5}"])
def test_a_placed_pool_with_a_malformed_spec_is_an_error_at_its_file(tmp_path: Path, spec: str):
    root = tmp_path / "fleet"
    shutil.copytree(REPO / "examples" / "arc-metallb", root)
    with (root / "fleet.yaml").open("a") as fleet:
        fleet.write(PLACEMENT)
    (root / "hub" / "pool.yaml").write_text(POOL + spec + "\n")
    diags = Diagnostics()
    result = compile_fleet(load(root / "fleet.yaml", diags))
    errors = [d.format() for d in result.diagnostics.errors]
    assert errors[-1:] == [
        "hub/pool.yaml:5:1: error: IPAddressPool 'extra': spec.addresses must be a list of "
        "addresses"
    ]


# -- allocation against a long list of used addresses (fleet.lock comes from pull requests) --

SMALL = st.integers(min_value=0, max_value=60)


def brute_force_first_free(ranges, used, request):
    for scope in sorted(ranges):
        start = -(-scope.first // request.alignment) * request.alignment
        while start + request.size - 1 <= scope.last:
            candidate = ipam.Span(4, start, start + request.size - 1)
            if not any(candidate.overlaps(u) for u in used):
                return candidate
            start += request.alignment
    return None


def _spans(pairs):
    return [ipam.Span(4, min(a, b), max(a, b)) for a, b in pairs]


@settings(max_examples=150, deadline=None)
@given(
    ranges=st.lists(st.tuples(SMALL, SMALL), min_size=1, max_size=3),
    used=st.lists(st.tuples(SMALL, SMALL), max_size=8),
    prefix=st.none() | st.integers(min_value=28, max_value=32),
    count=st.integers(min_value=1, max_value=6),
)
def test_first_free_is_the_lowest_free_aligned_span(ranges, used, prefix, count):
    request = ipam.Request(4, prefix_length=prefix) if prefix else ipam.Request(4, count=count)
    expected = brute_force_first_free(_spans(ranges), _spans(used), request)
    assert ipam.first_free(_spans(ranges), _spans(used), request) == expected


def test_first_free_is_not_quadratic_in_the_used_addresses(monkeypatch: pytest.MonkeyPatch):
    """20,000 single addresses in a fleet.lock took 18 s to skip, one overlap scan per jump."""
    calls = {"overlaps": 0}
    overlaps = ipam.Span.overlaps

    def counting(self, other):
        calls["overlaps"] += 1
        return overlaps(self, other)

    monkeypatch.setattr(ipam.Span, "overlaps", counting)
    used = [ipam.Span(4, n, n) for n in range(2000)]
    found = ipam.first_free([ipam.Span(4, 0, 10_000)], used, ipam.Request(4, count=1))
    assert found == ipam.Span(4, 2000, 2000)
    assert calls["overlaps"] < 10 * len(used), calls


@settings(max_examples=150, deadline=None)
@given(pools=st.lists(st.lists(st.tuples(SMALL, SMALL), max_size=5), min_size=1, max_size=3))
def test_the_overlap_sweep_finds_exactly_the_entries_that_overlap_another(pools):
    built = [
        Pool(None, "c", [Entry("", span, Position("f")) for span in _spans(p)])  # type: ignore[arg-type]
        for p in pools
    ]
    entries = [e for pool in built for e in pool.entries]
    expected = {
        id(e) for e in entries if any(o is not e and o.span.overlaps(e.span) for o in entries)
    }
    assert metallb_rules._overlapping(built) == expected


def test_the_pool_overlap_check_is_not_quadratic(monkeypatch: pytest.MonkeyPatch):
    """20,000 addresses in one load balancer of fleet.yaml took 27 s to check."""
    calls = {"overlaps": 0}
    overlaps = ipam.Span.overlaps

    def counting(self, other):
        calls["overlaps"] += 1
        return overlaps(self, other)

    monkeypatch.setattr(ipam.Span, "overlaps", counting)
    entries = [Entry("", ipam.Span(4, n, n), Position("f")) for n in range(2000)]
    entries.append(Entry("", ipam.Span(4, 5, 6), Position("f")))
    diags = Diagnostics()
    lb = types.SimpleNamespace(name="lb")
    net = types.SimpleNamespace(cluster=types.SimpleNamespace(name="c"))
    metallb_rules._check_overlaps(net, [Pool(lb, "c", entries)], diags)  # type: ignore[arg-type]
    assert len(diags.errors) == 1 and "overlaps" in diags.errors[0].message
    assert calls["overlaps"] < 10 * len(entries), calls


@settings(max_examples=200, deadline=None)
@given(spans=st.lists(st.tuples(SMALL, SMALL), max_size=8), probe=st.tuples(SMALL, SMALL))
def test_the_span_index_answers_like_a_linear_search(spans, probe):
    built, (span,) = _spans(spans), _spans([probe])
    index = ipam.SpanIndex(built)
    assert index.overlaps_any(span) == any(s.overlaps(span) for s in built)
    assert index.contains(span) == any(s.contains(span) for s in built)


def test_reserved_and_range_checks_are_not_quadratic(monkeypatch: pytest.MonkeyPatch):
    """20,000 reserved addresses on a cluster took 41 s to check against its pools."""
    calls = {"n": 0}
    overlaps, contains = ipam.Span.overlaps, ipam.Span.contains

    def counted(method):
        def call(self, other):
            calls["n"] += 1
            return method(self, other)

        return call

    monkeypatch.setattr(ipam.Span, "overlaps", counted(overlaps))
    monkeypatch.setattr(ipam.Span, "contains", counted(contains))
    many = [Entry("", ipam.Span(4, n, n), Position("f")) for n in range(0, 4000, 2)]
    net = types.SimpleNamespace(
        ranges=many, reserved=[Entry("", ipam.Span(4, n, n), Position("f")) for n in range(1, 4000, 2)],
        cluster=types.SimpleNamespace(name="c"),
    )  # fmt: skip
    pool = Pool(types.SimpleNamespace(name="lb"), "c", many)  # type: ignore[arg-type]
    diags = Diagnostics()
    metallb_rules._check_placement_of_addresses(net, [pool], diags)  # type: ignore[arg-type]
    assert not diags.errors
    assert calls["n"] < 10 * len(many), calls
