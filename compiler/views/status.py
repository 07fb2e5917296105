"""Placement status and explanations as data: the JSON contract of ``fleetc status``/``explain``.

``status`` is the placements' outcomes followed by what each reporting section of fleet.yaml
recorded while it compiled (services, load-balancer pools, ...). Everything here is pure; the CLI
prints what these functions return.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..core.escape import printable
from ..core.model import Placement
from ..stages.schedule import Decision, Outcome
from . import rollout

if TYPE_CHECKING:
    from ..pipeline import Compilation


def decision_item(decision: Decision) -> dict[str, Any]:
    """One cluster's decision, as ``status`` and ``explain --format json`` print it
    (``evictedBy`` only when an eviction deleted the cluster's binding in this render)."""
    evicted = {"evictedBy": decision.evicted_by} if decision.evicted_by else {}
    return {
        "cluster": decision.cluster,
        "selected": decision.selected,
        "affinityScore": decision.affinity_score,
        "topologySpreadScore": decision.topology_spread_score,
        "reason": decision.reason,
        "verdict": decision.verdict,
        "filter": decision.filtered_by,
        **evicted,
        # Selected only because fleet.lock remembers it: why the filters reject it now.
        "keptByLock": decision.kept_by_lock or None,
    }


def placement_item(placement: Placement, outcome: Outcome) -> dict[str, Any]:
    """A placement's item; a ResourcePlacement's also has ``kind`` and ``namespace`` (its
    ``name`` is its key, ``namespace/name``)."""
    condition = outcome.condition
    namespaced = (
        {"kind": placement.kind, "namespace": placement.namespace} if placement.namespace else {}
    )
    return {
        "name": placement.name,
        **namespaced,
        "placementType": outcome.placement_type,
        "scheduled": {
            "status": condition.status,
            "reason": condition.reason,
            "message": condition.message,
        },
        "decisions": [decision_item(d) for d in outcome.decisions],
    }


def placements_section(comp: Compilation) -> list[dict[str, Any]]:
    """Every placement in fleet.yaml order (fleet.yaml's own first, then hub CRPs)."""
    return [placement_item(p, comp.outcomes[p.name]) for p in comp.fleet.placements]


def status(comp: Compilation) -> dict[str, Any]:
    found = {"placements": placements_section(comp), **comp.section_status()}
    if comp.rollout.placements:
        found["updateRuns"] = rollout.status_section(comp)
    return found


def explain(comp: Compilation, name: str) -> dict[str, Any]:
    placement = next(p for p in comp.fleet.placements if p.name == name)
    item = placement_item(placement, comp.outcomes[name])
    staged = comp.rollout.placements.get(name)
    if staged is not None:
        item["snapshots"] = {
            "newest": staged.newest,
            "clusters": [
                {"cluster": c, "snapshot": staged.clusters.get(c), "reason": r}
                for c, r in staged.reasons.items()
            ],
        }
    return item


# -- text for people ------------------------------------------------------------------------


def _condition_line(item: dict[str, Any]) -> str:
    scheduled = item["scheduled"]
    kind = "ResourcePlacement " if item.get("kind") == "ResourcePlacement" else ""
    return (
        f"{kind}{item['name']} ({item['placementType']}): "
        f"Scheduled={scheduled['status']}, {scheduled['reason']}"
    )


_GO_TAINT = re.compile(r"&\{Key:(\S*) Value:(\S*) Effect:(\S*)\}")


def readable(reason: str) -> str:
    """KubeFleet's reason text for people: Go's ``&{Key:k Value:v Effect:E}`` (which the JSON
    keeps, as the CRP status has it) becomes ``{key: k, value: v, effect: E}``."""

    def taint(match: re.Match[str]) -> str:
        key, value, effect = match.groups()
        shown = f"key: {key}, value: {value}, " if value else f"key: {key}, "
        return "{" + shown + f"effect: {effect}}}"

    return _GO_TAINT.sub(taint, reason)


def _kept_note(decision: dict[str, Any], placement: str) -> str:
    return (
        f"kept from fleet.lock: no longer matches ({readable(decision['keptByLock'])}); "
        f"'fleetc render --reschedule {placement}' would drop it"
    )


def status_text(report: dict[str, Any]) -> str:
    lines = []
    for item in report["placements"]:
        selected = [d["cluster"] for d in item["decisions"] if d["selected"]]
        lines.append(_condition_line(item))
        lines.append(f"  {item['scheduled']['message']}")
        lines.append(f"  selected: {', '.join(selected) if selected else '(none)'}")
        for d in item["decisions"]:
            if d["keptByLock"]:
                lines.append(f"  {d['cluster']}: {_kept_note(d, item['name'])}")
    if not lines:
        lines.append("no placements")
    for service in report.get("services", []):
        exporters = [e["cluster"] for e in service["exporters"]]
        lines.append(f"service {service['service']}: exported from {_names(exporters)}")
        lines.append(f"  consumers: {_names(service['consumers'])}")
        for conflict in service["conflicts"]:
            lines.append(f"  conflict: {conflict['message']}")
    lines += rollout.status_section_text(report.get("updateRuns", []))
    for cluster in report.get("loadBalancers", []):
        for pool in cluster["pools"]:
            addresses = ", ".join(pool["addresses"])
            lines.append(f"pool {cluster['cluster']}/{pool['name']}: {addresses}")
    return printable("\n".join(lines) + "\n")


def _names(names: list[str]) -> str:
    return ", ".join(names) if names else "(none)"


def explain_text(item: dict[str, Any]) -> str:
    lines = [_condition_line(item), f"  {item['scheduled']['message']}", ""]
    width = max((len(d["cluster"]) for d in item["decisions"]), default=0)
    for d in item["decisions"]:
        if d["verdict"] == "filtered":
            detail = f"by {d['filter']}" if d["filter"] else ""
        elif d["keptByLock"]:
            detail = _kept_note(d, item["name"])
        else:
            detail = (
                f"affinity score {d['affinityScore']}, "
                f"topology spread score {d['topologySpreadScore']}"
            )
        lines.append(f"  {d['cluster']:<{width}}  {d['verdict']:<9}  {detail}".rstrip())
        lines.append(f"      {readable(d['reason'])}")
        if d.get("evictedBy"):
            lines.append(f"      evicted by {d['evictedBy']}")
    staged = item.get("snapshots")
    if staged is not None:
        lines += ["", f"staged (strategy External): newest snapshot {staged['newest']}"]
        width = max((len(c["cluster"]) for c in staged["clusters"]), default=0)
        lines += [f"  {c['cluster']:<{width}}  {c['reason']}" for c in staged["clusters"]]
    return printable("\n".join(lines) + "\n")
