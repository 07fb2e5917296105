"""Generate a synthetic fleet of a given size, deterministically from a seed.

Clusters spread over regions, environments and sites; apps of a Namespace, a Deployment, a
Service and a ConfigMap; a mix of PickAll, PickFixed and PickN placements (preferred affinity,
topology spread), per-region overrides, a few templates, exported services and MetalLB load
balancers. About 50 objects are rendered per cluster.

    python benchmarks/fleetgen.py OUT_DIR --clusters 1000 [--seed 7]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

REGIONS = ["eastus", "westus", "northeurope", "westeurope", "southeastasia"]
ENVS = ["prod", "staging", "dev"]
PICK_ALL_APPS = 12
PICK_N_APPS = 4
PICK_FIXED_APPS = 2


SITES_PER_REGION = 4


def site_of(index: int) -> tuple[str, int]:
    """A cluster's site name and number; each site owns 10.<number>.0.0/16."""
    region = index % len(REGIONS)
    number = region * SITES_PER_REGION + (index // len(REGIONS)) % SITES_PER_REGION
    return f"{REGIONS[region]}-site{number % SITES_PER_REGION}", number


def cluster_doc(index: int, rng: random.Random) -> str:
    region = REGIONS[index % len(REGIONS)]
    env = ENVS[(index // len(REGIONS)) % len(ENVS)]
    site, number = site_of(index)
    nodes = rng.randint(2, 40)
    return (
        "apiVersion: fleetc.io/v1alpha1\n"
        "kind: Cluster\n"
        "metadata:\n"
        f"  name: c{index:05d}\n"
        "  labels:\n"
        f"    region: {region}\n"
        f"    env: {env}\n"
        f"    site: {site}\n"
        "spec:\n"
        "  kubernetesVersion: v1.31.2\n"
        "  metallb:\n"
        f"    site: {site}\n"
        f'    addressRanges: ["10.{number}.0.0/16"]\n'
        f"    reserved: [10.{number}.0.0-10.{number}.0.255]\n"
        "status:\n"
        "  properties:\n"
        f'    kubernetes-fleet.io/node-count: "{nodes}"\n'
        "  resourceUsage:\n"
        "    allocatable:\n"
        f'      cpu: "{nodes * 4}"\n'
        f"      memory: {nodes * 16}Gi\n"
    )


def app_docs(name: str, replicas: int) -> str:
    return f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {name}
  labels:
    app: {name}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {name}
  labels:
    app: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
        - name: {name}
          image: registry.example.com/{name}:1.0.0
          ports:
            - containerPort: 8080
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {name}
spec:
  selector:
    app: {name}
  ports:
    - name: http
      port: 80
      targetPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-config
  namespace: {name}
data:
  LOG_LEVEL: info
  FEATURE_FLAGS: "a,b,c"
"""


def region_override(name: str) -> str:
    """A ResourceOverride with one rule per region: replicas and a region label."""
    rules = "".join(
        "      - clusterSelector:\n"
        "          clusterSelectorTerms:\n"
        f"            - labelSelector: {{matchLabels: {{region: {region}}}}}\n"
        "        jsonPatchOverrides:\n"
        f"          - {{op: replace, path: /spec/replicas, value: {index + 2}}}\n"
        "          - {op: add, path: /metadata/labels/region, value: '${MEMBER-CLUSTER-LABEL-KEY-region}'}\n"
        for index, region in enumerate(REGIONS)
    )
    return (
        "apiVersion: placement.kubernetes-fleet.io/v1beta1\n"
        "kind: ResourceOverride\n"
        f"metadata:\n  name: {name}-per-region\n  namespace: {name}\n"
        "spec:\n"
        f"  resourceSelectors:\n    - {{group: apps, version: v1, kind: Deployment, name: {name}}}\n"
        f"  policy:\n    overrideRules:\n{rules}"
    )


TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-info
  namespace: {namespace}
data:
  cluster: {{{{ cluster.name }}}}
  region: {{{{ cluster.labels.region }}}}
  nodes: "{{{{ cluster.properties["kubernetes-fleet.io/node-count"] }}}}"
"""


def namespace_selector(name: str) -> str:
    return f'        - {{group: "", version: v1, kind: Namespace, name: {name}}}\n'


def placements(clusters: int, rng: random.Random) -> str:
    out = []
    for i in range(PICK_ALL_APPS):
        env = ENVS[i % 2]  # prod and staging apps, and every third app everywhere
        out.append(
            f"    - name: app{i:02d}\n      resourceSelectors:\n{namespace_selector(f'app{i:02d}')}"
            "      policy:\n        placementType: PickAll\n"
            "        affinity:\n          clusterAffinity:\n"
            "            requiredDuringSchedulingIgnoredDuringExecution:\n"
            "              clusterSelectorTerms:\n"
            f"                - labelSelector: {{matchExpressions: [{{key: env, operator: In, values: [{', '.join(ENVS) if i % 3 == 0 else env + ', dev'}]}}]}}\n"
        )
    for i in range(PICK_N_APPS):
        name = f"pickn{i:02d}"
        count = min(25, clusters)  # PickN picks a few clusters, however large the fleet
        out.append(
            f"    - name: {name}\n      resourceSelectors:\n{namespace_selector(name)}"
            f"      policy:\n        placementType: PickN\n        numberOfClusters: {count}\n"
            "        affinity:\n          clusterAffinity:\n"
            "            preferredDuringSchedulingIgnoredDuringExecution:\n"
            "              - weight: 40\n                preference:\n"
            "                  labelSelector: {matchLabels: {env: prod}}\n"
            "              - weight: 60\n                preference:\n"
            "                  propertySorter: {name: kubernetes-fleet.io/node-count, sortOrder: Descending}\n"
            "        topologySpreadConstraints:\n"
            "          - {maxSkew: 1, topologyKey: region, whenUnsatisfiable: ScheduleAnyway}\n"
        )
    for i in range(PICK_FIXED_APPS):
        name = f"fixed{i:02d}"
        names = sorted(f"c{rng.randrange(clusters):05d}" for _ in range(5))
        out.append(
            f"    - name: {name}\n      resourceSelectors:\n{namespace_selector(name)}"
            f"      policy:\n        placementType: PickFixed\n        clusterNames: [{', '.join(sorted(set(names)))}]\n"
        )
    return "".join(out)


# app00 and app01 are exported, and consumed by the dev clusters.
SERVICES = "  services:\n    items:\n" + "".join(
    f"      - service: app{i:02d}/app{i:02d}\n"
    "        consumers:\n"
    "          clusterSelectorTerms:\n"
    "            - labelSelector: {matchLabels: {env: dev}}\n"
    for i in range(2)
)

# An ingress /30 per production cluster from its site's range, and ten BGP addresses for apps.
LOAD_BALANCERS = """\
  loadBalancers:
    # MetalLB itself is installed outside the synthetic fleet (nothing renders its Kustomization).
    installProvided: true
    items:
      - name: ingress
        clusters:
          clusterSelector:
            clusterSelectorTerms:
              - labelSelector: {matchLabels: {env: prod}}
        allocate: {prefixLength: 30}
        advertise: ARP
"""


def generate(out: Path, clusters: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    (out / "clusters").mkdir(parents=True, exist_ok=True)
    (out / "hub").mkdir(parents=True, exist_ok=True)
    for index in range(clusters):
        (out / "clusters" / f"c{index:05d}.yaml").write_text(cluster_doc(index, rng))
    apps = (
        [f"app{i:02d}" for i in range(PICK_ALL_APPS)]
        + [f"pickn{i:02d}" for i in range(PICK_N_APPS)]
        + [f"fixed{i:02d}" for i in range(PICK_FIXED_APPS)]
    )
    for app in apps:
        (out / "hub" / f"{app}.yaml").write_text(app_docs(app, rng.randint(1, 5)))
    for app in apps[:PICK_ALL_APPS]:
        (out / "hub" / f"{app}-overrides.yaml").write_text(region_override(app))
    for app in apps[:3]:
        (out / "hub" / f"{app}-info.yaml.j2").write_text(TEMPLATE.format(namespace=app))
    fleet = (
        "apiVersion: fleetc.io/v1alpha1\nkind: Fleet\nmetadata:\n  name: synthetic\nspec:\n"
        + SERVICES
        + LOAD_BALANCERS
        + "  placements:\n"
        + placements(clusters, rng)
    )
    (out / "fleet.yaml").write_text(fleet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    generate(args.out, args.clusters, args.seed)


if __name__ == "__main__":
    main()
