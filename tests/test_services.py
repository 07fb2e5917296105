"""Multi-cluster Services: exports, imports, load balancers, conflict rules and status."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import crdschema
import pytest
from fake_sections import run_first
from fleetc.core.model import ObjectKey

SERVICE_KEY = ObjectKey("", "Service", "web", "api")

HUB = """
apiVersion: v1
kind: Namespace
metadata:
  name: web
  labels:
    team: web
---
apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: web
spec:
  selector:
    app: api
  ports:
    - name: http
      port: 80
      targetPort: 8080
"""

CRP = """
apiVersion: placement.kubernetes-fleet.io/v1
kind: ClusterResourcePlacement
metadata:
  name: web
spec:
  resourceSelectors:
    - group: ""
      version: v1
      kind: Namespace
      name: web
  policy:
    affinity:
      clusterAffinity:
        requiredDuringSchedulingIgnoredDuringExecution:
          clusterSelectorTerms:
            - labelSelector:
                matchLabels:
                  role: provider
"""


def make_fleet(fleet_dir, services_yaml: str, *, hub: str = HUB, clusters=None) -> None:
    """Providers p1, p2 (role=provider: web is placed there) and consumers c1, c2."""
    fleet_dir.write(
        "fleet.yaml",
        "apiVersion: fleetc.io/v1alpha1\nkind: Fleet\nmetadata:\n  name: t\nspec:\n"
        "  services:\n" + _indent(services_yaml, 4),
    )
    fleet_dir.write("hub/web.yaml", hub)
    fleet_dir.write("hub/crp.yaml", CRP)
    for name, (role, spec) in (
        clusters
        or {
            "p1": ("provider", ""),
            "p2": ("provider", ""),
            "c1": ("consumer", ""),
            "c2": ("consumer", ""),
        }
    ).items():
        fleet_dir.cluster(name, {"role": role}, spec=spec)


def _indent(text: str, by: int) -> str:
    import textwrap

    return textwrap.indent(textwrap.dedent(text).strip("\n"), " " * by) + "\n"


def with_service_overrides(monkeypatch, patches: dict[str, dict[str, Any]]) -> None:
    """Stand-in for the override stage: replace the Service's spec on some clusters before
    the sections run (services must read the clusters' objects, which are post-override)."""

    def override(given, out):
        for cluster, spec in patches.items():
            rendered = given.clusters[cluster][SERVICE_KEY]
            body = copy.deepcopy(rendered.body)
            body["spec"] = spec
            # A new object: clusters share placed objects, which no stage changes in place.
            given.clusters[cluster][SERVICE_KEY] = dataclasses.replace(rendered, body=body)

    run_first(monkeypatch, override)


def messages(result, severity: str = "error") -> list[str]:
    """The section's own diagnostics; lints (coded warnings) have tests of their own."""
    return [d.message for d in result.diagnostics if d.severity.value == severity and not d.code]


def rendered(result, cluster: str) -> dict[ObjectKey, dict[str, Any]]:
    return {k: o.body for k, o in result.compilation.clusters[cluster].items()}


SVC_EXPORT = ObjectKey("multicluster.x-k8s.io", "ServiceExport", "web", "api")
SVC_IMPORT = ObjectKey("multicluster.x-k8s.io", "ServiceImport", "web", "api")
AZ_EXPORT = ObjectKey("networking.fleet.azure.com", "ServiceExport", "web", "api")
AZ_MCS = ObjectKey("networking.fleet.azure.com", "MultiClusterService", "web", "api")
NAMESPACE = ObjectKey("", "Namespace", "", "web")

BASIC = """
items:
  - service: web/api
    consumers:
      clusterNames: [c1]
"""


# -- exports, imports, namespaces ----------------------------------------------------------


def test_exports_where_placed_and_imports_on_consumers(memory_fleet):
    make_fleet(memory_fleet, BASIC)
    result = memory_fleet.compile()
    assert result.ok, messages(result)
    for cluster in ("p1", "p2"):
        assert rendered(result, cluster)[SVC_EXPORT] == {
            "apiVersion": "multicluster.x-k8s.io/v1alpha1",
            "kind": "ServiceExport",
            "metadata": {"name": "api", "namespace": "web"},
        }
    c1 = rendered(result, "c1")
    assert SVC_EXPORT not in c1
    assert c1[SVC_IMPORT]["spec"] == {
        "type": "ClusterSetIP",
        "ports": [{"name": "http", "protocol": "TCP", "port": 80}],
        "sessionAffinity": "None",
    }
    # Namespace sameness: the hub's Namespace (labels included) on the consumer.
    assert c1[NAMESPACE]["metadata"]["labels"] == {"team": "web"}
    assert rendered(result, "c2") == {}
    assert messages(result, "warning") == []


def test_consumers_by_selector_and_namespace_not_duplicated(memory_fleet):
    make_fleet(
        memory_fleet,
        """
        items:
          - service: web/api
            consumers:
              clusterSelectorTerms:
                - labelSelector:
                    matchLabels: {role: consumer}
                - labelSelector:
                    matchExpressions: [{key: role, operator: In, values: [provider]}]
        """,
    )
    result = memory_fleet.compile()
    assert result.ok, messages(result)
    for cluster in ("c1", "c2", "p1", "p2"):
        assert SVC_IMPORT in rendered(result, cluster)
    # p1 already had the namespace from its placement: it keeps that one.
    assert result.compilation.clusters["p1"][NAMESPACE].placements == ("web",)


def test_mcs_api_version_v1beta1_and_controller_imports(memory_fleet):
    make_fleet(
        memory_fleet,
        """
        mcsAPIVersion: v1beta1
        serviceImports: controller
        items:
          - service: web/api
            consumers: {clusterNames: [c1]}
        """,
    )
    result = memory_fleet.compile()
    assert result.ok, messages(result)
    assert rendered(result, "p1")[SVC_EXPORT]["apiVersion"] == "multicluster.x-k8s.io/v1beta1"
    c1 = rendered(result, "c1")
    assert NAMESPACE in c1 and SVC_IMPORT not in c1


def test_per_cluster_import_mode_overrides_the_default(memory_fleet):
    make_fleet(
        memory_fleet,
        "serviceImports: controller\nitems:\n  - service: web/api\n"
        "    consumers: {clusterNames: [c1, c2]}\n",
        clusters={
            "p1": ("provider", ""),
            "c1": ("consumer", "spec:\n  multicluster:\n    serviceImports: rendered\n"),
            "c2": ("consumer", ""),
        },
    )
    result = memory_fleet.compile()
    assert result.ok, messages(result)
    assert SVC_IMPORT in rendered(result, "c1")
    assert SVC_IMPORT not in rendered(result, "c2")


def test_headless_import_and_session_affinity(fleet_dir, monkeypatch):
    make_fleet(fleet_dir, BASIC)
    headless = {"clusterIP": "None", "ports": [{"name": "db", "port": 5432}]}
    with_service_overrides(monkeypatch, {"p1": headless, "p2": headless})
    result = fleet_dir.compile()
    assert result.ok, messages(result)
    assert rendered(result, "c1")[SVC_IMPORT]["spec"] == {
        "type": "Headless",
        "ports": [{"name": "db", "protocol": "TCP", "port": 5432}],
    }


def test_session_affinity_config_is_imported(fleet_dir, monkeypatch):
    make_fleet(fleet_dir, BASIC)
    spec = {
        "sessionAffinity": "ClientIP",
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
        "ports": [{"port": 53, "protocol": "UDP", "appProtocol": "dns", "nodePort": 30053}],
    }
    with_service_overrides(monkeypatch, {"p1": spec, "p2": spec})
    result = fleet_dir.compile()
    assert result.ok, messages(result)
    assert rendered(result, "c1")[SVC_IMPORT]["spec"] == {
        "type": "ClusterSetIP",
        "ports": [{"protocol": "UDP", "appProtocol": "dns", "port": 53}],
        "sessionAffinity": "ClientIP",
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
    }


def test_generators_read_the_post_override_service(fleet_dir, monkeypatch):
    make_fleet(fleet_dir, BASIC)
    spec = {"ports": [{"name": "grpc", "port": 9090}]}
    with_service_overrides(monkeypatch, {"p1": spec, "p2": spec})
    result = fleet_dir.compile()
    ports = rendered(result, "c1")[SVC_IMPORT]["spec"]["ports"]
    assert ports == [{"name": "grpc", "protocol": "TCP", "port": 9090}]


# -- KEP-1645 rules ------------------------------------------------------------------------


def test_port_union_is_merged_with_a_warning(fleet_dir, monkeypatch):
    make_fleet(fleet_dir, BASIC)
    with_service_overrides(
        monkeypatch,
        {"p2": {"ports": [{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}]}},
    )
    result = fleet_dir.compile()
    assert result.ok, messages(result)
    assert rendered(result, "c1")[SVC_IMPORT]["spec"]["ports"] == [
        {"name": "http", "protocol": "TCP", "port": 80},
        {"name": "metrics", "protocol": "TCP", "port": 9090},
    ]
    assert messages(result, "warning") == [
        "Service web/api: port 'metrics' (TCP/9090) is not exposed on cluster(s) p1; "
        "the ports are merged as a union"
    ]


@pytest.mark.parametrize(
    ("p2_ports", "expected"),
    [
        (
            [{"name": "http", "port": 81}],
            "Service web/api: port 'http' is TCP/80 on cluster 'p1' but TCP/81 on cluster 'p2' "
            "[PortConflict]",
        ),
        (
            [{"name": "http", "port": 80, "protocol": "UDP"}],
            "Service web/api: port 'http' is TCP/80 on cluster 'p1' but UDP/80 on cluster 'p2' "
            "[PortConflict]",
        ),
        (
            [{"name": "http", "port": 80, "appProtocol": "h2c"}],
            "Service web/api: port 'http' is TCP/80 on cluster 'p1' but TCP/80 appProtocol h2c "
            "on cluster 'p2' [PortConflict]",
        ),
        (
            [{"name": "web", "port": 80}],
            "Service web/api: the name of TCP/80 is 'http' on cluster 'p1' but 'web' on "
            "cluster 'p2' [PortConflict]",
        ),
    ],
    ids=["port-number", "protocol", "app-protocol", "protocol-port-reused"],
)
def test_port_conflicts_are_errors_naming_both_clusters(fleet_dir, monkeypatch, p2_ports, expected):
    make_fleet(fleet_dir, BASIC)
    with_service_overrides(monkeypatch, {"p2": {"ports": p2_ports}})
    result = fleet_dir.compile()
    assert not result.ok
    assert messages(result) == [expected]
    error = result.diagnostics.errors[0]
    assert error.position.file == "fleet.yaml" and error.position.line == 8
    assert error.path == "spec.services.items[0].service"
    assert result.files == {}


def test_empty_port_name_counts_as_a_name(fleet_dir, monkeypatch):
    make_fleet(fleet_dir, BASIC)
    with_service_overrides(
        monkeypatch, {"p1": {"ports": [{"port": 80}]}, "p2": {"ports": [{"port": 81}]}}
    )
    result = fleet_dir.compile()
    assert messages(result) == [
        "Service web/api: the unnamed port is TCP/80 on cluster 'p1' but TCP/81 on cluster "
        "'p2' [PortConflict]"
    ]


def test_type_conflict_clusterip_vs_headless(fleet_dir, monkeypatch):
    make_fleet(fleet_dir, BASIC)
    with_service_overrides(
        monkeypatch, {"p2": {"clusterIP": "None", "ports": [{"name": "http", "port": 80}]}}
    )
    result = fleet_dir.compile()
    assert messages(result) == [
        "Service web/api: type is ClusterSetIP on cluster 'p1' but Headless on cluster 'p2' "
        "[TypeConflict]"
    ]


def test_session_affinity_conflicts(fleet_dir, monkeypatch):
    make_fleet(fleet_dir, BASIC)
    ports = [{"name": "http", "port": 80}]
    with_service_overrides(monkeypatch, {"p2": {"sessionAffinity": "ClientIP", "ports": ports}})
    result = fleet_dir.compile()
    assert messages(result) == [
        "Service web/api: sessionAffinity is None on cluster 'p1' but ClientIP on cluster "
        "'p2' [SessionAffinityConflict]"
    ]


@pytest.mark.parametrize(
    ("p1", "p2", "expected"),
    [
        (
            {},
            {"internalTrafficPolicy": "Local"},
            "internalTrafficPolicy is Cluster on cluster 'p1' but Local on cluster 'p2' "
            "[InternalTrafficPolicyConflict]",
        ),
        (
            {"trafficDistribution": "PreferClose"},
            {},
            "trafficDistribution is PreferClose on cluster 'p1' but (unset) on cluster 'p2' "
            "[TrafficDistributionConflict]",
        ),
        (
            {"ipFamilies": ["IPv4"]},
            {"ipFamilies": ["IPv6"]},
            "ipFamilies is IPv4 on cluster 'p1' but IPv6 on cluster 'p2' [IPFamilyConflict]",
        ),
    ],
    ids=["internal-traffic-policy", "traffic-distribution", "ip-families"],
)
def test_kep_traffic_conflicts(fleet_dir, monkeypatch, p1, p2, expected):
    make_fleet(fleet_dir, BASIC)
    ports = [{"name": "http", "port": 80}]
    with_service_overrides(
        monkeypatch, {"p1": {**p1, "ports": ports}, "p2": {**p2, "ports": ports}}
    )
    result = fleet_dir.compile()
    assert messages(result) == [f"Service web/api: {expected}"]


def test_kep_traffic_fields_are_imported_from_the_winner(fleet_dir, monkeypatch):
    make_fleet(fleet_dir, BASIC)
    spec = {
        "ports": [{"name": "http", "port": 80}],
        "internalTrafficPolicy": "Local",
        "trafficDistribution": "PreferClose",
        "ipFamilies": ["IPv4"],
    }
    with_service_overrides(monkeypatch, {"p1": spec, "p2": spec})
    result = fleet_dir.compile()
    assert result.ok, messages(result)
    imported = rendered(result, "c1")[SVC_IMPORT]["spec"]
    assert imported["internalTrafficPolicy"] == "Local"
    assert imported["trafficDistribution"] == "PreferClose"
    assert imported["ipFamilies"] == ["IPv4"]


def test_session_affinity_config_conflict(fleet_dir, monkeypatch):
    make_fleet(fleet_dir, BASIC)
    ports = [{"name": "http", "port": 80}]
    with_service_overrides(
        monkeypatch,
        {
            "p1": {"sessionAffinity": "ClientIP", "ports": ports},
            "p2": {
                "sessionAffinity": "ClientIP",
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 30}},
                "ports": ports,
            },
        },
    )
    result = fleet_dir.compile()
    assert messages(result) == [
        "Service web/api: sessionAffinityConfig.clientIP.timeoutSeconds is 10800 on cluster "
        "'p1' but 30 on cluster 'p2' [SessionAffinityConfigConflict]"
    ]


