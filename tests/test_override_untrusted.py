"""Overrides come from pull requests: whatever a patch leaves behind is a diagnostic at the
override's rule, never a traceback in a later stage."""

from __future__ import annotations

import pytest
from conftest import FleetDir
from security_fleet import messages, write_fleet


def override_settings(fleet_dir: FleetDir, patch: str):
    """The attack fleet with one ResourceOverride applying ``patch`` to ConfigMap app/settings."""
    write_fleet(fleet_dir)
    text = (fleet_dir.root / "fleet.yaml").read_text()
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
    (fleet_dir.root / "fleet.yaml").write_text(text)
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
    fleet_dir: FleetDir, patch: str, field: str
):
    result = override_settings(fleet_dir, patch)
    errors = messages(result)
    assert len(errors) == 1, errors
    assert errors[0].startswith("fleet.yaml:") and "rule 0 on cluster 'c1'" in errors[0]
    assert f"metadata.{field} that does not map strings to strings" in errors[0]
    assert not result.files


def test_a_patch_that_keeps_string_maps_is_applied(fleet_dir: FleetDir):
    result = override_settings(fleet_dir, "{op: add, path: /metadata/annotations, value: {a: b}}")
    assert result.ok, messages(result)
    assert "    a: b\n" in result.files["c1/app/configmap_settings.yaml"].decode()
