"""An update run's stages: which clusters, in which order, how many at a time. Pure.

KubeFleet's initialization (``pkg/controllers/updaterun/initialization.go``): the clusters are
the placement's selected clusters, matched against each stage's labelSelector (empty: every
cluster, absent: none). A cluster in two stages, or a selected cluster in none, fails the run;
within a stage clusters are sorted by ``sortingLabelKey`` read as an integer (anything else
fails), then by name. Clusters that hold the placement's resources but are no longer selected
form a final delete stage, in name order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass

from ...core import labels
from ...core.diagnostics import Diagnostics
from ...core.model import Cluster
from .inputs import Run, Stage, Strategy

DELETE_STAGE = "kubernetes-fleet.io/deleteStage"
_INTEGER = re.compile(r"^[+-]?[0-9]+$")


@dataclass(frozen=True)
class StagePlan:
    name: str
    clusters: tuple[str, ...]
    # None for the delete stage (which deletes all its clusters at once).
    stage: Stage | None = None

    @property
    def concurrency(self) -> int:
        if self.stage is None:
            return max(1, len(self.clusters))
        return self.stage.concurrency(len(self.clusters))

    def batch(self, number: int) -> tuple[str, ...]:
        size = self.concurrency
        return self.clusters[number * size : (number + 1) * size]

    @property
    def batches(self) -> int:
        return -(-len(self.clusters) // self.concurrency) if self.clusters else 0


@dataclass(frozen=True)
class Plan:
    # The strategy's stages, then the delete stage.
    stages: tuple[StagePlan, ...]

    @property
    def digest(self) -> str:
        """Changes when a stage gains or loses a cluster, or the strategy changes."""
        data = [
            [s.name, list(s.clusters), None if s.stage is None else dataclasses.asdict(s.stage)]
            for s in self.stages
        ]
        text = json.dumps(data, separators=(",", ":"), sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def stage_of(self, cluster: str) -> StagePlan | None:
        return next((s for s in self.stages if cluster in s.clusters), None)


def _sort_key(stage: Stage, cluster: Cluster) -> tuple[int, str] | None:
    if stage.sorting_label_key is None:
        return (0, cluster.name)
    value = cluster.labels.get(stage.sorting_label_key, "")
    # Go's strconv.Atoi: an optional sign and decimal digits, nothing else.
    if not _INTEGER.match(value):
        return None
    return (int(value), cluster.name)


def build(
    run: Run,
    strategy: Strategy,
    selected: list[str],
    holding: set[str],
    clusters: dict[str, Cluster],
    diags: Diagnostics,
) -> Plan | None:
    """The run's stages, or None (with errors at the strategy's lines) when KubeFleet's
    initialization would fail."""
    ok = True
    member_of: dict[str, Stage] = {}
    plans: list[StagePlan] = []
    for stage in strategy.stages:
        at = ("spec", "stages", stage.index)
        found: list[tuple[tuple[int, str], str]] = []
        for name in sorted(selected):
            if stage.selector is None or not labels.matches(stage.selector, clusters[name].labels):
                continue
            first = member_of.setdefault(name, stage)
            if first is not stage:
                diags.error(
                    f"cluster `{name}` appears in more than one stage: {first.name!r} and "
                    f"{stage.name!r} (ClusterStagedUpdateRun {run.name!r})",
                    strategy.pos(*at, "labelSelector"),
                    f"spec.stages[{stage.index}].labelSelector",
                    hint="make the stages' label selectors disjoint",
                )
                ok = False
                continue
            key = _sort_key(stage, clusters[name])
            if key is None:
                value = clusters[name].labels.get(stage.sorting_label_key or "")
                diags.error(
                    f"the sorting label `{stage.sorting_label_key}:{value or ''}` on cluster "
                    f"`{name}` is not valid: an integer is required "
                    f"(ClusterStagedUpdateRun {run.name!r})",
                    strategy.pos(*at, "sortingLabelKey"),
                    f"spec.stages[{stage.index}].sortingLabelKey",
                    hint=f"label every cluster of stage {stage.name!r} with an integer "
                    f"{stage.sorting_label_key}",
                )
                ok = False
                continue
            found.append((key, name))
        plans.append(StagePlan(stage.name, tuple(n for _k, n in sorted(found)), stage))
    missing = sorted(n for n in selected if n not in member_of)
    if missing:
        shown = ", ".join(missing[:10]) + (
            f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        diags.error(
            f"some clusters are not placed in any stage of {strategy.name!r}: {shown} "
            f"(placement {run.placement!r}, ClusterStagedUpdateRun {run.name!r})",
            strategy.pos("spec", "stages"),
            "spec.stages",
            hint="every selected cluster must match exactly one stage (a last stage with "
            "labelSelector: {} takes every cluster)",
        )
        ok = False
    if not ok:
        return None
    leaving = tuple(sorted(holding - set(selected)))
    return Plan((*plans, StagePlan(DELETE_STAGE, leaving)))