def test_external_name_cannot_be_exported(fleet_dir, monkeypatch):
    make_fleet(fleet_dir, BASIC)
    external = {"type": "ExternalName", "externalName": "db.example.com"}
    with_service_overrides(monkeypatch, {"p1": external, "p2": external})
    result = fleet_dir.compile()
    assert messages(result) == [
        "Service web/api is type ExternalName on cluster(s) p1, p2 and cannot be exported",
        "cluster(s) c1 would import Service web/api, which no cluster exports",
    ]


def test_merge_opt_in_reports_the_winner_and_renders(fleet_dir, monkeypatch):
    make_fleet(
        fleet_dir,
        BASIC + "    conflictResolution: merge\n",
    )
    with_service_overrides(monkeypatch, {"p1": {"ports": [{"name": "http", "port": 8080}]}})
    result = fleet_dir.compile()
    assert result.ok, messages(result)
    assert messages(result, "warning") == [
        "Service web/api: port 'http' is TCP/8080 on cluster 'p1' but TCP/80 on cluster 'p2' "
        "[PortConflict]; merged: cluster 'p1''s definition wins"
    ]
    assert rendered(result, "c1")[SVC_IMPORT]["spec"]["ports"] == [
        {"name": "http", "protocol": "TCP", "port": 8080}
    ]


