"""The data of ``fleetc report``: placements, clusters, services, address space and a change,
as one JSON-ready dict the HTML page (``fleetc.shell.html_report``) draws. Pure.

Everything is read from what the stages recorded (``Compilation``), the section statuses
``fleetc status`` prints and, with a base, the ``diff.FleetDiff`` ``fleetc diff`` prints; nothing
is re-derived. The dict is built for size at fleet scale (1,000 clusters x 100 placements):

- cells are one character per cluster per placement (``CELL_STATES`` codes),
- reasons (the rejecting filter, the text, the eviction that deleted the binding, why a
  cluster kept by fleet.lock would be filtered now, which snapshot a staged rollout runs there
  and why) are kept once, their texts with the
  cluster's quoted name replaced by ``REASON_CLUSTER`` (the page puts it back, so the text is
  exactly ``explain``'s),
- objects that many clusters receive alike are kept once and referred to by index.

A new cell state (evicted, snapshot, ...) is one ``CellState`` entry in ``CELL_STATES`` and one
line in ``cell_state``; the page reads the legend, symbols and labels from the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.diagnostics import Diagnostics
from ..core.output_layout import object_path
from ..pipeline import Compilation
from ..sections.metallb import config as metallb_config
from ..sections.metallb import ipam
from ..stages.rollout.results import PlacementRollout
from ..stages.schedule import Decision
from . import diff as fleetdiff
from . import diff_format, status
from .explain import source_of

VERSION = 1
# Stands for '"<cluster>"' in a shared reason text; a text that holds it already is kept whole.
REASON_CLUSTER = '"{cluster}"'


@dataclass(frozen=True)
class CellState:
    """One state a cell of the matrix can show."""

    code: str  # one character in the data
    key: str  # the verdict as explain names it (or the state's own name)
    label: str  # words for the legend and screen readers
    symbol: str  # the text alternative to the colour, shown in the cell
    # Whether the cluster runs the placement's resources (counted in the row and column totals).
    selected: bool = False


# The order is the legend's. Cells of a placement that lists no decision for a cluster are
# NOT_LISTED (an invalid policy is not scheduled).
CELL_STATES: tuple[CellState, ...] = (
    CellState("s", "selected", "selected", "\u2713", selected=True),
    CellState("k", "keptByLock", "selected, kept by fleet.lock", "\u25c6", selected=True),
    # A staged rollout (External placement) whose newest snapshot has not reached the cluster.
    CellState("o", "olderSnapshot", "selected, runs an older snapshot", "\u25d0", selected=True),
    CellState("e", "evicted", "evicted (its binding deleted)", "\u23cf"),
    CellState("n", "notPicked", "not picked (did not score high enough)", "\u25cb"),
    CellState("f", "filtered", "filtered out", "\u2715"),
    CellState("-", "notListed", "not scheduled", ""),
)
_BY_KEY = {state.key: state for state in CELL_STATES}
NOT_LISTED = _BY_KEY["notListed"]


def cell_state(decision: Decision, snapshot: int | None = None, newest: int = 0) -> CellState:
    """The state of the cell for ``decision``: its verdict, as ``explain`` names it; evicted
    when an eviction deleted the binding and the scheduler did not pick the cluster again; kept
    by fleet.lock when the cluster is selected only because fleet.lock remembers it; older snapshot
    when a staged rollout has not brought the placement's newest snapshot to the cluster yet."""
    if decision.evicted_by and not decision.selected:
        return _BY_KEY["evicted"]
    if decision.selected and decision.kept_by_lock:
        return _BY_KEY["keptByLock"]
    if decision.selected and snapshot is not None and snapshot < newest:
        return _BY_KEY["olderSnapshot"]
    return _BY_KEY[decision.verdict]


class _Table:
    """Distinct values, each kept once, by first use."""

    def __init__(self) -> None:
        self.index: dict[Any, int] = {}
        self.items: list[Any] = []

    def add(self, value: Any) -> int:
        key = repr(value) if isinstance(value, list | dict) else value
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.items)
            self.items.append(value)
        return found


