"""The pipeline's stage boundaries: each stage runs once, and views read recorded decisions."""

from __future__ import annotations

import pytest
from conftest import FleetDir
from fleetc.stages import override, select
from fleetc.views import explain

FLEET = """
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: t
spec:
  placements:
    - name: apps
      resourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: app}
    - name: infra
      resourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: infra}
  overrides:
    - name: drop-on-c2
      kind: ClusterResourceOverride
      clusterResourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: app}
      policy:
        overrideRules:
          - clusterSelector:
              clusterSelectorTerms:
                - labelSelector: {matchLabels: {env: test}}
            overrideType: Delete
"""
HUB = """
apiVersion: v1
kind: Namespace
metadata:
  name: app
---
apiVersion: v1
kind: Namespace
metadata:
  name: infra
"""
TEMPLATE = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: info
  namespace: app
data:
  cluster: {{ cluster.name }}
"""


def _fleet(fleet_dir: FleetDir) -> FleetDir:
    fleet_dir.write("fleet.yaml", FLEET)
    fleet_dir.write("hub/ns.yaml", HUB)
    fleet_dir.write("hub/info.yaml.j2", TEMPLATE)
    fleet_dir.cluster("c1", {"env": "prod"})
    fleet_dir.cluster("c2", {"env": "test"})
    return fleet_dir


def test_templates_expand_before_selection_so_each_placement_is_selected_once(
    fleet_dir: FleetDir, monkeypatch: pytest.MonkeyPatch
):
    calls: list[str] = []
    real = select.select

    def counting(fleet, placement, diags):
        calls.append(placement.name)
        return real(fleet, placement, diags)

    monkeypatch.setattr(select, "select", counting)
    result = _fleet(fleet_dir).compile()
    assert result.ok, [d.format() for d in result.diagnostics]
    assert sorted(calls) == ["apps", "infra"]
    # The template's object is selected with its namespace and rendered per cluster.
    info = result.compilation.clusters["c1"]
    rendered = next(o for k, o in info.items() if k.name == "info")
    assert rendered.body["data"] == {"cluster": "c1"}


def test_explain_reads_the_recorded_override_decisions(
    fleet_dir: FleetDir, monkeypatch: pytest.MonkeyPatch
):
    result = _fleet(fleet_dir).compile()
    comp = result.compilation
    deleted = {(c, str(k)) for (c, k) in comp.overridden.deleted}
    assert deleted == {("c2", "Namespace/app"), ("c2", "ConfigMap/app/info")}

    def no_replay(*args, **kwargs):
        raise AssertionError("explain must not re-run the override stage")

    monkeypatch.setattr(override, "collect", no_replay)
    monkeypatch.setattr(override, "override", no_replay)
    key = next(k for k in comp.clusters["c1"] if k.name == "app")
    message = explain.trace(comp, "c2", key)
    assert message == (
        "Namespace/app is not rendered on cluster 'c2': ClusterResourceOverride 'drop-on-c2' "
        "rule 0 (fleet.yaml:14:7) deletes it there"
    )
