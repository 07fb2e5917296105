"""Compare two compilations of a fleet: which clusters change, which objects, and why. Pure.

The "why" comes from the placements: a cluster gains or loses a placement because the placement
(its policy or selectors) changed, because the cluster's labels, taints or state changed, or
because the cluster was added to or removed from the inventory. Secret values never reach a
diff: ``data`` and ``stringData`` values of Secrets are replaced by a marker saying only whether
the value changed.
"""

from __future__ import annotations

import difflib
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core import yamlout
from ..core.model import ObjectKey
from ..core.output_layout import KUSTOMIZATION
from . import diff_side, rollout
from .diff_side import Item, Side
from .status import readable
from .transitions import Finding

if TYPE_CHECKING:
    from ..pipeline import Compilation

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"
GAINED = "gained"
LOST = "lost"
SECRET_FIELDS = ("data", "stringData")
REDACTED = "<redacted>"
# kubectl copies the whole object, values included, into this annotation.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
REDACTED_OLD = "<redacted-old-value>"
REDACTED_NEW = "<redacted-new-value>"


@dataclass
class ObjectChange:
    key: str
    path: str  # relative to the output folder
    change: str  # added | removed | changed
    diff: str  # unified diff of the YAML (Secret values redacted)


@dataclass
class PlacementChange:
    placement: str
    cluster: str
    change: str  # gained | lost
    reasons: list[str] = field(default_factory=list)


@dataclass
class ClusterDiff:
    name: str
    status: str  # added | removed | changed
    objects: list[ObjectChange] = field(default_factory=list)

    def count(self, change: str) -> int:
        return sum(1 for o in self.objects if o.change == change)


@dataclass
class FleetDiff:
    base: str  # how the base was named (ref and commit)
    head: str
    clusters: list[ClusterDiff] = field(default_factory=list)
    placements: list[PlacementChange] = field(default_factory=list)
    # Inventory and placement-spec changes, one sentence each.
    inventory: list[str] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)
    # Will it apply? (views/transitions), filled in by the shell that read the base's output.
    transitions: list[Finding] = field(default_factory=list)
    # Clusters the change leaves selected only because fleet.lock remembers them (lint
    # FLEET007), one sentence each.
    kept: list[str] = field(default_factory=list)
    # Staged rollouts: per placement and stage, the clusters that move between snapshots.
    rollouts: list[str] = field(default_factory=list)
    # What a reviewer must not miss, one sentence each (a bootstrapped cluster removed).
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.clusters or self.placements or self.inventory or self.policies or self.rollouts
        )


def compare(
    base: Compilation | Side,
    head: Compilation,
    base_name: str,
    head_name: str,
    serialised: Mapping[tuple[Any, ...], bytes] | None = None,
) -> FleetDiff:
    """What changes from ``base`` (compiled, or its side recalled: ``diff_side``) to ``head``
    (whose objects' texts the emit stage may have serialised: ``Result.serialised``)."""
    old = base if isinstance(base, Side) else diff_side.of(base)
    new = diff_side.of(head, serialised=serialised)
    result = FleetDiff(base_name, head_name)
    result.inventory = _inventory_changes(old.clusters, new.clusters)
    policies = _policy_changes(old, new)
    result.policies = list(policies.values())
    result.placements = _placement_changes(old, new, policies)
    result.kept = _newly_kept(old, new)
    result.rollouts = rollout.moves(old.rollout, head)
    for name in sorted(set(old.objects) | set(new.objects)):
        status = _kind(name, old.objects, new.objects)
        objects = _object_changes(name, old, new)
        if objects or status != CHANGED:
            result.clusters.append(ClusterDiff(name, status, objects))
    bootstrapped = old.flux_system | new.flux_system
    for cluster in result.clusters:
        if cluster.status == REMOVED and cluster.name in bootstrapped:
            result.warnings.append(
                f"cluster {cluster.name} is removed and its folder holds flux-system/ from "
                f"flux bootstrap: rendering deletes it only with --remove-bootstrapped "
                f"{cluster.name}, and Flux on {cluster.name} then stops syncing"
            )
    return result


def compare_files(old: dict[str, bytes | None], new: dict[str, bytes]) -> list[ClusterDiff]:
    """Per-cluster changes between two output trees (paths relative to the output folder;
    None stands for a symbolic link, which differs from every file).

    Used for the commit message of ``render --commit``: what the commit changes in the
    committed output. Kustomization files follow from the objects and are not counted.
    """
    by_cluster: dict[str, list[str]] = {}
    for path in sorted(set(old) | set(new)):
        by_cluster.setdefault(path.split("/", 1)[0], []).append(path)
    old_clusters = {path.split("/", 1)[0] for path in old}
    new_clusters = {path.split("/", 1)[0] for path in new}
    found: list[ClusterDiff] = []
    for name, paths in sorted(by_cluster.items()):
        changes = [
            ObjectChange(path, path, _kind(path, old, new), "")
            for path in paths
            if not path.endswith(f"/{KUSTOMIZATION}") and old.get(path) != new.get(path)
        ]
        status = _kind(name, old_clusters, new_clusters)
        if changes or status != CHANGED:
            found.append(ClusterDiff(name, status, changes))
    return found