def build(comp: Compilation, change: fleetdiff.FleetDiff | None = None) -> dict[str, Any]:
    names = sorted(comp.fleet.clusters)
    row = {name: i for i, name in enumerate(names)}
    reasons = _Table()
    placements = [
        _placement(
            status.placement_item(p, comp.outcomes[p.name]),
            comp.outcomes[p.name].decisions,
            comp.rollout.placements.get(p.name),
            row,
            reasons,
        )
        for p in comp.fleet.placements
    ]
    objects = _Table()
    clusters = [_cluster(comp, name, objects) for name in names]
    sections = comp.section_status()
    return {
        "version": VERSION,
        "fleet": comp.fleet.name,
        "states": [
            {
                "code": s.code,
                "key": s.key,
                "label": s.label,
                "symbol": s.symbol,
                "selected": s.selected,
            }
            for s in CELL_STATES
        ],
        "labelKeys": sorted({k for c in comp.fleet.clusters.values() for k in c.labels}),
        "clusters": clusters,
        "placements": placements,
        "reasons": reasons.items,
        "reasonCluster": REASON_CLUSTER,
        "objects": objects.items,
        "services": sections.get("services", []),
        "sites": _sites(comp, sections.get("loadBalancers", [])),
        "change": _change(change) if change is not None else None,
    }


def _placement(
    item: dict[str, Any],
    decisions: list[Decision],
    rolled: PlacementRollout | None,
    row: dict[str, int],
    reasons: _Table,
) -> dict[str, Any]:
    """One column: a state code and a reason per cluster (in row order); for a staged rollout
    also the snapshot each cluster runs (-1: none) and why, as the rollout stage recorded it."""
    codes = [NOT_LISTED.code] * len(row)
    why = [-1] * len(row)
    runs = [-1] * len(row)
    for d in decisions:
        i = row.get(d.cluster)
        if i is None:
            continue
        snapshot = rolled.clusters.get(d.cluster) if rolled is not None else None
        codes[i] = cell_state(d, snapshot, rolled.newest if rolled is not None else 0).code
        if snapshot is not None:
            runs[i] = snapshot
        text = status.readable(d.reason)  # as explain prints it
        if REASON_CLUSTER not in text:
            text = text.replace(f'"{d.cluster}"', REASON_CLUSTER)
        kept = status.readable(d.kept_by_lock)
        if kept and REASON_CLUSTER not in kept:
            kept = kept.replace(f'"{d.cluster}"', REASON_CLUSTER)
        runs_why = rolled.reasons.get(d.cluster, "") if rolled is not None else ""
        why[i] = reasons.add((d.filtered_by, text, d.evicted_by, kept, runs_why))
    return {
        "name": item["name"],
        "kind": item.get("kind", "ClusterResourcePlacement"),
        "type": item["placementType"],
        "scheduled": item["scheduled"],
        "cells": "".join(codes),
        "reasons": why,
        "rollout": {"newest": rolled.newest, "snapshots": runs} if rolled is not None else None,
    }


def _cluster(comp: Compilation, name: str, objects: _Table) -> dict[str, Any]:
    cluster = comp.fleet.clusters[name]
    placed = comp.clusters.get(name, {})
    refs = []
    for key in sorted(placed):
        obj = placed[key]
        rel = object_path(key)
        refs.append(
            objects.add(
                [
                    str(key),
                    f"{obj.bundle}/{rel}" if obj.bundle else rel,
                    source_of(comp, obj),
                    list(obj.placements),
                    list(obj.overrides),
                ]
            )
        )
    return {
        "name": name,
        "labels": dict(sorted(cluster.labels.items())),
        "taints": [
            {"key": t.key, "value": t.value, "effect": t.effect, "text": str(t)}
            for t in cluster.taints
        ],
        "state": cluster.state,
        "kubernetesVersion": cluster.kubernetes_version,
        "properties": dict(sorted(cluster.properties.items())),
        "objects": refs,
    }


