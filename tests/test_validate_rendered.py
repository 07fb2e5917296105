"""fleetc validate --rendered: real Kubernetes schemas per cluster version, and CRDs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import REPO, SHARED_CRDS, FleetDir, needs_crds, run
from fleetc.shell import validate_rendered
from widget_crd import widget_crd

EXAMPLES = sorted(p for p in (REPO / "examples").glob("*") if (p / "fleet.yaml").is_file())


def _validate(cli, root: Path, *crds: Path):
    args = ["validate", "--rendered", "-f", str(root)]
    for folder in crds:
        args += ["--crds", str(folder)]
    return run(cli, *args)


@needs_crds
@pytest.mark.parametrize("root", [REPO, *EXAMPLES], ids=lambda p: p.name)
def test_every_example_passes(cli, root):
    result = _validate(cli, root, SHARED_CRDS)
    assert result.exit_code == 0, result.output
    assert "checked" in result.output


@pytest.fixture
def copy(tmp_path) -> FleetDir:
    """A copy of the repository's example fleet with its committed output."""
    for name in ("fleet.yaml", "fleet.lock"):
        shutil.copy(REPO / name, tmp_path / name)
    for name in ("clusters", "hub", "rendered"):
        shutil.copytree(REPO / name, tmp_path / name)
    return FleetDir(tmp_path)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@needs_crds
def test_rejects_a_wrong_field_type(cli, copy):
    deployment = copy.root / "rendered/aks-member-1/kuard-demo/deployment.apps_kuard.yaml"
    _edit(deployment, "replicas: 3", "replicas: three")
    result = _validate(cli, copy.root, SHARED_CRDS)
    assert result.exit_code == 1
    assert (
        "rendered/aks-member-1/kuard-demo/deployment.apps_kuard.yaml:14:3: error: "
        "aks-member-1: Deployment (apps/v1): spec.replicas: 'three' is not of type 'integer'"
    ) in result.output
    assert "(Kubernetes 1.31 schema)" in result.output


@needs_crds
def test_rejects_an_unknown_field(cli, copy):
    service = copy.root / "rendered/aks-member-2/kuard-demo/service_kuard.yaml"
    _edit(service, "  selector:", "  selectr:")
    result = _validate(cli, copy.root)
    assert result.exit_code == 1
    assert "'selectr' was unexpected" in result.output


@needs_crds
def test_rejects_a_kind_no_crd_serves(cli, copy):
    copy.write(
        "rendered/aks-member-3/platform/widget.example.com_w.yaml",
        """
        apiVersion: example.com/v1
        kind: Widget
        metadata:
          name: w
          namespace: platform
        """,
    )
    result = _validate(cli, copy.root, SHARED_CRDS)
    assert result.exit_code == 1
    assert (
        "rendered/aks-member-3/platform/widget.example.com_w.yaml:1:1: error: "
        "CRD not installed on aks-member-3: no CustomResourceDefinition serves "
        "example.com/v1 Widget"
    ) in result.output


@needs_crds
def test_rejects_an_api_version_removed_for_the_cluster(cli, copy):
    copy.write(
        "rendered/aks-member-1/platform/pdb.yaml",
        """
        apiVersion: policy/v1beta1
        kind: PodDisruptionBudget
        metadata:
          name: kuard
          namespace: platform
        spec:
          minAvailable: 1
        """,
    )
    result = _validate(cli, copy.root, SHARED_CRDS)
    assert result.exit_code == 1
    assert (
        "aks-member-1: policy/v1beta1 PodDisruptionBudget is not served by Kubernetes 1.31 "
        "(served: policy/v1)"
    ) in result.output


@needs_crds
def test_custom_resources_are_checked_against_their_crd(cli, copy):
    pool = """
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata:
          name: pool
          namespace: metallb-system
        spec:
          addresses: 10.0.0.0/28
          autoAssign: true
        """
    copy.write("rendered/aks-member-1/metallb-system/pool.yaml", pool)
    without = _validate(cli, copy.root)
    assert "CRD not installed on aks-member-1" in without.output
    result = _validate(cli, copy.root, SHARED_CRDS)
    assert result.exit_code == 1
    assert "IPAddressPool (metallb.io/v1beta1): spec.addresses: '10.0.0.0/28' is not of type" in (
        result.output
    )
    assert "(CRD ipaddresspools.metallb.io schema)" in result.output
    _edit(
        copy.root / "rendered/aks-member-1/metallb-system/pool.yaml", "10.0.0.0/28", "[10.0.0.0/28]"
    )
    assert _validate(cli, copy.root, SHARED_CRDS).exit_code == 0


@needs_crds
def test_crd_in_the_clusters_output_counts_as_installed(cli, copy):
    crd = (SHARED_CRDS / "metallb/metallb.io_communities.yaml").read_text()
    community = (
        "apiVersion: metallb.io/v1beta1\nkind: Community\nmetadata:\n  name: c\n"
        "  namespace: metallb-system\nspec:\n  communities: []\n"
    )
    copy.write("rendered/aks-member-1/_cluster/crd.yaml", crd)
    copy.write("rendered/aks-member-1/metallb-system/community.yaml", community)
    copy.write("rendered/aks-member-2/metallb-system/community.yaml", community)
    result = _validate(cli, copy.root)
    assert "CRD not installed on aks-member-1" not in result.output
    assert "CRD not installed on aks-member-2" in result.output


