"""Why a cluster runs the snapshot it runs, in words, for ``fleetc explain``. Pure."""

from __future__ import annotations

from .lock_section import PlacementRecord
from .results import RunView


def explain(
    record: PlacementRecord, selected: tuple[str, ...], runs: list[RunView]
) -> dict[str, str]:
    """Why each cluster that is selected or holds a snapshot runs what it runs."""
    reasons: dict[str, str] = {}
    newest = record.latest
    for cluster in sorted(set(selected) | set(record.clusters)):
        number = record.clusters.get(cluster)
        by = _rolled_by(cluster, number, runs)
        if number is None:
            text = f"no snapshot yet: waiting for an update run to roll out snapshot {newest}"
        elif cluster not in selected:
            text = (
                f"runs snapshot {number} until an update run's delete stage removes it "
                "(no longer selected)"
            )
        elif number == newest:
            text = f"runs snapshot {number}, the newest"
        else:
            text = f"runs snapshot {number}; snapshot {newest} is newer and not rolled out here yet"
        if number is not None and by:
            text += f" ({by})"
        elif number is not None and number != newest and cluster in selected:
            text += " (given before any run in hub/)"
        reasons[cluster] = text
    return reasons


def _rolled_by(cluster: str, number: int | None, runs: list[RunView]) -> str:
    for view in runs:
        if view.plan is None or view.record.snapshot != number:
            continue
        for index, stage in enumerate(view.plan.stages):
            if cluster not in stage.clusters or index >= len(view.record.progress):
                continue
            batch = stage.clusters.index(cluster) // stage.concurrency
            times = view.record.progress[index].batches
            if batch < len(times):
                return f"rolled out by run {view.name}, stage {stage.name}, at {times[batch]}"
    return ""
