"""Turn load balancers into per-cluster pools, allocating requested addresses. Pure.

Allocations are stable: the previous fleet.lock ``addresses`` section is honoured first (an
allocation is kept while it still has the requested shape and lies in the cluster's ranges
clear of reserved addresses), then new requests are served first-fit, in fleet.yaml order and
then by cluster name. So adding or removing a cluster or a load balancer never moves anybody
else's addresses. Addresses the previous lock held stay quarantined for one render: a new
allocation never takes addresses that a removed or re-allocated pool still announces until Flux
prunes or updates it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ...core.diagnostics import Diagnostics, field_path
from ...core.lock import LOCK_FILE
from ...core.yamlsource import Document
from . import ipam
from .config import ClusterNet, Config, Entry, LoadBalancer

LOCK_SECTION = "addresses"


@dataclass
class Pool:
    """One load balancer on one cluster, with its final addresses."""

    lb: LoadBalancer
    cluster: str
    entries: list[Entry] = field(default_factory=list)

    @property
    def addresses(self) -> list[str]:
        return [str(entry.span) for entry in self.entries]


Previous = dict[str, dict[str, list[ipam.Span]]]


def previous_pools(
    section: Any, doc: Document | None = None, diags: Diagnostics | None = None
) -> Previous:
    """The lock's ``cluster -> pool -> addresses``. A malformed part is left out, and is an
    error when ``diags`` is given: fleet.lock arrives by pull request, and dropping an entry
    silently would let its addresses move."""

    def malformed(what: str, path: tuple[str, ...]) -> None:
        if diags is not None:
            diags.error(
                f"{LOCK_FILE}: {what}",
                doc.pos((LOCK_SECTION, *path)) if doc is not None else None,
                field_path((LOCK_SECTION, *path)),
                hint="fix the entry, or delete it to allocate afresh (its addresses may move)",
            )

    out: Previous = {}
    if section is None:
        return out
    if not isinstance(section, dict):
        malformed(f"'{LOCK_SECTION}' must be a mapping of cluster -> pool -> addresses", ())
        return out
    for cluster, pools in section.items():
        if not isinstance(pools, dict):
            malformed(f"the addresses of cluster {str(cluster)!r} must be a mapping", (cluster,))
            continue
        for pool, texts in pools.items():
            spans = []
            for text in texts if isinstance(texts, list) else [None]:
                try:
                    spans.append(ipam.parse(text if isinstance(text, str) else ""))
                except ipam.AddressError:
                    malformed(
                        f"pool {str(pool)!r} of cluster {str(cluster)!r} holds something that is "
                        "not an address range",
                        (cluster, pool),
                    )
                    break
            else:
                out.setdefault(str(cluster), {})[str(pool)] = spans
    return out


def lock_section(pools: dict[str, list[Pool]]) -> dict[str, dict[str, list[str]]]:
    return {
        cluster: {pool.lb.name: pool.addresses for pool in sorted(items, key=_pool_name)}
        for cluster, items in sorted(pools.items())
        if items
    }


def _pool_name(pool: Pool) -> str:
    return pool.lb.name


def plan(config: Config, previous: Previous, diags: Diagnostics) -> dict[str, list[Pool]]:
    """Every cluster's pools, sorted by name."""
    pools: dict[str, list[Pool]] = defaultdict(list)
    nets = config.nets
    used: dict[str, list[ipam.Span]] = defaultdict(list)
    for lb in config.load_balancers:
        for cluster in lb.clusters:
            if lb.addresses is not None:
                pools[cluster].append(Pool(lb, cluster, list(lb.addresses)))
                used[nets[cluster].site].extend(e.span for e in lb.addresses)
    for net in nets.values():
        used[net.site].extend(e.span for e in net.reserved)
    for cluster, old in previous.items():
        if cluster in nets:
            for spans in old.values():
                used[nets[cluster].site].extend(spans)

    groups = [
        (lb, group)
        for lb in config.load_balancers
        if lb.request is not None
        for group in ([lb.clusters] if lb.shared else [[c] for c in lb.clusters])
        if group
    ]
    pending = []
    for lb, group in groups:
        span = _kept(lb, [nets[c] for c in group], previous)
        if span is None:
            pending.append((lb, group))
        else:
            _assign(lb, group, span, pools, used, nets)
    for lb, group in pending:
        _allocate(lb, [nets[c] for c in group], pools, used, diags)
    return {c: sorted(pools.get(c, []), key=_pool_name) for c in nets}


def _kept(lb: LoadBalancer, group: list[ClusterNet], previous: Previous) -> ipam.Span | None:
    """The previous allocation, if it is still exactly what the request would be given."""
    assert lb.request is not None
    spans = next(
        (
            previous[n.cluster.name][lb.name]
            for n in group
            if lb.name in previous.get(n.cluster.name, {})
        ),
        None,
    )
    if not spans or len(spans) != 1 or not lb.request.fits(spans[0]):
        return None
    span = spans[0]
    for net in group:
        if not any(r.span.contains(span) for r in net.ranges):
            return None
        if ipam.first_overlap(span, (e.span for e in net.reserved)) is not None:
            return None
    return span


def _assign(
    lb: LoadBalancer,
    group: list[str],
    span: ipam.Span,
    pools: dict[str, list[Pool]],
    used: dict[str, list[ipam.Span]],
    nets: dict[str, ClusterNet],
) -> None:
    entry = Entry(str(span), span, lb.pos("allocate"))
    for cluster in group:
        pools[cluster].append(Pool(lb, cluster, [entry]))
        used[nets[cluster].site].append(span)


def _allocate(
    lb: LoadBalancer,
    group: list[ClusterNet],
    pools: dict[str, list[Pool]],
    used: dict[str, list[ipam.Span]],
    diags: Diagnostics,
) -> None:
    assert lb.request is not None
    ranges = sorted(e.span for e in group[0].ranges)
    for net in group[1:]:
        ranges = ipam.intersect(ranges, [e.span for e in net.ranges])
    sites = sorted({net.site for net in group})
    taken = [span for site in sites for span in used[site]]
    span = ipam.first_free(ranges, taken, lb.request)
    if span is not None:
        _assign(lb, [n.cluster.name for n in group], span, pools, used, _by_name(group))
        return
    names = ", ".join(n.cluster.name for n in group)
    shown = ", ".join(str(r) for r in ranges) or "none"
    where = "the ranges all of its clusters share" if len(group) > 1 else "its ranges"
    diags.error(
        f"addresses exhausted: load balancer {lb.name!r} asks for {lb.request} on cluster(s) "
        f"{names} (site {', '.join(map(repr, sites))}), and {where} ({shown}) have none free",
        lb.pos("allocate"),
        field_path((*lb.base, "allocate")),
        hint="add addresses to spec.metallb.addressRanges of the cluster(s), free some in the "
        "site, or ask for fewer",
    )


def _by_name(group: list[ClusterNet]) -> dict[str, ClusterNet]:
    return {net.cluster.name: net for net in group}
