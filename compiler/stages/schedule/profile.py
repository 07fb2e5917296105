"""The default profile: which plugins run, in KubeFleet's order."""

from __future__ import annotations

from fleetc.stages.schedule.framework import FilterPlugin, ScorePlugin
from fleetc.stages.schedule.plugins.clusteraffinity import ClusterAffinity
from fleetc.stages.schedule.plugins.eligibility import ClusterEligibility
from fleetc.stages.schedule.plugins.namespaceaffinity import NamespaceAffinity
from fleetc.stages.schedule.plugins.sameplacement import SamePlacementAffinity
from fleetc.stages.schedule.plugins.tainttoleration import TaintToleration
from fleetc.stages.schedule.plugins.topologyspread import TopologySpread


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