def _kind(item: Any, old: Container[Any], new: Container[Any]) -> str:
    """Whether ``item`` was added, removed or (possibly) changed between ``old`` and ``new``."""
    return ADDED if item not in old else REMOVED if item not in new else CHANGED


def _object_changes(cluster: str, base: Side, head: Side) -> list[ObjectChange]:
    old, new = base.objects.get(cluster) or {}, head.objects.get(cluster) or {}
    # Those whose path or text differ, in key order (ObjectKey's).
    differ = [k for k in old if k not in new]
    for key, item in new.items():
        was = old.get(key)
        if was is None or was[0] != item[0] or was[1] != item[1]:
            differ.append(key)
    changes: list[ObjectChange] = []
    for key in sorted(differ):
        before, after = old.get(key), new.get(key)
        old_text, new_text = _shown(base, before, head, after)
        path = _path(cluster, after or before)  # type: ignore[arg-type]
        change = _kind(key, old, new)
        old_path = _path(cluster, before) if before else "/dev/null"
        new_path = _path(cluster, after) if after else "/dev/null"
        diff = "".join(
            difflib.unified_diff(
                old_text.splitlines(keepends=True),
                new_text.splitlines(keepends=True),
                fromfile=f"a/{old_path}" if before else old_path,
                tofile=f"b/{new_path}" if after else new_path,
            )
        )
        changes.append(ObjectChange(str(ObjectKey(*key)), path, change, diff))
    return changes


def _shown(base: Side, before: Item | None, head: Side, after: Item | None) -> tuple[str, str]:
    """Both texts with Secret values redacted (``redact_pair``). An object that cannot be a
    Secret, nor a List of them, shows as it is, and is to the other side's redaction what no
    object is: its body is not needed."""
    old_body = base.body(before) if before and diff_side.may_redact(before.text) else None
    new_body = head.body(after) if after and diff_side.may_redact(after.text) else None
    old_text, new_text = (before.text if before else ""), (after.text if after else "")
    if old_body is None and new_body is None:
        return old_text, new_text
    old_body, new_body = redact_pair(old_body, new_body)
    return (old_text if old_body is None else _yaml(old_body)), (
        new_text if new_body is None else _yaml(new_body)
    )


def _yaml(body: dict[str, Any] | None) -> str:
    return "" if body is None else yamlout.dump_object(body).decode("utf-8")


def _path(cluster: str, item: Item) -> str:
    return f"{cluster}/{item.rel}"


def _is_secret(body: dict[str, Any] | None) -> bool:
    return isinstance(body, dict) and (body.get("apiVersion"), body.get("kind")) == ("v1", "Secret")


def _is_list(body: Any) -> bool:
    """A ``v1`` ``List`` (or ``...List``) whose items may be Secrets."""
    return (
        isinstance(body, dict)
        and str(body.get("kind", "")).endswith("List")
        and isinstance(body.get("items"), list)
    )


