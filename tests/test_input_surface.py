"""No silent acceptance: every field and kind fleetc accepts has an effect or a diagnostic.

Three walks:

- every KubeFleet kind fleetc recognises (the control kinds and the envelopes) is added to a
  small fleet in a sensible form, and must change the compiled result (objects, decisions,
  fleet.lock) or the diagnostics;
- every property of every JSON schema in ``schemas/`` must be read by name somewhere in the
  compiler, or be listed below with the diagnostic that covers it;
- every scalar setting of a placement spec (the fields a CRP/RP spec shares) must change the
  compiled result or the diagnostics when set to a non-default value.

A new kind or field fails here until it has an effect, or a diagnostic that says it has none.
"""

from __future__ import annotations

import ast
import json
import textwrap
from typing import Any

import pytest
import yaml
from conftest import REPO
from fleetc.core import kube
from fleetc.stages.envelopes import ENVELOPE_KINDS

SCHEMAS = REPO / "schemas"
COMPILER = REPO / "compiler"
API = "placement.kubernetes-fleet.io/v1beta1"

FLEET = """
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: surface
spec:
  placements:
    - name: apps
      resourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: app}
        - {group: rbac.authorization.k8s.io, version: v1, kind: ClusterRole, name: reader}
        - {group: placement.kubernetes-fleet.io, version: v1beta1, kind: ClusterResourceEnvelope,
           name: wrapped}
"""

HUB = """
apiVersion: v1
kind: Namespace
metadata: {name: app}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: app}
data: {colour: blue}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules: []
"""


def _fleet(fleet_dir, extra: str = "", *, lock: bool = False):
    """Compile the small fleet plus ``extra`` hub documents; with ``lock``, first render the
    fleet without them and keep its fleet.lock (evictions act on remembered bindings)."""
    fleet_dir.write("fleet.yaml", FLEET)
    fleet_dir.write("hub/app.yaml", HUB)
    fleet_dir.cluster("c1")
    (fleet_dir.root / "hub/extra.yaml").unlink(missing_ok=True)
    if lock:
        first = fleet_dir.compile()
        assert first.ok, [d.format() for d in first.diagnostics]
        (fleet_dir.root / "fleet.lock").write_bytes(first.lock)
    if extra:
        fleet_dir.write("hub/extra.yaml", extra)
    return fleet_dir.compile()


def _fingerprint(result) -> tuple:
    """What a reviewer sees: diagnostics, decisions, fleet.lock and every rendered object."""
    comp = result.compilation
    decisions = (
        {name: (o.selected, o.condition.reason) for name, o in comp.outcomes.items()}
        if comp
        else None
    )
    objects = (
        {
            cluster: {str(k): json.dumps(o.body, sort_keys=True) for k, o in placed.items()}
            for cluster, placed in comp.clusters.items()
        }
        if comp
        else None
    )
    lock = json.dumps(comp.lock.sections, sort_keys=True, default=str) if comp else None
    return (sorted(d.format() for d in result.diagnostics), decisions, objects, lock)


def _doc(kind: str, name: str, spec: dict[str, Any] | None = None, namespace: str = "") -> str:
    meta = f"{{name: {name}" + (f", namespace: {namespace}" if namespace else "") + "}"
    body = f"apiVersion: {API}\nkind: {kind}\nmetadata: {meta}\n"
    if spec is not None:
        body += "spec:\n" + textwrap.indent(yaml.safe_dump(spec, sort_keys=False), "  ")
    return body


