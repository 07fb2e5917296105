"""Resource selection, as KubeFleet's resolver does it."""

from __future__ import annotations

import pytest

HUB = """
apiVersion: v1
kind: Namespace
metadata: {name: app, labels: {team: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: tools, labels: {team: b}}
---
apiVersion: v1
kind: Namespace
metadata: {name: kube-extra, labels: {team: a}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: app}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: kube-root-ca.crt, namespace: app}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: app}
---
apiVersion: v1
kind: Secret
metadata: {name: token, namespace: app}
type: kubernetes.io/service-account-token
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: app}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: web, namespace: app}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: viewer, labels: {team: a}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: editor, labels: {team: b}}
"""


def fleet_with(fleet_dir, selectors: str):
    header = "apiVersion: fleetc.io/v1alpha1\nkind: Fleet\nmetadata:\n  name: demo\nspec:\n"
    placements = "  placements:\n    - name: p\n      resourceSelectors:\n"
    fleet_dir.write("fleet.yaml", header + placements + selectors + "\n")
    fleet_dir.write("hub/all.yaml", HUB)
    fleet_dir.cluster("c1")
    return fleet_dir.compile()


def selected(result) -> list[str]:
    return [str(obj.key) for obj in result.compilation.selections["p"]]


def test_namespace_with_resources_skips_default_exclusions(memory_fleet):
    result = fleet_with(
        memory_fleet, '        - {group: "", version: v1, kind: Namespace, name: app}'
    )
    assert selected(result) == ["ConfigMap/app/settings", "Namespace/app", "Service/app/web"]


def test_namespace_only(memory_fleet):
    result = fleet_with(
        memory_fleet,
        '        - {group: "", version: v1, kind: Namespace, name: app, selectionScope: NamespaceOnly}',
    )
    assert selected(result) == ["Namespace/app"]


def test_label_selector_and_select_all_skip_reserved_namespaces(memory_fleet):
    result = fleet_with(
        memory_fleet,
        '        - {group: "", version: v1, kind: Namespace, labelSelector: {matchLabels: {team: a}}, selectionScope: NamespaceOnly}\n'
        "        - {group: rbac.authorization.k8s.io, version: v1, kind: ClusterRole}",
    )
    assert selected(result) == [
        "Namespace/app",
        "ClusterRole.rbac.authorization.k8s.io/editor",
        "ClusterRole.rbac.authorization.k8s.io/viewer",
    ]


def test_namespace_with_resource_selectors_picks_namespaced_kinds_inside(memory_fleet):
    result = fleet_with(
        memory_fleet,
        '        - {group: "", version: v1, kind: Namespace, name: app, selectionScope: NamespaceWithResourceSelectors}\n'
        '        - {group: "", version: v1, kind: Service}',
    )
    assert selected(result) == ["Namespace/app", "Service/app/web"]


@pytest.mark.parametrize(
    ("selectors", "message"),
    [
        (
            '        - {group: "", version: v1, kind: Namespace, name: kube-extra}',
            "namespace 'kube-extra' is reserved",
        ),
        (
            '        - {group: "", version: v1, kind: ConfigMap, name: settings}',
            "ConfigMap is namespaced",
        ),
        (
            '        - {group: "", version: v1, kind: Namespace, name: app}\n'
            '        - {group: "", version: v1, kind: Namespace, labelSelector: {matchLabels: {team: a}}}',
            "selects Namespace/app more than once",
        ),
        (
            '        - {group: "", version: v1, kind: Namespace, name: app, labelSelector: {}}',
            "takes name or labelSelector, not both",
        ),
        (
            "        - {group: rbac.authorization.k8s.io, version: v1, kind: ClusterRole, name: viewer, selectionScope: NamespaceOnly}",
            "applies only to Namespace selectors",
        ),
    ],
)
def test_selector_errors(memory_fleet, selectors, message):
    result = fleet_with(memory_fleet, selectors)
    assert any(message in d.message for d in result.diagnostics.errors), [
        d.message for d in result.diagnostics
    ]


def test_a_selector_matching_nothing_is_a_warning(memory_fleet):
    result = fleet_with(
        memory_fleet, '        - {group: "", version: v1, kind: Namespace, name: missing}'
    )
    assert result.ok
    # Lints (coded warnings) have tests of their own.
    assert [d.message for d in result.diagnostics.warnings if not d.code] == [
        "resource selector of placement 'p' matches no hub object"
    ]
