"""The default profile: which plugins run, in KubeFleet's order."""

from __future__ import annotations

from .framework import FilterPlugin, ScorePlugin
from .plugins.clusteraffinity import ClusterAffinity
from .plugins.eligibility import ClusterEligibility
from .plugins.tainttoleration import TaintToleration


def filters() -> list[FilterPlugin]:
    return [ClusterAffinity(), ClusterEligibility(), TaintToleration()]


def scorers() -> list[ScorePlugin]:
    return []