# -- entries, consumers, warnings ----------------------------------------------------------


def test_service_not_in_hub_is_an_error_with_a_hint(memory_fleet):
    make_fleet(memory_fleet, "items:\n  - service: web/apj\n")
    result = memory_fleet.compile()
    assert messages(result) == ["Service web/apj is not among the hub manifests"]
    assert result.diagnostics.errors[0].hint == "did you mean 'web/api'?"


def test_service_placed_nowhere_is_an_error(memory_fleet):
    make_fleet(
        memory_fleet,
        BASIC,
        clusters={"c1": ("consumer", "")},
    )
    result = memory_fleet.compile()
    assert "no placement puts Service web/api on any cluster" in messages(result)


def test_unreadable_service_is_reported_at_the_hub_manifest(memory_fleet):
    make_fleet(memory_fleet, BASIC, hub=HUB.replace("port: 80", "port: http"))
    result = memory_fleet.compile()
    assert messages(result) == [
        f"Service web/api on cluster {c!r} spec.ports[0].port is not a port number (1-65535)"
        for c in ("p1", "p2")
    ]
    assert {str(d.position) for d in result.diagnostics.errors} == {"hub/web.yaml:13:1"}


def test_consumers_of_an_unexported_service_are_an_error(memory_fleet):
    make_fleet(memory_fleet, BASIC + "    export: false\n")
    result = memory_fleet.compile()
    assert messages(result) == [
        "cluster(s) c1 would import Service web/api, which no cluster exports"
    ]


