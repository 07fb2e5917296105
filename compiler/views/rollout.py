"""Staged rollouts as data and text: ``fleetc rollout status``, the runs in ``fleetc status``,
the snapshot lines of ``explain`` and the per-stage moves of ``diff``. Pure: everything is read
from what the rollout stage recorded (``Compilation.rollout``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..core.escape import printable
from ..stages.rollout import PlacementRollout, RunView, engine
from ..stages.rollout.plan import DELETE_STAGE

if TYPE_CHECKING:
    from ..pipeline import Compilation


def runs(comp: Compilation) -> list[RunView]:
    return [run for p in comp.rollout.placements.values() for run in p.runs]


def _stage_item(
    view: RunView, rollout: PlacementRollout, index: int, now: str | None
) -> dict[str, Any]:
    assert view.plan is not None
    stage = view.plan.stages[index]
    progress = view.record.progress[index] if index < len(view.record.progress) else None
    item: dict[str, Any] = {
        "name": stage.name,
        "maxConcurrency": stage.concurrency,
        "clusters": [{"name": c, "snapshot": rollout.clusters.get(c)} for c in stage.clusters],
    }
    spec = stage.stage
    if spec is not None:
        tasks: list[dict[str, Any]] = []
        if spec.before_approval:
            tasks.append(
                {
                    "type": "Approval",
                    "when": "before",
                    "request": engine.request_name(view.name, stage.name, True),
                    "approved": progress.approved_before if progress else None,
                }
            )
        if spec.wait_time is not None:
            tasks.append({"type": "TimedWait", "when": "after", "waitTime": spec.wait_time})
        if spec.after_approval:
            tasks.append(
                {
                    "type": "Approval",
                    "when": "after",
                    "request": engine.request_name(view.name, stage.name, False),
                    "approved": progress.approved_after if progress else None,
                }
            )
        item["tasks"] = tasks
    item["batches"] = list(progress.batches) if progress else []
    item["completed"] = progress.completed if progress else None
    item["reason"] = _stage_reason(view, index, now)
    return item


def _stage_reason(view: RunView, index: int, now: str | None) -> str | None:
    """The stage's Progressing/Succeeded reason in KubeFleet's words (None: not reached)."""
    assert view.plan is not None
    stage, record = view.plan.stages[index], view.record
    progress = record.progress[index] if index < len(record.progress) else None
    if progress is not None and progress.completed:
        return "StageUpdatingSucceeded" if stage.clusters else "StageUpdatingSkippedNoClusters"
    if index != engine.current(view.plan, record):
        return None
    if record.result == "Failed":
        return "StageUpdatingFailed"
    if view.state == "Stop":
        return "StageUpdatingStopped"
    step = engine.next_step(view.plan, record, now)
    if step.blocker is not None and not step.changed_clusters:
        return "StageUpdatingWaiting"
    return "StageUpdatingStarted" if progress is not None and progress.batches else None


def run_item(comp: Compilation, view: RunView, now: str | None = None) -> dict[str, Any]:
    rollout = comp.rollout.placements[view.placement]
    record = view.record
    conditions = engine.conditions(view.plan, record, view.state, now)
    item: dict[str, Any] = {
        "name": view.name,
        "placement": view.placement,
        "strategy": view.strategy,
        "state": view.state,
        "resourceSnapshotIndex": record.snapshot,
        "newestSnapshot": rollout.newest,
        "conditions": [
            {"type": c.type, "status": c.status, "reason": c.reason, "message": c.message}
            for c in conditions
        ],
        "stages": [],
        "next": None,
    }
    if view.plan is not None:
        item["stages"] = [_stage_item(view, rollout, i, now) for i in range(len(view.plan.stages))]
        if not record.finished:
            step = engine.next_step(view.plan, record, now)
            blocker = step.blocker if not step.changed_clusters else None
            if view.state != "Run":
                blocked = f"spec.state is {view.state}: set it to Run to proceed"
            else:
                blocked = blocker.describe() if blocker else None
            item["next"] = {
                "stage": step.stage,
                "moves": list(step.moved),
                "deletes": list(step.deleted),
                "blockedBy": blocked,
            }
    return item


def status(comp: Compilation, name: str | None, now: str | None) -> list[dict[str, Any]]:
    return [run_item(comp, v, now) for v in runs(comp) if name is None or v.name == name]


def status_text(items: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for item in items:
        if lines:
            lines.append("")
        lines.append(
            f"run {item['name']} (placement {item['placement']}, strategy {item['strategy']}): "
            f"snapshot {item['resourceSnapshotIndex']} (newest {item['newestSnapshot']}), "
            f"state {item['state']}"
        )
        for c in item["conditions"]:
            lines.append(f"  {c['type']}={c['status']} {c['reason']}: {c['message']}".rstrip(": "))
        for stage in item["stages"]:
            done = f", completed {stage['completed']}" if stage["completed"] else ""
            reason = f": {stage['reason']}" if stage["reason"] else ""
            lines.append(
                f"  stage {stage['name']} (maxConcurrency {stage['maxConcurrency']}, "
                f"{len(stage['clusters'])} cluster(s){done}){reason}"
            )
            for task in stage.get("tasks", []):
                if task["type"] == "TimedWait":
                    lines.append(f"    after: TimedWait {task['waitTime']}")
                else:
                    state = f"approved {task['approved']}" if task["approved"] else "not approved"
                    lines.append(f"    {task['when']}: Approval {task['request']} ({state})")
            for number, moment in enumerate(stage["batches"]):
                lines.append(f"    batch {number + 1} at {moment}")
            for cluster in stage["clusters"]:
                snap = cluster["snapshot"]
                shown = "-" if snap is None else str(snap)
                verb = "removed" if stage["name"] == DELETE_STAGE else f"snapshot {shown}"
                lines.append(f"    {cluster['name']}  {verb}")
        nxt = item["next"]
        if nxt is not None:
            if nxt["blockedBy"]:
                lines.append(f"  blocked: {nxt['blockedBy']}")
            if nxt["moves"] or nxt["deletes"]:
                what = nxt["moves"] or nxt["deletes"]
                verb = "moves" if nxt["moves"] else "deletes"
                lines.append(f"  next advance {verb} ({nxt['stage']}): {', '.join(what)}")
    if not lines:
        lines.append("no ClusterStagedUpdateRun in hub/")
    return printable("\n".join(lines) + "\n")


def status_section(comp: Compilation) -> list[dict[str, Any]]:
    """The runs, as ``fleetc status`` lists them (conditions at no particular time)."""
    found = []
    for view in runs(comp):
        conditions = engine.conditions(view.plan, view.record, view.state, None)
        rollout = comp.rollout.placements[view.placement]
        on = sum(1 for n in rollout.clusters.values() if n == view.record.snapshot)
        found.append(
            {
                "name": view.name,
                "placement": view.placement,
                "state": view.state,
                "resourceSnapshotIndex": view.record.snapshot,
                "clustersOnSnapshot": on,
                "conditions": {c.type: [c.status, c.reason] for c in conditions},
            }
        )
    return found


def status_section_text(items: list[dict[str, Any]]) -> list[str]:
    lines = []
    for item in items:
        conditions = ", ".join(f"{t}={s} {r}" for t, (s, r) in item["conditions"].items())
        lines.append(
            f"run {item['name']} (placement {item['placement']}, state {item['state']}): "
            f"snapshot {item['resourceSnapshotIndex']} on {item['clustersOnSnapshot']} "
            f"cluster(s); {conditions}"
        )
    return lines


def snapshot_lines(comp: Compilation, placement: str) -> list[str]:
    """``explain PLACEMENT``: the snapshot each cluster runs, and why."""
    rollout = comp.rollout.placements.get(placement)
    if rollout is None:
        return []
    lines = [f"staged (strategy External): newest snapshot {rollout.newest}"]
    width = max((len(c) for c in rollout.reasons), default=0)
    for cluster, reason in rollout.reasons.items():
        lines.append(f"  {cluster:<{width}}  {reason}")
    return lines


def object_snapshots(comp: Compilation, cluster: str, placements: tuple[str, ...]) -> list[str]:
    """``explain --cluster C --object REF``: the snapshot of each staged placement behind it."""
    found = []
    for name in placements:
        rollout = comp.rollout.placements.get(name)
        if rollout is not None and cluster in rollout.reasons:
            found.append(f"{name}: {rollout.reasons[cluster]}")
    return found


# -- diff ------------------------------------------------------------------------------------


def moves(base: Mapping[str, Any], head: Compilation) -> list[str]:
    """Per staged placement and stage, which clusters move from snapshot N to M; and a new
    snapshot that reaches no cluster yet. ``base``: the base's staged placements, of which
    only ``clusters`` and ``newest`` are read (``PlacementRollout`` or ``diff_side.Staged``)."""
    lines: list[str] = []
    for name, after in head.rollout.placements.items():
        before = base.get(name)
        if before is None and after.clusters:
            # Newly External: its clusters keep what they were given; nothing rolls out.
            lines.append(
                f"{name}: now staged (strategy External): {len(after.clusters)} cluster(s) keep "
                f"what they run, as snapshot {after.newest}"
            )
            continue
        old = before.clusters if before else {}
        stage_of = _stage_finder(after)
        grouped: dict[str, list[str]] = {}
        for cluster in sorted(set(old) | set(after.clusters)):
            n, m = old.get(cluster), after.clusters.get(cluster)
            if n == m:
                continue
            text = f"{cluster} {'-' if n is None else n}->{'removed' if m is None else m}"
            grouped.setdefault(stage_of(cluster), []).append(text)
        for stage, items in grouped.items():
            lines.append(f"{name}: stage {stage}: {', '.join(items)}")
        new_snapshot = before is None or after.newest != before.newest
        reached = any(n == after.newest for n in after.clusters.values())
        if new_snapshot and not reached:
            waiting = [c for c in after.selected if after.clusters.get(c) != after.newest]
            stages = _waiting_stages(after, waiting)
            where = f" in {stages} stage(s)" if stages else " (no update run rolls it out yet)"
            lines.append(
                f"{name}: snapshot {after.newest} recorded, not rolled out: "
                f"{len(waiting)} cluster(s){where} waiting"
            )
    return lines


def _active_plan_runs(rollout: PlacementRollout) -> list[RunView]:
    """Runs with a plan, unfinished first, newest snapshot first."""
    with_plan = [r for r in rollout.runs if r.plan is not None]
    return sorted(with_plan, key=lambda r: (r.record.finished, -r.record.snapshot))


def _stage_finder(rollout: PlacementRollout):
    plans = _active_plan_runs(rollout)

    def find(cluster: str) -> str:
        for run in plans:
            assert run.plan is not None
            stage = run.plan.stage_of(cluster)
            if stage is not None:
                return stage.name
        return "(none)"

    return find


def _waiting_stages(rollout: PlacementRollout, waiting: list[str]) -> int:
    for run in _active_plan_runs(rollout):
        assert run.plan is not None
        if run.record.snapshot == rollout.newest and not run.record.finished:
            return sum(
                1
                for s in run.plan.stages
                if s.stage is not None and any(c in waiting for c in s.clusters)
            )
    return 0
