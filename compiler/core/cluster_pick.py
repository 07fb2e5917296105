"""One cluster picker for the sections that name clusters (services, load balancers): names plus
labelSelector terms, as a placement's required cluster affinity reads them. Pure."""

from __future__ import annotations

from typing import Any

from .diagnostics import Diagnostics, did_you_mean, field_path
from .labels import check_selector, matches
from .model import Fleet, Located
from .yamlsource import Path


def select_clusters(
    fleet: Fleet,
    where: Located,
    names: list[str] | None,
    names_at: Path,
    terms: list[dict[str, Any]] | None,
    terms_at: Path,
    diags: Diagnostics,
) -> list[str]:
    """Clusters named in ``names`` plus those whose labels any term's ``labelSelector``
    matches (terms ORed, as in a placement's required cluster affinity), in name order.

    ``names_at`` and ``terms_at`` are the lists' paths below ``where``; a name missing from the
    inventory is an error with a "did you mean" hint.
    """
    picked: set[str] = set()
    for index, name in enumerate(names or []):
        if name in fleet.clusters:
            picked.add(name)
            continue
        if name in fleet.rejected_clusters:
            continue  # its document's errors are reported
        at = (*names_at, index)
        diags.error(
            f"cluster {name!r} is not in the inventory",
            where.pos(*at),
            field_path((*where.base, *at)),
            hint=did_you_mean(name, fleet.clusters),
        )
    for index, term in enumerate(terms or []):
        selector = term.get("labelSelector") if isinstance(term, dict) else None
        if check_selector(selector, where, (*terms_at, index, "labelSelector"), diags):
            picked.update(c.name for c in fleet.clusters.values() if matches(selector, c.labels))
    return sorted(picked)