def test_export_without_consumers_is_a_warning(memory_fleet):
    make_fleet(memory_fleet, "items:\n  - service: web/api\n")
    result = memory_fleet.compile()
    assert result.ok
    assert messages(result, "warning") == ["Service web/api is exported but has no consumers"]
    assert SVC_EXPORT in rendered(result, "p1")


def test_unknown_consumer_cluster(memory_fleet):
    make_fleet(memory_fleet, "items:\n  - service: web/api\n    consumers: {clusterNames: [c3]}\n")
    result = memory_fleet.compile()
    assert messages(result) == ["cluster 'c3' is not in the inventory"]
    assert result.diagnostics.errors[0].path == "spec.services.items[0].consumers.clusterNames[0]"


def test_duplicate_entry_is_an_error(memory_fleet):
    make_fleet(memory_fleet, BASIC + "  - service: web/api\n")
    result = memory_fleet.compile()
    assert messages(result) == [
        "Service web/api is listed twice in spec.services.items (first at fleet.yaml:8:9)"
    ]


def test_hand_written_export_collides(memory_fleet):
    hub = HUB + (
        "---\napiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\n"
        "metadata:\n  name: api\n  namespace: web\n"
    )
    make_fleet(memory_fleet, BASIC, hub=hub)
    result = memory_fleet.compile()
    assert messages(result) == [
        f"ServiceExport.multicluster.x-k8s.io/web/api on cluster {c!r} is already rendered "
        "from hub/web.yaml; fleetc generates it for Service web/api"
        for c in ("p1", "p2")
    ]


