"""The default profile: which plugins run, in KubeFleet's order."""

from __future__ import annotations

from .framework import FilterPlugin, ScorePlugin
from .plugins.clusteraffinity import ClusterAffinity
from .plugins.eligibility import ClusterEligibility
from .plugins.namespaceaffinity import NamespaceAffinity
from .plugins.sameplacement import SamePlacementAffinity
from .plugins.tainttoleration import TaintToleration
from .plugins.topologyspread import TopologySpread


def filters() -> list[FilterPlugin]:
    return [
        ClusterAffinity(),
        ClusterEligibility(),
        NamespaceAffinity(),
        TaintToleration(),
        SamePlacementAffinity(),
        TopologySpread(),
    ]


def scorers() -> list[ScorePlugin]:
    return [ClusterAffinity(), TopologySpread()]
