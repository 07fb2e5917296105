"""A small fleet to attack: one namespace placed on every cluster (shared by the security tests)."""

from __future__ import annotations

import json

from conftest import FleetDir

FLEET = """\
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: attack
spec:
  resources:
{resources}
  inventory: {inventory}
  output: {output}
  placements:
    - name: app
      resourceSelectors:
        - group: ""
          version: v1
          kind: Namespace
          name: app
      policy:
        placementType: PickAll
"""

NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: app
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: app
data:
  colour: blue
"""


def write_fleet(
    fleet: FleetDir,
    *,
    resources: tuple[str, ...] = ("hub/",),
    inventory: str = "clusters/",
    output: str = "rendered/",
    clusters: tuple[str, ...] = ("c1",),
    hub: str = NAMESPACE,
) -> None:
    """fleet.yaml, one Cluster file per name, and hub/app.yaml (in a FleetDir or a
    FleetBuilder)."""
    # JSON strings are YAML double-quoted strings: any character, a NUL included, is written.
    listed = "\n".join(f"    - {json.dumps(r)}" for r in resources)
    fleet.write(
        "fleet.yaml",
        FLEET.format(resources=listed, inventory=json.dumps(inventory), output=json.dumps(output)),
    )
    for name in clusters:
        fleet.cluster(name)
    fleet.write("hub/app.yaml", hub)


def messages(result) -> list[str]:
    return [d.format() for d in result.diagnostics.errors]