def test_schema_rejects_unknown_fields_and_bad_service_refs(memory_fleet):
    make_fleet(memory_fleet, "items:\n  - service: api\n    exports: true\n")
    result = memory_fleet.compile()
    assert any("unknown field 'exports'" in m for m in messages(result))
    assert any('"api" does not match' in m for m in messages(result))


# -- Azure fleet-networking ----------------------------------------------------------------

AZURE = """
api: azure-fleet
items:
  - service: web/api
    loadBalancer:
      clusterNames: [c1]
"""


def test_azure_exports_and_multicluster_service(memory_fleet):
    make_fleet(memory_fleet, AZURE + "      internal: true\n")
    result = memory_fleet.compile()
    assert result.ok, messages(result)
    assert rendered(result, "p1")[AZ_EXPORT]["apiVersion"] == "networking.fleet.azure.com/v1alpha1"
    c1 = rendered(result, "c1")
    assert c1[AZ_MCS] == {
        "apiVersion": "networking.fleet.azure.com/v1alpha1",
        "kind": "MultiClusterService",
        "metadata": {
            "name": "api",
            "namespace": "web",
            "annotations": {"networking.fleet.azure.com/azure-load-balancer-internal": "true"},
        },
        "spec": {"serviceImport": {"name": "api"}},
    }
    assert NAMESPACE in c1
    assert not any(k.kind == "ServiceImport" for k in c1)  # the MCS controller creates it