CONFIGMAP_SELECTOR = {"group": "", "version": "v1", "kind": "ConfigMap", "name": "settings"}
PATCH_RULE = {
    "clusterSelector": {"clusterSelectorTerms": []},
    "jsonPatchOverrides": [{"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}],
}
EVICTION = _doc(
    "ClusterResourcePlacementEviction", "e", {"placementName": "apps", "clusterName": "c1"}
)

# kind -> (base hub documents, documents with the kind added, render a lock first)
KIND_PROBES: dict[str, tuple[str, str, bool]] = {
    "ClusterResourcePlacement": (
        "",
        _doc(
            "ClusterResourcePlacement",
            "more",
            {
                "resourceSelectors": [
                    {"group": "", "version": "v1", "kind": "Namespace", "name": "app"}
                ]
            },
        ),
        False,
    ),
    "ResourcePlacement": (
        "",
        _doc("ResourcePlacement", "cm", {"resourceSelectors": [CONFIGMAP_SELECTOR]}, "app"),
        False,
    ),
    "ClusterResourceOverride": (
        "",
        _doc(
            "ClusterResourceOverride",
            "o",
            {
                "clusterResourceSelectors": [
                    {
                        "group": "rbac.authorization.k8s.io",
                        "version": "v1",
                        "kind": "ClusterRole",
                        "name": "reader",
                    }
                ],
                "policy": {"overrideRules": [PATCH_RULE]},
            },
        ),
        False,
    ),
    "ResourceOverride": (
        "",
        _doc(
            "ResourceOverride",
            "o",
            {"resourceSelectors": [CONFIGMAP_SELECTOR], "policy": {"overrideRules": [PATCH_RULE]}},
            "app",
        ),
        False,
    ),
    "ClusterResourcePlacementEviction": ("", EVICTION, True),
    "ClusterResourcePlacementDisruptionBudget": (
        EVICTION,
        EVICTION
        + "---\n"
        + _doc("ClusterResourcePlacementDisruptionBudget", "apps", {"minAvailable": 1}),
        True,
    ),
    "ClusterResourceEnvelope": (
        "",
        "apiVersion: placement.kubernetes-fleet.io/v1beta1\nkind: ClusterResourceEnvelope\n"
        "metadata: {name: wrapped}\ndata:\n  role.yaml:\n    apiVersion: rbac.authorization.k8s.io/v1\n"
        "    kind: ClusterRole\n    metadata: {name: wrapped-role}\n    rules: []\n",
        False,
    ),
    "ResourceEnvelope": (
        "",
        "apiVersion: placement.kubernetes-fleet.io/v1beta1\nkind: ResourceEnvelope\n"
        "metadata: {name: wrapped, namespace: app}\ndata:\n  cm.yaml:\n    apiVersion: v1\n"
        "    kind: ConfigMap\n    metadata: {name: inner}\n",
        False,
    ),
}
for _kind in kube.CONTROLLER_KINDS:
    # KubeFleet's own records: a warning says fleetc ignores them.
    KIND_PROBES[_kind] = ("", _doc(_kind, "copied", {}), False)

# Staged rollouts: an unused strategy is a warning, a run naming no placement an error, and the
# namespaced kinds and approval requests are ignored with a warning.
KIND_PROBES["ClusterStagedUpdateStrategy"] = (
    "",
    _doc("ClusterStagedUpdateStrategy", "s", {"stages": [{"name": "all", "labelSelector": {}}]}),
    False,
)
KIND_PROBES["ClusterStagedUpdateRun"] = (
    "",
    _doc(
        "ClusterStagedUpdateRun",
        "r",
        {"placementName": "nope", "stagedRolloutStrategyName": "s", "state": "Initialize"},
    ),
    False,
)
for _kind in ("StagedUpdateRun", "StagedUpdateStrategy", "ApprovalRequest"):
    KIND_PROBES[_kind] = ("", _doc(_kind, "x", {}, namespace="app"), False)
KIND_PROBES["ClusterApprovalRequest"] = ("", _doc("ClusterApprovalRequest", "x", {}), False)
RECOGNISED = sorted(kube.CONTROL_KINDS | set(ENVELOPE_KINDS))


def test_every_recognised_kind_has_a_probe():
    assert set(KIND_PROBES) == set(RECOGNISED)


@pytest.mark.parametrize("kind", RECOGNISED)
def test_every_recognised_kind_has_an_effect_or_a_diagnostic(fleet_dir, kind):
    base, variant, lock = KIND_PROBES[kind]
    before = _fingerprint(_fleet(fleet_dir, base, lock=lock))
    after = _fingerprint(_fleet(fleet_dir, variant, lock=lock))
    assert before != after, f"a {kind} in hub/ changes nothing and says nothing"


# -- schema properties ----------------------------------------------------------------------


def _properties(node: Any, path: str, out: list[tuple[str, str]]) -> None:
    if not isinstance(node, dict):
        return
    for name, child in (node.get("properties") or {}).items():
        out.append((f"{path}/properties/{name}", name))
        _properties(child, f"{path}/properties/{name}", out)
    for name, child in (node.get("$defs") or {}).items():
        _properties(child, f"{path}/$defs/{name}", out)
    for key in ("items", "additionalProperties", "unevaluatedProperties"):
        _properties(node.get(key), f"{path}/{key}", out)
    for key in ("oneOf", "anyOf", "allOf"):
        for index, child in enumerate(node.get(key) or []):
            _properties(child, f"{path}/{key}/{index}", out)


def schema_properties() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        found: list[tuple[str, str]] = []
        _properties(json.loads(path.read_text()), "", found)
        out += [(f"{path.name}#{pointer}", name) for pointer, name in found]
    return out


def compiler_strings() -> set[str]:
    strings: set[str] = set()
    for path in COMPILER.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.add(node.value)
    return strings


# Properties the compiler never reads by name, with the diagnostic that covers them and the
# test that shows it.
COVERED_BY_AN_ANCESTOR = {
    "placement.schema.json#/$defs/strategy/properties/rollingUpdate/properties/maxSurge": (
        "the strategy.rollingUpdate warning",
        "tests/test_strategy.py::test_settings_flux_cannot_honour_are_warnings_naming_the_field",
    ),
    "placement.schema.json#/$defs/strategy/properties/rollingUpdate/properties/"
    "unavailablePeriodSeconds": (
        "the strategy.rollingUpdate warning",
        "tests/test_strategy.py::test_settings_flux_cannot_honour_are_warnings_naming_the_field",
    ),
}


def _test_exists(reference: str) -> bool:
    file, _, name = reference.partition("::")
    tree = ast.parse((REPO / file).read_text())
    return any(isinstance(n, ast.FunctionDef) and n.name == name for n in tree.body)


def test_every_schema_property_is_read_or_covered():
    strings = compiler_strings()
    unread = [
        pointer
        for pointer, name in schema_properties()
        if name not in strings and pointer not in COVERED_BY_AN_ANCESTOR
    ]
    assert unread == [], "accepted by a schema but read nowhere: give each an effect or a warning"
    for pointer, (_why, test) in COVERED_BY_AN_ANCESTOR.items():
        assert any(pointer == p for p, _ in schema_properties()), f"stale entry {pointer}"
        assert _test_exists(test), test


# -- placement settings ---------------------------------------------------------------------

# Every scalar setting of a placement spec (reached through mappings only) -> a value that is not
# KubeFleet's default. Set on the fleet's placement, it must change the result or diagnostics.
PLACEMENT_SETTINGS: dict[str, Any] = {
    "policy.placementType": "PickN",
    "policy.numberOfClusters": 1,
    "strategy.type": "External",
    "strategy.rollingUpdate.maxUnavailable": 2,
    "strategy.rollingUpdate.maxSurge": 2,
    "strategy.rollingUpdate.unavailablePeriodSeconds": 5,
    "strategy.applyStrategy.type": "ServerSideApply",
    "strategy.applyStrategy.comparisonOption": "FullComparison",
    "strategy.applyStrategy.whenToApply": "IfNotDrifted",
    "strategy.applyStrategy.whenToTakeOver": "Never",
    "strategy.applyStrategy.allowCoOwnership": False,
    "strategy.applyStrategy.serverSideApplyConfig.force": False,
    "strategy.deleteStrategy.propagationPolicy": "Abandon",
    "strategy.reportBackStrategy.type": "Mirror",
    "strategy.reportBackStrategy.destination": "WorkAPI",
    "revisionHistoryLimit": 3,
    "statusReportingScope": "NamespaceAccessible",
}


def _scalar_settings(schema: dict[str, Any], node: dict[str, Any], prefix: str) -> list[str]:
    if "$ref" in node:
        ref = node["$ref"]
        if ref.startswith("#/$defs/"):
            node = schema["$defs"][ref.removeprefix("#/$defs/")]
        else:
            return [prefix]  # another schema's shape (a selector, a quantity): one value
    if node.get("type") == "object" and "properties" in node:
        out = []
        for name, child in node["properties"].items():
            out += _scalar_settings(schema, child, f"{prefix}.{name}" if prefix else name)
        return out
    if node.get("type") == "array":
        return []  # lists of terms are exercised by the scheduler and selection tests
    return [prefix]


def placement_settings() -> list[str]:
    schema = json.loads((SCHEMAS / "placement.schema.json").read_text())
    spec = schema["$defs"]["placementSpec"]
    found = _scalar_settings(schema, spec, "")
    # Mappings of terms (affinity) are exercised by the scheduler tests.
    return sorted(s for s in found if not s.startswith("policy.affinity"))


def test_every_placement_setting_has_a_probe():
    assert set(placement_settings()) == set(PLACEMENT_SETTINGS)


def _spec(setting: str, value: Any) -> dict[str, Any]:
    """The placement fields that set ``setting`` to ``value`` (plus what makes it legal)."""
    spec: dict[str, Any] = {}
    node = spec
    *parents, leaf = setting.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    if setting == "policy.numberOfClusters":
        spec["policy"]["placementType"] = "PickN"
    if setting == "strategy.applyStrategy.serverSideApplyConfig.force":
        spec["strategy"]["applyStrategy"]["type"] = "ServerSideApply"
    if setting == "strategy.reportBackStrategy.destination":
        spec["strategy"]["reportBackStrategy"]["type"] = "Mirror"
    return spec


# What the probe compares against, when not the setting's absence.
BASELINES: dict[str, dict[str, Any]] = {
    "policy.numberOfClusters": _spec("policy.numberOfClusters", 0),
    # Mirror without a destination is an error: the destination must matter.
    "strategy.reportBackStrategy.destination": {
        "strategy": {"reportBackStrategy": {"type": "Mirror"}}
    },
}


@pytest.mark.parametrize("setting", sorted(PLACEMENT_SETTINGS))
def test_every_placement_setting_has_an_effect_or_a_diagnostic(fleet_dir, setting):
    def compiled(spec: dict[str, Any]):
        fleet = yaml.safe_load(FLEET)
        fleet["spec"]["placements"][0].update(spec)
        _fleet(fleet_dir)
        fleet_dir.write("fleet.yaml", yaml.safe_dump(fleet))
        return _fingerprint(fleet_dir.compile())

    before = compiled(BASELINES.get(setting, {}))
    after = compiled(_spec(setting, PLACEMENT_SETTINGS[setting]))
    assert before != after, f"placement {setting} changes nothing and says nothing"
