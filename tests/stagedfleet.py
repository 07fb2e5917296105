"""A ten-cluster fleet with one staged (External) placement, for the staged-rollout tests.

| cluster      | region     | ring     | rollout-order | stage  |
|--------------|------------|----------|---------------|--------|
| canary-1     | westeurope | canary   |               | canary |
| eastus-1..4  | eastus     | regional | 3, 1, 4, 2    | eastus |
| westeurope-* | westeurope | broad    |               | rest   |
| westus-1..2  | westus     | broad    |               | rest   |

Stages: canary (TimedWait 1h after), eastus (sorted by rollout-order, two at a time), rest
(all at once, after a before-stage Approval). The placement starts as RollingUpdate and is
switched to External, so every cluster runs snapshot 0.
"""

from __future__ import annotations

from conftest import FleetDir, run

CLUSTERS = {
    "canary-1": {"region": "westeurope", "ring": "canary"},
    "eastus-1": {"region": "eastus", "ring": "regional", "rollout-order": "3"},
    "eastus-2": {"region": "eastus", "ring": "regional", "rollout-order": "1"},
    "eastus-3": {"region": "eastus", "ring": "regional", "rollout-order": "4"},
    "eastus-4": {"region": "eastus", "ring": "regional", "rollout-order": "2"},
    "westeurope-1": {"region": "westeurope", "ring": "broad"},
    "westeurope-2": {"region": "westeurope", "ring": "broad"},
    "westeurope-3": {"region": "westeurope", "ring": "broad"},
    "westus-1": {"region": "westus", "ring": "broad"},
    "westus-2": {"region": "westus", "ring": "broad"},
}
REST = ["westeurope-1", "westeurope-2", "westeurope-3", "westus-1", "westus-2"]

FLEET = """
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: staged
spec:
  placements:
    - name: platform
      resourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: platform}
    - name: web
      resourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: web}
      policy:
        placementType: PickAll
      strategy:
        type: STRATEGY
"""

HUB = """
apiVersion: v1
kind: Namespace
metadata:
  name: platform
---
apiVersion: v1
kind: Namespace
metadata:
  name: web
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: ghcr.io/example/web:IMAGE
---
apiVersion: placement.kubernetes-fleet.io/v1
kind: ResourceOverride
metadata:
  name: web-replicas
  namespace: web
spec:
  resourceSelectors:
    - {group: apps, version: v1, kind: Deployment, name: web}
  policy:
    overrideRules:
      - clusterSelector:
          clusterSelectorTerms:
            - labelSelector:
                matchLabels: {region: eastus}
        jsonPatchOverrides:
          - {op: replace, path: /spec/replicas, value: REPLICAS}
"""

STRATEGY = """
apiVersion: placement.kubernetes-fleet.io/v1
kind: ClusterStagedUpdateStrategy
metadata:
  name: web-stages
spec:
  stages:
    - name: canary
      labelSelector:
        matchLabels: {ring: canary}
      afterStageTasks:
        - type: TimedWait
          waitTime: 1h
    - name: eastus
      labelSelector:
        matchLabels: {region: eastus}
      sortingLabelKey: rollout-order
      maxConcurrency: 2
    - name: rest
      labelSelector:
        matchExpressions:
          - {key: ring, operator: In, values: [broad]}
      maxConcurrency: 100%
      beforeStageTasks:
        - type: Approval
"""

RUN = """
apiVersion: placement.kubernetes-fleet.io/v1
kind: ClusterStagedUpdateRun
metadata:
  name: NAME
spec:
  placementName: web
  stagedRolloutStrategyName: web-stages
  state: STATE
"""


def write_hub(fleet: FleetDir, image: str = "1.4.0", replicas: int = 4) -> None:
    fleet.write("hub/apps.yaml", HUB.replace("IMAGE", image).replace("REPLICAS", str(replicas)))


def write_run(fleet: FleetDir, name: str = "web-v2", state: str = "Run") -> None:
    fleet.write(f"hub/rollout/{name}.yaml", RUN.replace("NAME", name).replace("STATE", state))


def build(fleet: FleetDir, cli) -> None:
    """The fleet with web rolled out under RollingUpdate, then switched to External: every
    cluster runs snapshot 0."""
    for name, labels in CLUSTERS.items():
        fleet.cluster(name, labels)
    write_hub(fleet)
    fleet.write("hub/rollout/strategy.yaml", STRATEGY)
    fleet.write("fleet.yaml", FLEET.replace("STRATEGY", "RollingUpdate"))
    render(cli, fleet)
    fleet.write("fleet.yaml", FLEET.replace("STRATEGY", "External"))
    render(cli, fleet)


def render(cli, fleet: FleetDir):
    result = run(cli, "render", "-f", str(fleet.root))
    assert result.exit_code == 0, result.output
    return result


def fleetc(cli, fleet: FleetDir, *args: str, code: int = 0):
    result = run(cli, *args, "-f", str(fleet.root))
    assert result.exit_code == code, result.output
    return result


def image_on(fleet: FleetDir, cluster: str) -> str:
    text = (fleet.root / "rendered" / cluster / "web" / "deployment.apps_web.yaml").read_text()
    return text.split("image: ghcr.io/example/web:")[1].split()[0]


def images(fleet: FleetDir) -> dict[str, str]:
    return {name: image_on(fleet, name) for name in CLUSTERS}