def test_azure_public_load_balancer_has_no_annotation(memory_fleet):
    make_fleet(memory_fleet, AZURE)
    result = memory_fleet.compile()
    assert "annotations" not in rendered(result, "c1")[AZ_MCS]["metadata"]


@pytest.mark.parametrize(
    ("p2_ports", "detail"),
    [
        (
            [{"name": "metrics", "port": 9090}, {"name": "http", "port": 80, "targetPort": 8080}],
            "[http TCP/80 -> 8080, metrics TCP/9090 -> 9090] on cluster 'p1' but "
            "[metrics TCP/9090 -> 9090, http TCP/80 -> 8080] on cluster 'p2'",
        ),
        (
            [{"name": "http", "port": 80, "targetPort": 8081}, {"name": "metrics", "port": 9090}],
            "[http TCP/80 -> 8080, metrics TCP/9090 -> 9090] on cluster 'p1' but "
            "[http TCP/80 -> 8081, metrics TCP/9090 -> 9090] on cluster 'p2'",
        ),
    ],
    ids=["order", "target-port"],
)
def test_azure_port_lists_must_match_exactly(fleet_dir, monkeypatch, p2_ports, detail):
    make_fleet(fleet_dir, AZURE)
    p1 = [{"name": "http", "port": 80, "targetPort": 8080}, {"name": "metrics", "port": 9090}]
    with_service_overrides(monkeypatch, {"p1": {"ports": p1}, "p2": {"ports": p2_ports}})
    result = fleet_dir.compile()
    assert messages(result) == [
        f"Service web/api: the port list (compared whole, in order) is {detail} [PortConflict]"
    ]


def test_azure_app_protocol_mismatch(fleet_dir, monkeypatch):
    make_fleet(fleet_dir, AZURE)
    with_service_overrides(
        monkeypatch, {"p2": {"ports": [{"name": "http", "port": 80, "appProtocol": "http"}]}}
    )
    result = fleet_dir.compile()
    # fleet-networking's whole-list comparison only: KEP-1645's merge does not run on azure-fleet.
    assert messages(result) == [
        "Service web/api: the port list (compared whole, in order) is [http TCP/80 -> 8080] on "
        "cluster 'p1' but [http TCP/80 appProtocol http -> 80] on cluster 'p2' [PortConflict]"
    ]


