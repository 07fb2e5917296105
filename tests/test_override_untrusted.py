"""Overrides come from pull requests: whatever a patch leaves behind is a diagnostic at the
override's rule, never a traceback in a later stage."""

from __future__ import annotations

import pytest
from conftest import FleetDir
from security_fleet import messages, write_fleet


def override_settings(fleet_dir: FleetDir, patch: str):
    """The attack fleet with one ResourceOverride applying ``patch`` to ConfigMap app/settings."""
    write_fleet(fleet_dir)
    text = fleet_dir.read("fleet.yaml")
    text += (
        "  overrides:\n"
        "    - name: odd\n"
        "      kind: ResourceOverride\n"
        "      namespace: app\n"
        "      resourceSelectors:\n"
        "        - {group: '', version: v1, kind: ConfigMap, name: settings}\n"
        "      policy:\n"
        "        overrideRules:\n"
        "          - clusterSelector: {clusterSelectorTerms: []}\n"
        f"            jsonPatchOverrides: [{patch}]\n"
    )
    fleet_dir.write_bytes("fleet.yaml", text.encode())
    return fleet_dir.compile()


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ("{op: add, path: /metadata/annotations, value: x}", "annotations"),
        ("{op: add, path: /metadata/annotations, value: [1]}", "annotations"),
        ("{op: add, path: /metadata/labels, value: {a: {b: 1}}}", "labels"),
        ("{op: add, path: /metadata/labels, value: {tier: 3}}", "labels"),
    ],
)
def test_a_patch_that_breaks_labels_or_annotations_is_an_error_at_the_rule(
    memory_fleet, patch: str, field: str
):
    result = override_settings(memory_fleet, patch)
    errors = messages(result)
    assert len(errors) == 1, errors
    assert errors[0].startswith("fleet.yaml:") and "rule 0 on cluster 'c1'" in errors[0]
    assert f"metadata.{field} that does not map strings to strings" in errors[0]
    assert not result.files


def test_a_patch_that_keeps_string_maps_is_applied(memory_fleet):
    result = override_settings(
        memory_fleet, "{op: add, path: /metadata/annotations, value: {a: b}}"
    )
    assert result.ok, messages(result)
    assert "    a: b\n" in result.files["c1/app/configmap_settings.yaml"].decode()


def test_rules_do_not_copy_the_object_once_each(memory_fleet, monkeypatch):
    """Twenty rules on a large object used to cost twenty deep copies per cluster (jsonpatch
    copies before each apply): one private copy per object and cluster is enough."""
    import copy

    copies = {"top": 0, "depth": 0}
    real = copy.deepcopy

    def counting(value, memo=None, _nil=None):
        copies["top"] += copies["depth"] == 0 and isinstance(value, dict) and "kind" in value
        copies["depth"] += 1
        try:
            return real(value, memo)
        finally:
            copies["depth"] -= 1

    patches = ", ".join(f"{{op: add, path: /metadata/labels/l{i}, value: v}}" for i in range(3))
    write_fleet(memory_fleet, clusters=("c1", "c2"))
    text = memory_fleet.read("fleet.yaml")
    rule = f"          - clusterSelector: {{clusterSelectorTerms: []}}\n" \
           f"            jsonPatchOverrides: [{patches}]\n"  # fmt: skip
    text += (
        "  overrides:\n    - name: many\n      kind: ResourceOverride\n      namespace: app\n"
        "      resourceSelectors: [{group: '', version: v1, kind: ConfigMap, name: settings}]\n"
        "      policy:\n        overrideRules:\n" + rule * 20
    )
    text = text.replace(
        "{op: add, path: /metadata/labels/l0",
        "{op: add, path: /metadata/labels, value: {}}, {op: add, path: /metadata/labels/l0",
        1,
    )
    memory_fleet.write_bytes("fleet.yaml", text.encode())
    monkeypatch.setattr(copy, "deepcopy", counting)
    result = memory_fleet.compile()
    assert result.ok, messages(result)
    assert copies["top"] <= 2 * 2, copies  # at most a couple per cluster, not one per rule
