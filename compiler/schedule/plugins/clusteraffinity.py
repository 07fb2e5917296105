"""ClusterAffinity: required cluster selector terms (ORed) filter clusters."""

from __future__ import annotations

from typing import Any

from ... import labels
from ...model import Cluster
from ..framework import SKIP, SUCCESS, CycleState, Status, unschedulable

NAME = "ClusterAffinity"
REASON = "cluster does not match with any of the required cluster affinity terms"


def required_terms(policy: dict[str, Any]) -> list[dict[str, Any]] | None:
    affinity = (policy.get("affinity") or {}).get("clusterAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    return None if required is None else required.get("clusterSelectorTerms") or []


def term_matches(term: dict[str, Any], cluster: Cluster) -> bool:
    return labels.matches(term.get("labelSelector"), cluster.labels)


class ClusterAffinity:
    name = NAME

    def pre_filter(self, state: CycleState) -> Status:
        return SKIP if not required_terms(state.policy) else SUCCESS

    def filter(self, state: CycleState, cluster: Cluster) -> Status:
        terms = required_terms(state.policy) or []
        if any(term_matches(term, cluster) for term in terms):
            return SUCCESS
        return unschedulable(NAME, REASON)