def test_azure_ignores_session_affinity_and_traffic_fields(fleet_dir, monkeypatch):
    make_fleet(fleet_dir, AZURE)
    ports = [{"name": "http", "port": 80, "targetPort": 8080}]
    different = {
        "ports": ports,
        "sessionAffinity": "ClientIP",
        "internalTrafficPolicy": "Local",
        "trafficDistribution": "PreferClose",
    }
    with_service_overrides(monkeypatch, {"p2": different})
    result = fleet_dir.compile()
    assert result.ok, messages(result)
    assert [s["conflicts"] for s in result.compilation.section_status()["services"]] == [[]]


def test_azure_headless_is_not_exportable(fleet_dir, monkeypatch):
    make_fleet(fleet_dir, AZURE)
    headless = {"clusterIP": "None", "ports": [{"name": "http", "port": 80}]}
    with_service_overrides(monkeypatch, {"p1": headless, "p2": headless})
    result = fleet_dir.compile()
    assert messages(result) == [
        "Service web/api is headless on azure-fleet cluster(s) p1, p2; "
        "networking.fleet.azure.com cannot export headless Services"
    ]


def test_azure_name_must_be_under_64_characters(memory_fleet):
    name = "a" * 64
    hub = HUB.replace("name: api", f"name: {name}")
    make_fleet(memory_fleet, AZURE.replace("web/api", f"web/{name}"), hub=hub)
    result = memory_fleet.compile()
    assert messages(result) == [
        f"Service name {name!r} has 64 characters; a networking.fleet.azure.com "
        "ServiceExport name must be under 64"
    ]


def test_load_balancer_needs_azure_fleet(memory_fleet):
    make_fleet(memory_fleet, AZURE.replace("api: azure-fleet", "api: mcs-api"))
    result = memory_fleet.compile()
    assert messages(result) == [
        "loadBalancer needs Azure fleet-networking, but cluster 'c1' runs mcs-api"
    ]


def test_azure_consumer_without_load_balancer_is_warned(memory_fleet):
    make_fleet(memory_fleet, "api: azure-fleet\n" + BASIC)
    result = memory_fleet.compile()
    assert result.ok
    assert messages(result, "warning") == [
        "consumer 'c1' runs azure-fleet, which has no clusterset address: it reaches Service "
        "web/api only through a MultiClusterService"
    ]


def test_per_cluster_api_overrides_the_fleet_default(memory_fleet):
    make_fleet(
        memory_fleet,
        BASIC,
        clusters={
            "p1": ("provider", "spec:\n  multicluster:\n    api: azure-fleet\n"),
            "p2": ("provider", ""),
            "c1": ("consumer", ""),
        },
    )
    result = memory_fleet.compile()
    assert result.ok, messages(result)
    assert AZ_EXPORT in rendered(result, "p1") and SVC_EXPORT not in rendered(result, "p1")
    assert SVC_EXPORT in rendered(result, "p2")


# -- status --------------------------------------------------------------------------------