@needs_crds
def test_crd_list_as_kubectl_prints_it(tmp_path):
    crd = yaml.safe_load(
        (SHARED_CRDS / "flux/kustomize.toolkit.fluxcd.io_kustomizations.yaml").read_text()
    )
    listing = {"apiVersion": "v1", "kind": "List", "items": [crd]}
    (tmp_path / "crds.yaml").write_text(yaml.safe_dump(listing))
    diags = validate_rendered.Diagnostics()
    crds = validate_rendered.read_crds([tmp_path], diags)
    assert ("kustomize.toolkit.fluxcd.io", "v1", "Kustomization") in crds.schemas
    assert not diags.has_errors


@needs_crds
def test_flux_objects_validate_against_the_flux_crds(cli, fleet_dir):
    fleet_dir.write(
        "fleet.yaml",
        """
        apiVersion: fleetc.io/v1alpha1
        kind: Fleet
        metadata:
          name: demo
        spec:
          flux:
            url: https://example.com/fleet.git
            decryption: {provider: sops, secretRef: sops-age}
        """,
    )
    fleet_dir.write("hub/.keep", "")
    fleet_dir.cluster("c1", spec="spec:\n  kubernetesVersion: v1.29.4\n")
    assert run(cli, "render", "-f", str(fleet_dir.root)).exit_code == 0
    result = _validate(cli, fleet_dir.root, SHARED_CRDS / "flux")
    assert result.exit_code == 0, result.output
    assert "checked 2 object(s) in 1 cluster folder(s)" in result.output
    flux = SHARED_CRDS / "flux"
    files = [flux / "source.toolkit.fluxcd.io_gitrepositories.yaml"]
    only_source = _validate(cli, fleet_dir.root, *files)
    assert "CRD not installed on c1: no CustomResourceDefinition serves " in only_source.output
    assert "kustomize.toolkit.fluxcd.io/v1 Kustomization" in only_source.output
    files.append(flux / "kustomize.toolkit.fluxcd.io_kustomizations.yaml")
    assert _validate(cli, fleet_dir.root, *files).exit_code == 0


@pytest.mark.parametrize(
    ("version", "expected"),
    [("v1.31.2", (1, 31)), ("1.20.0", (1, 25)), ("v1.99.0", (1, 37)), (None, (1, 37))],
)
def test_cluster_version_maps_to_the_nearest_shipped_schema(version, expected):
    shipped = validate_rendered.shipped_versions()
    assert expected[1] in (shipped[0][1], 31, shipped[-1][1])
    want = {(1, 25): shipped[0], (1, 37): shipped[-1]}.get(expected, expected)
    assert validate_rendered.schema_version(version) == want


def test_malformed_objects_and_crds_are_reported_not_raised(cli, copy):
    copy.write(
        "rendered/aks-member-1/platform/odd.yaml",
        """
        apiVersion: v1
        kind: ../../../../pyproject
        metadata: {name: x}
        ---
        - just a list
        ---
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: broken}
        spec: 5
        """,
    )
    result = _validate(cli, copy.root)
    assert result.exit_code == 1
    assert "aks-member-1: 'v1' '../../../../pyproject' is not a valid apiVersion and kind" in (
        result.output
    )
    assert "aks-member-1: not a Kubernetes object (no apiVersion and kind)" in result.output
    assert "a CustomResourceDefinition without group, kind or versions" in result.output


_WIDGET = (
    "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: default\n"
    "spec: 5\n"
)


def _ref_server():
    import http.server
    import threading

    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            body = b'{"type": "integer"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, hits


@pytest.mark.parametrize("scheme", ["http", "file"])
def test_crd_refs_outside_the_schema_are_errors_never_fetched(cli, copy, tmp_path_factory, scheme):
    outside = tmp_path_factory.mktemp("outside") / "schema.json"
    outside.write_text('{"type": "integer"}')
    server, hits = _ref_server()
    try:
        ref = (
            f"http://127.0.0.1:{server.server_port}/s.json"
            if scheme == "http"
            else outside.as_uri()
        )
        copy.write("rendered/aks-member-1/_cluster/crd.yaml", widget_crd({"spec": {"$ref": ref}}))
        copy.write("rendered/aks-member-1/default/widget.yaml", _WIDGET)
        result = _validate(cli, copy.root)
    finally:
        server.shutdown()
    assert hits == []
    assert result.exit_code == 1
    assert f"CRD widgets.example.com v1: $ref '{ref}' points outside the CRD's own schema" in (
        result.output
    )
    assert "Widget (example.com/v1): not checked" in result.output


def test_crd_refs_inside_the_schema_resolve(cli, copy):
    crd = widget_crd({"count": {"type": "integer"}, "spec": {"$ref": "#/properties/count"}})
    copy.write("rendered/aks-member-1/_cluster/crd.yaml", crd)
    copy.write("rendered/aks-member-1/default/widget.yaml", _WIDGET.replace("spec: 5", "spec: x"))
    result = _validate(cli, copy.root)
    assert result.exit_code == 1
    assert "Widget (example.com/v1): spec: 'x' is not of type 'integer'" in result.output
    assert "points outside" not in result.output


def test_crd_based_or_dangling_refs_are_never_fetched():
    schema = {"$id": "http://127.0.0.1:9/x", "properties": {"a": {"$ref": "#/defs/a"}}}
    assert validate_rendered.outside_refs(schema) == ["#/defs/a"]
    validator = validate_rendered.crd_validator({"properties": {"a": {"$ref": "other.json"}}})
    from referencing.exceptions import Unresolvable

    with pytest.raises(Unresolvable):
        list(validator.iter_errors({"a": 1}))
