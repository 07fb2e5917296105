"""What staged rollouts remember in fleet.lock (section ``rollouts``).

Per External placement: the number of its newest resource snapshot, the content id of every
snapshot still in use (the content itself is in the snapshot store), which snapshot each
cluster runs (grouped by snapshot, so 10,000 clusters on one snapshot are one list), and the
state of each ClusterStagedUpdateRun in hub/: the snapshot it rolls out, a digest of its stages
(recomputed each render: a change aborts the run, as KubeFleet's revalidation does), and per
stage reached the times of its batches, approvals and completion. Batch members are not listed:
batch k of a stage is its k-th ``maxConcurrency`` clusters in sorted order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ...core.diagnostics import Diagnostics
from ...core.lock import LOCK_FILE, Lock

SECTION = "rollouts"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_ID = re.compile(r"^[0-9a-f]{20}$")


@dataclass
class StageProgress:
    stage: str
    batches: list[str] = field(default_factory=list)
    approved_before: str | None = None
    approved_after: str | None = None
    completed: str | None = None


@dataclass
class RunRecord:
    name: str
    strategy: str
    snapshot: int
    state: str
    stages: str
    policy: str
    # resourceSnapshotIndex as the run wrote it (None: omitted), for the immutability rule.
    index: int | None = None
    progress: list[StageProgress] = field(default_factory=list)
    result: str | None = None
    message: str | None = None

    @property
    def finished(self) -> bool:
        return self.result is not None


@dataclass
class PlacementRecord:
    latest: int
    snapshots: dict[int, str] = field(default_factory=dict)
    # cluster -> the snapshot number it runs.
    clusters: dict[str, int] = field(default_factory=dict)
    runs: dict[str, RunRecord] = field(default_factory=dict)


class _Malformed(Exception):
    pass


def _need(condition: bool) -> None:
    if not condition:
        raise _Malformed


def _time(value: Any) -> str | None:
    if value is None:
        return None
    _need(isinstance(value, str) and bool(_TIME.match(value)))
    return value


def _int(value: Any) -> int:
    _need(isinstance(value, int) and not isinstance(value, bool) and value >= 0)
    return value


def _number(value: Any) -> int:
    """A snapshot number used as a mapping key (YAML keys may be read as strings)."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return _int(value)


def _progress(item: Any) -> StageProgress:
    _need(isinstance(item, dict) and isinstance(item.get("stage"), str))
    batches = item.get("batches") or []
    _need(isinstance(batches, list))
    return StageProgress(
        item["stage"],
        [t for t in (_time(b) for b in batches) if t is not None],
        _time(item.get("approvedBefore")),
        _time(item.get("approvedAfter")),
        _time(item.get("completed")),
    )


def _run(name: Any, item: Any) -> RunRecord:
    _need(isinstance(name, str) and isinstance(item, dict))
    for key in ("strategy", "state", "stages", "policy"):
        _need(isinstance(item.get(key), str))
    progress = item.get("progress") or []
    _need(isinstance(progress, list))
    result = item.get("result")
    _need(result in (None, SUCCEEDED, FAILED))
    message = item.get("message")
    _need(message is None or isinstance(message, str))
    index = item.get("resourceSnapshotIndex")
    return RunRecord(
        name,
        item["strategy"],
        _int(item.get("snapshot")),
        item["state"],
        item["stages"],
        item["policy"],
        None if index is None else _int(index),
        [_progress(p) for p in progress],
        result,
        message,
    )


def _placement(entry: Any) -> PlacementRecord:
    _need(isinstance(entry, dict))
    snapshots = entry.get("snapshots") or {}
    clusters = entry.get("clusters") or {}
    runs = entry.get("runs") or {}
    _need(isinstance(snapshots, dict) and isinstance(clusters, dict) and isinstance(runs, dict))
    record = PlacementRecord(_int(entry.get("latest")))
    for number, content in snapshots.items():
        _need(isinstance(content, str) and bool(_ID.match(content)))
        record.snapshots[_number(number)] = content
    _need(record.latest in record.snapshots)
    for number, names in clusters.items():
        _need(_number(number) in record.snapshots and isinstance(names, list))
        for cluster in names:
            _need(isinstance(cluster, str) and cluster not in record.clusters)
            record.clusters[cluster] = _number(number)
    for name, item in runs.items():
        run = _run(name, item)
        _need(run.snapshot in record.snapshots)
        record.runs[name] = run
    return record


def read(lock: Lock, diags: Diagnostics) -> dict[str, PlacementRecord]:
    """Every External placement's record; a malformed entry is an error, not a guess."""
    section = lock.section(SECTION)
    if section is None:
        return {}
    if not isinstance(section, dict):
        where = lock.doc.pos((SECTION,)) if lock.doc is not None else None
        diags.error(f"{LOCK_FILE}: '{SECTION}' must be a mapping", where)
        return {}
    found: dict[str, PlacementRecord] = {}
    for name, entry in section.items():
        try:
            found[str(name)] = _placement(entry)
        except _Malformed:
            diags.error(
                f"{LOCK_FILE}: the rollout entry of placement {name!r} is malformed",
                lock.doc.pos((SECTION, name)) if lock.doc is not None else None,
                f"{SECTION}.{name}",
                hint="restore fleet.lock from git: it records which snapshot each cluster runs",
            )
    return found


def _run_data(run: RunRecord) -> dict[str, Any]:
    data: dict[str, Any] = {"strategy": run.strategy, "snapshot": run.snapshot}
    if run.index is not None:
        data["resourceSnapshotIndex"] = run.index
    data.update(state=run.state, stages=run.stages, policy=run.policy)
    progress = []
    for p in run.progress:
        item: dict[str, Any] = {"stage": p.stage}
        if p.approved_before:
            item["approvedBefore"] = p.approved_before
        if p.batches:
            item["batches"] = list(p.batches)
        if p.approved_after:
            item["approvedAfter"] = p.approved_after
        if p.completed:
            item["completed"] = p.completed
        progress.append(item)
    if progress:
        data["progress"] = progress
    if run.result:
        data["result"] = run.result
    if run.message:
        data["message"] = run.message
    return data


def dump(records: dict[str, PlacementRecord]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in sorted(records):
        record = records[name]
        grouped: dict[int, list[str]] = {}
        for cluster in sorted(record.clusters):
            grouped.setdefault(record.clusters[cluster], []).append(cluster)
        entry: dict[str, Any] = {
            "latest": record.latest,
            "snapshots": {n: record.snapshots[n] for n in sorted(record.snapshots)},
        }
        if grouped:
            entry["clusters"] = {n: grouped[n] for n in sorted(grouped)}
        if record.runs:
            entry["runs"] = {r: _run_data(record.runs[r]) for r in sorted(record.runs)}
        out[name] = entry
    return out