def test_services_status(fleet_dir, monkeypatch):
    make_fleet(fleet_dir, BASIC + "    conflictResolution: merge\n")
    with_service_overrides(
        monkeypatch,
        {"p2": {"ports": [{"name": "http", "port": 81}, {"name": "m", "port": 9090}]}},
    )
    result = fleet_dir.compile()
    assert result.compilation.section_status()["services"] == [
        {
            "service": "web/api",
            "export": True,
            "conflictResolution": "merge",
            "exporters": [
                {"cluster": "p1", "api": "mcs-api"},
                {"cluster": "p2", "api": "mcs-api"},
            ],
            "consumers": ["c1"],
            "loadBalancers": [],
            "type": "ClusterSetIP",
            "ports": [
                {"name": "http", "protocol": "TCP", "port": 80},
                {"name": "m", "protocol": "TCP", "port": 9090},
            ],
            "winner": "p1",
            "conflicts": [
                {
                    "reason": "PortConflict",
                    "field": "port 'http'",
                    "clusters": ["p1", "p2"],
                    "winner": "p1",
                    "message": "port 'http' is TCP/80 on cluster 'p1' but TCP/81 on cluster "
                    "'p2' [PortConflict]",
                },
                # The union's warning is a conflict too (KEP-1645: any difference).
                {
                    "reason": "PortConflict",
                    "field": "port 'm'",
                    "clusters": ["p2", "p1"],
                    "winner": "p1",
                    "message": "Service web/api: port 'm' (TCP/9090) is not exposed on "
                    "cluster(s) p1; the ports are merged as a union",
                },
            ],
        }
    ]
    # Every conflict a warning reported is in the status.
    warned = messages(result, "warning")
    listed = [c["message"] for c in result.compilation.section_status()["services"][0]["conflicts"]]
    assert all(any(c in w for c in listed) for w in warned if "Service web/api" in w)


# -- CRD validation ------------------------------------------------------------------------


def test_every_generated_object_validates_against_the_crds(fleet_dir, monkeypatch):
    make_fleet(
        fleet_dir,
        """
        mcsAPIVersion: v1beta1
        items:
          - service: web/api
            consumers: {clusterNames: [c1, c2]}
        """,
    )
    spec = {
        "sessionAffinity": "ClientIP",
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
        "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "appProtocol": "dns"}],
    }
    with_service_overrides(monkeypatch, {"p1": spec, "p2": spec})
    result = fleet_dir.compile()
    checked = [
        o.body
        for objs in result.compilation.clusters.values()
        for o in objs.values()
        if crdschema.has_crd(o.body)
    ]
    assert {(b["kind"], b["apiVersion"]) for b in checked} == {
        ("ServiceExport", "multicluster.x-k8s.io/v1beta1"),
        ("ServiceImport", "multicluster.x-k8s.io/v1beta1"),
    }
    for body in checked:
        assert crdschema.errors(body) == [], body


def test_crd_helper_rejects_invalid_objects():
    bad = {
        "apiVersion": "multicluster.x-k8s.io/v1alpha1",
        "kind": "ServiceImport",
        "metadata": {"name": "x"},
        "spec": {"ports": [{"port": "80"}]},
    }
    assert sorted(crdschema.errors(bad)) == [
        "spec.ports.0.port: '80' is not of type 'integer'",
        "spec: 'type' is a required property",
    ]
    mcs = {
        "apiVersion": "networking.fleet.azure.com/v1beta1",
        "kind": "MultiClusterService",
        "metadata": {"name": "x"},
    }
    with pytest.raises(ValueError, match="no version v1beta1"):
        crdschema.errors(mcs)
    assert crdschema.served_versions("networking.fleet.azure.com", "ServiceExport") == [
        "v1alpha1",
        "v1beta1",
    ]


def test_hand_written_mcs_with_the_cloud_provider_annotation_is_warned(fleet_dir):
    make_fleet(fleet_dir, BASIC)
    fleet_dir.write(
        "hub/mcs.yaml",
        """
        apiVersion: networking.fleet.azure.com/v1alpha1
        kind: MultiClusterService
        metadata:
          name: api
          namespace: web
          annotations:
            service.beta.kubernetes.io/azure-load-balancer-internal: "true"
        spec:
          serviceImport: {name: api}
        """,
    )
    result = fleet_dir.compile()
    [warning] = [d for d in result.diagnostics.warnings if "MultiClusterService" in d.message]
    assert "load balancer stays public" in warning.message
    assert 'networking.fleet.azure.com/azure-load-balancer-internal: "true"' in warning.hint
    assert str(warning.position) == "hub/mcs.yaml:7:5"