def _sites(comp: Compilation, pools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per MetalLB site: its address ranges, reserved addresses, each cluster's pools (from the
    section's recorded status) and the free addresses, as spans across each range."""
    if not pools:
        return []
    nets = metallb_config.read(comp.fleet, Diagnostics()).nets
    by_cluster = {entry["cluster"]: entry for entry in pools}
    sites: dict[str, list[str]] = {}
    for name in sorted(nets):
        if name in by_cluster or nets[name].ranges:
            sites.setdefault(nets[name].site, []).append(name)
    out = []
    for site, members in sorted(sites.items()):
        ranges = _unique(e for n in members for e in nets[n].ranges)
        reserved = _unique(e for n in members for e in nets[n].reserved)
        used = [
            (cluster, pool["name"], ipam.parse(text))
            for cluster in members
            for pool in by_cluster.get(cluster, {}).get("pools", [])
            for text in pool["addresses"]
        ]
        out.append(
            {
                "site": site,
                "clusters": members,
                "ranges": [_range(span, text, reserved, used) for text, span in ranges],
                "reserved": [text for text, _span in reserved],
                "pools": [
                    {"cluster": c, "pool": p, "addresses": str(span), "size": span.size}
                    for c, p, span in used
                ],
                "outside": [
                    {"cluster": c, "pool": p, "addresses": str(span)}
                    for c, p, span in used
                    if not any(r.contains(span) for _t, r in ranges)
                ],
            }
        )
    return out


def _unique(entries: Any) -> list[tuple[str, ipam.Span]]:
    seen: dict[ipam.Span, str] = {}
    for entry in entries:
        seen.setdefault(entry.span, entry.text)
    return sorted(((text, span) for span, text in seen.items()), key=lambda item: item[1])


def _range(
    span: ipam.Span,
    text: str,
    reserved: list[tuple[str, ipam.Span]],
    used: list[tuple[str, str, ipam.Span]],
) -> dict[str, Any]:
    """One range as segments in address order: reserved, a cluster's pool, or free."""
    marks: list[tuple[int, int, str, str]] = []
    for label, part in reserved:
        marks += [(a, b, "reserved", label) for a, b in _clip(part, span)]
    for cluster, pool, part in used:
        marks += [(a, b, "pool", f"{cluster}/{pool}") for a, b in _clip(part, span)]
    marks.sort()
    segments = []
    at = span.first
    for first, last, kind, label in marks:
        if first > at:
            segments.append(_segment(span, at, first - 1, "free", ""))
        start = max(first, at)
        if last >= start:
            segments.append(_segment(span, start, last, kind, label))
            at = last + 1
    if at <= span.last:
        segments.append(_segment(span, at, span.last, "free", ""))
    free = sum(s["size"] for s in segments if s["kind"] == "free")
    return {"range": text, "size": span.size, "free": free, "segments": segments}


def _clip(part: ipam.Span, span: ipam.Span) -> list[tuple[int, int]]:
    if not part.overlaps(span):
        return []
    return [(max(part.first, span.first), min(part.last, span.last))]


def _segment(span: ipam.Span, first: int, last: int, kind: str, label: str) -> dict[str, Any]:
    part = ipam.Span(span.version, first, last)
    # Shares of the range in ten-thousandths: integers, so the bytes are the same everywhere.
    return {
        "kind": kind,
        "label": label,
        "addresses": str(part),
        "size": part.size,
        "start": (first - span.first) * 10000 // span.size,
        "width": max(1, part.size * 10000 // span.size),
    }


def _change(found: fleetdiff.FleetDiff) -> dict[str, Any]:
    """The change as ``diff --format json`` prints it, without the YAML diffs."""
    data = diff_format.as_json(found)
    for cluster in data["clusters"]:
        for obj in cluster["objects"]:
            del obj["diff"]
    return data
