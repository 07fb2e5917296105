"""A nine-cluster test fleet for the scheduler, and helpers to render it repeatedly.

| cluster    | region  | env     | nodes | cpu | memory  | notes                    |
|------------|---------|---------|-------|-----|---------|--------------------------|
| cluster-01 | east    | prod    | 3     | 12  | 48Gi    |                          |
| cluster-02 | east    | prod    | 5     | 20  | 80Gi    |                          |
| cluster-03 | east    | staging | 2     | 8   | 32Gi    |                          |
| cluster-04 | west    | prod    | 4     | 16  | 64Gi    |                          |
| cluster-05 | west    | prod    | 6     | 24  | 96Gi    |                          |
| cluster-06 | west    | staging | 1     | 4   | 16Gi    | tainted (maintenance)    |
| cluster-07 | central | prod    | 8     | 32  | 128Gi   | NotReady                 |
| cluster-08 | central | prod    | 7     | 28  | 112Gi   | Leaving                  |
| cluster-09 | -       | staging | -     | 12  | 48000Mi | no region, no node count |
"""

from __future__ import annotations

from typing import Any

import yaml
from conftest import FleetDir
from fleetc.pipeline import Result

CLUSTERS: dict[str, dict[str, Any]] = {
    "cluster-01": {"region": "east", "env": "prod", "nodes": 3, "cpu": 12, "memory": "48Gi"},
    "cluster-02": {"region": "east", "env": "prod", "nodes": 5, "cpu": 20, "memory": "80Gi"},
    "cluster-03": {"region": "east", "env": "staging", "nodes": 2, "cpu": 8, "memory": "32Gi"},
    "cluster-04": {"region": "west", "env": "prod", "nodes": 4, "cpu": 16, "memory": "64Gi"},
    "cluster-05": {"region": "west", "env": "prod", "nodes": 6, "cpu": 24, "memory": "96Gi"},
    "cluster-06": {
        "region": "west",
        "env": "staging",
        "nodes": 1,
        "cpu": 4,
        "memory": "16Gi",
        "taint": "maintenance",
    },
    "cluster-07": {
        "region": "central",
        "env": "prod",
        "nodes": 8,
        "cpu": 32,
        "memory": "128Gi",
        "state": "NotReady",
    },
    "cluster-08": {
        "region": "central",
        "env": "prod",
        "nodes": 7,
        "cpu": 28,
        "memory": "112Gi",
        "state": "Leaving",
    },
    "cluster-09": {"env": "staging", "cpu": 12, "memory": "48000Mi"},
}


def cluster_doc(name: str, info: dict[str, Any]) -> dict[str, Any]:
    labels = {k: info[k] for k in ("region", "env") if k in info}
    doc: dict[str, Any] = {
        "apiVersion": "fleetc.io/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": name, "labels": labels},
    }
    if "taint" in info:
        doc["spec"] = {"taints": [{"key": info["taint"], "value": "yes", "effect": "NoSchedule"}]}
    status: dict[str, Any] = {
        "resourceUsage": {"allocatable": {"cpu": str(info["cpu"]), "memory": info["memory"]}}
    }
    if "nodes" in info:
        status["properties"] = {"kubernetes-fleet.io/node-count": str(info["nodes"])}
    if "state" in info:
        status["state"] = info["state"]
    doc["status"] = status
    return doc


def write_cluster(fleet: FleetDir, name: str, info: dict[str, Any]) -> None:
    fleet.write(f"clusters/{name}.yaml", yaml.safe_dump(cluster_doc(name, info)))


def write_fleet(fleet: FleetDir, *policies: dict[str, Any]) -> None:
    """fleet.yaml with placements app, app2, ... (one per policy) of the namespace 'app'."""
    placements = [
        {
            "name": "app" if i == 0 else f"app{i + 1}",
            "resourceSelectors": [
                {"group": "", "version": "v1", "kind": "Namespace", "name": "app"}
            ],
            "policy": policy,
        }
        for i, policy in enumerate(policies)
    ]
    spec = {"resources": ["hub/"], "inventory": "clusters/", "placements": placements}
    doc = {"apiVersion": "fleetc.io/v1alpha1", "kind": "Fleet", "metadata": {"name": "t"}}
    doc["spec"] = spec
    fleet.write("fleet.yaml", yaml.safe_dump(doc, sort_keys=False))


def nine_cluster_fleet(fleet: FleetDir, *policies: dict[str, Any]) -> FleetDir:
    fleet.write("hub/app.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n")
    for name, info in CLUSTERS.items():
        write_cluster(fleet, name, info)
    write_fleet(fleet, *policies)
    return fleet


def render(fleet: FleetDir, **options: Any) -> Result:
    """Compile and write the new fleet.lock, as 'fleetc render' does."""
    result = fleet.compile(**options)
    assert result.ok, [d.format() for d in result.diagnostics]
    fleet.write_bytes("fleet.lock", result.lock)
    return result


def outcome(result: Result, name: str = "app"):
    assert result.compilation is not None
    return result.compilation.outcomes[name]


def decisions(result: Result, name: str = "app") -> list[tuple[str, str]]:
    """(cluster, reason) per decision, in decision order."""
    return [(d.cluster, d.reason) for d in outcome(result, name).decisions]


def pick_n(n: int, **policy: Any) -> dict[str, Any]:
    return {"placementType": "PickN", "numberOfClusters": n, **policy}


def required(*terms: dict[str, Any]) -> dict[str, Any]:
    return {"clusterAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "clusterSelectorTerms": list(terms)}}}  # fmt: skip


def preferred(*terms: tuple[int, dict[str, Any]]) -> dict[str, Any]:
    items = [{"weight": w, "preference": p} for w, p in terms]
    return {"clusterAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": items}}


def labels(**match: str) -> dict[str, Any]:
    return {"labelSelector": {"matchLabels": match}}
