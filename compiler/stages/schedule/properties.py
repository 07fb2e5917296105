"""Cluster properties as KubeFleet's property selectors and sorters read them."""

from __future__ import annotations

from fractions import Fraction

from ...core import quantity
from ...core.model import Cluster

RESOURCE_PREFIX = "resources.kubernetes-fleet.io/"
# resources.kubernetes-fleet.io/<kind>-<resource> reads status.resourceUsage.<field>[resource].
RESOURCE_KINDS = {"total": "capacity", "allocatable": "allocatable", "available": "available"}


def value(cluster: Cluster, name: str) -> Fraction | None:
    """The property's value as a quantity; None when the cluster does not report it."""
    if name.startswith(RESOURCE_PREFIX):
        kind, sep, resource = name[len(RESOURCE_PREFIX) :].partition("-")
        usage_field = RESOURCE_KINDS.get(kind)
        if not sep or usage_field is None:
            return None
        raw = cluster.resource_usage.get(usage_field, {}).get(resource)
    else:
        raw = cluster.properties.get(name)
    return None if raw is None else quantity.parse(raw)