def redact_pair(
    old: dict[str, Any] | None, new: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Both bodies with Secret values replaced; a value that differs is marked old/new."""
    return _redact(old, new, REDACTED_OLD), _redact(new, old, REDACTED_NEW)


def _redact(body: dict[str, Any] | None, other: dict[str, Any] | None, marker: str):
    """``body`` with its Secret values replaced: ``marker`` where ``other`` differs."""
    if _is_list(body):  # Lists inside Lists too
        theirs = other["items"] if _is_list(other) else []
        items = [
            _redact(item, theirs[i] if i < len(theirs) else None, marker)
            for i, item in enumerate(body["items"])
        ]
        return {**body, "items": items}
    if body is None or not _is_secret(body):
        return body
    out = dict(body)
    for name in SECRET_FIELDS:
        values = out.get(name)
        if values is None:
            continue
        theirs = (other or {}).get(name) if _is_secret(other) else None
        theirs = theirs if isinstance(theirs, dict) else {}
        if isinstance(values, dict):
            out[name] = {
                k: REDACTED if k in theirs and theirs[k] == v else marker for k, v in values.items()
            }
        else:
            out[name] = REDACTED
    metadata = out.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        out["metadata"] = {**metadata, "annotations": {**annotations, LAST_APPLIED: REDACTED}}
    return out


def _inventory_changes(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> list[str]:
    """Between two inventories' facts (``diff_side.cluster_facts``)."""
    lines: list[str] = []
    for name in sorted(set(old) | set(new)):
        if name not in old:
            lines.append(f"cluster {name} added to the inventory")
        elif name not in new:
            lines.append(f"cluster {name} removed from the inventory")
        else:
            texts = _cluster_changes(old[name], new[name])
            lines.extend(f"cluster {name}: {text}" for text in texts)
    return lines


def _cluster_changes(facts_old: dict[str, Any], facts_new: dict[str, Any]) -> list[str]:
    texts: list[str] = []
    old, new = facts_old["labels"], facts_new["labels"]
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if before is None:
            texts.append(f"label {key}={after} added")
        elif after is None:
            texts.append(f"label {key}={before} removed")
        else:
            texts.append(f"label {key} changed from {before} to {after}")
    for fact in ("taints", "state", "kubernetesVersion"):
        if facts_old[fact] != facts_new[fact]:
            before, after = _fact(facts_old[fact]), _fact(facts_new[fact])
            texts.append(f"{fact} changed from {before} to {after}")
    return texts


def _fact(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(value) if value else "(none)"
    return "(none)" if value is None else str(value)


def _policy_changes(base: Side, head: Side) -> dict[str, str]:
    """Placement name -> what changed in its spec (policy, resourceSelectors, ...)."""
    old, new = base.placements, head.placements
    lines: dict[str, str] = {}
    for name in sorted(set(old) | set(new)):
        # A ResourcePlacement (key namespace/name) is named as such.
        label = "ResourcePlacement" if (new.get(name) or old[name]).namespace else "placement"
        if name not in old:
            lines[name] = f"{label} {name} added"
        elif name not in new:
            lines[name] = f"{label} {name} removed"
        else:
            parts = changed_fields(old[name].spec, new[name].spec)
            if parts:
                lines[name] = f"{label} {name}: {'; '.join(parts)}"
    return lines


_MISSING = object()
# Scalars longer than this are named, not quoted, in a change sentence.
_VALUE_WIDTH = 60


def changed_fields(old: Any, new: Any, path: str = "") -> list[str]:
    """One phrase per changed field, by its dotted path: ``policy.numberOfClusters changed
    from 2 to 3``, ``policy.tolerations[0].value changed``, ``strategy added``."""
    if old == new:
        return []
    if old is _MISSING:
        return [f"{path} added" + _value(" as ", new)]
    if new is _MISSING:
        return [f"{path} removed"]
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            found += changed_fields(old.get(key, _MISSING), new.get(key, _MISSING), sub)
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        found = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            found += changed_fields(a, b, f"{path}[{index}]")
        return found
    if isinstance(old, list) and isinstance(new, list):
        return [f"{path} changed from {len(old)} to {len(new)} item(s)"]
    scalar = not isinstance(old, (dict, list)) and not isinstance(new, (dict, list))
    if scalar and len(repr(old)) + len(repr(new)) <= _VALUE_WIDTH:
        return [f"{path} changed from {_show(old)} to {_show(new)}"]
    return [f"{path} changed"]


def _show(value: Any) -> str:
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _value(prefix: str, value: Any) -> str:
    if isinstance(value, (dict, list)) or len(repr(value)) > _VALUE_WIDTH:
        return ""
    return prefix + _show(value)


def _placement_changes(base: Side, head: Side, policies: dict[str, str]) -> list[PlacementChange]:
    changes: list[PlacementChange] = []
    for name in sorted(set(base.outcomes) | set(head.outcomes)):
        old = base.outcomes.get(name)
        new = head.outcomes.get(name)
        before = set(old.selected) if old else set()
        after = set(new.selected) if new else set()
        for cluster in sorted(before ^ after):
            gained = cluster in after
            reasons = []
            if name in policies:
                reasons.append(policies[name])
            reasons.extend(_cluster_reasons(cluster, base, head))
            # The scheduler's own words on the side where the cluster is not selected.
            outcome = old if gained else new
            decision = next(
                (d for d in (outcome.decisions if outcome else []) if d.cluster == cluster), None
            )
            if decision is not None:
                side = "before" if gained else "now"
                reasons.append(f"{side}: {readable(decision.reason)}")
                if decision.evicted_by:
                    reasons.append(f"evicted by {decision.evicted_by}")
            changes.append(PlacementChange(name, cluster, GAINED if gained else LOST, reasons))
    return changes


def _newly_kept(base: Side, head: Side) -> list[str]:
    """Selections that the change leaves in place only because fleet.lock remembers them."""
    lines = []
    for name, outcome in sorted(head.outcomes.items()):
        before = base.outcomes.get(name)
        was = {d.cluster for d in before.decisions if d.kept_by_lock} if before else set()
        for decision in outcome.decisions:
            if decision.kept_by_lock and decision.cluster not in was:
                lines.append(
                    f"placement {name} keeps cluster {decision.cluster} only because fleet.lock "
                    f"remembers it: it no longer matches ({readable(decision.kept_by_lock)}); "
                    f"'fleetc render --reschedule {name}' would drop it"
                )
    return lines


def _cluster_reasons(name: str, base: Side, head: Side) -> list[str]:
    old, new = base.clusters.get(name), head.clusters.get(name)
    if old is None:
        return [f"cluster {name} added to the inventory"]
    if new is None:
        return [f"cluster {name} removed from the inventory"]
    return [f"cluster {name}: {text}" for text in _cluster_changes(old, new)]
