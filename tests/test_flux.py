"""The Flux generator: sync objects from spec.flux, and a Kustomization per bundle."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml
from bootstrap_files import write_bootstrap
from conftest import REPO, FleetDir, run
from fake_sections import run_first
from fleetc.core.model import ObjectKey
from fleetc.core.placed import RenderedObject

GOLDEN = REPO / "tests" / "golden" / "flux"

FLEET = """
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: demo
spec:
  {flux}
  placements:
    - name: baseline
      resourceSelectors:
        - {{group: "", version: v1, kind: Namespace, name: base}}
"""

FLUX = """flux:
    url: ssh://git@example.com/platform/fleet.git
    branch: release
    interval: 5m
    secretRef: fleet-deploy-key
    decryption:
      provider: sops
      secretRef: sops-age"""


def _fleet(fleet_dir, flux: str = ""):
    fleet_dir.write("fleet.yaml", FLEET.format(flux=flux))
    fleet_dir.write("hub/base.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: base\n")
    fleet_dir.cluster("c1")
    fleet_dir.cluster("c2")
    return fleet_dir


def _metallb_bundles(given, out) -> None:
    """A stand-in for the MetalLB section: an install bundle and a config bundle after it."""
    for cluster in given.clusters:
        install = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "metallb-system"}}
        pool = {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "IPAddressPool",
            "metadata": {"name": "pool", "namespace": "metallb-system"},
            "spec": {"addresses": ["10.0.0.0/28"]},
        }
        objects = out.objects.setdefault(cluster, {})
        key = ObjectKey("", "Namespace", "", "metallb-system")
        objects[key] = RenderedObject(key, install, "t", bundle="metallb")
        key = ObjectKey("metallb.io", "IPAddressPool", "metallb-system", "pool")
        objects[key] = RenderedObject(key, pool, "t", bundle="metallb-config")
    out.bundle_dependencies["metallb-config"] = ("metallb",)


@pytest.fixture
def with_bundles(monkeypatch):
    run_first(monkeypatch, _metallb_bundles)


def _objects(result, cluster: str) -> dict[tuple[str, str], dict]:
    return {
        (key.kind, key.name): obj.body
        for key, obj in result.compilation.clusters[cluster].items()
        if key.namespace == "flux-system"
    }


def test_no_flux_section_and_no_bundles_renders_nothing(memory_fleet):
    result = _fleet(memory_fleet).compile()
    assert result.ok
    assert _objects(result, "c1") == {}


def test_spec_flux_renders_the_sync_pair_golden(fleet_dir, cli):
    _fleet(fleet_dir, FLUX)
    assert run(cli, "render", "-f", str(fleet_dir.root)).exit_code == 0
    files = fleet_dir.files()
    got = {rel: data for rel, data in files.items() if rel.startswith("c1/")}
    want = {
        p.relative_to(GOLDEN / "sync").as_posix(): p.read_bytes()
        for p in sorted((GOLDEN / "sync").rglob("*"))
        if p.is_file()
    }
    assert got == want


def test_bootstrapped_cluster_keeps_flux_system_and_gets_no_duplicate(fleet_dir, cli):
    _fleet(fleet_dir, FLUX)
    written = write_bootstrap(fleet_dir, "c1")
    assert run(cli, "render", "-f", str(fleet_dir.root)).exit_code == 0
    result = fleet_dir.compile()
    assert _objects(result, "c1") == {}
    assert set(_objects(result, "c2")) == {
        ("GitRepository", "flux-system"),
        ("Kustomization", "flux-system"),
    }
    root = yaml.safe_load((fleet_dir.root / "rendered/c1/kustomization.yaml").read_text())
    assert "flux-system" in root["resources"]
    for rel, text in written.items():
        assert (fleet_dir.root / rel).read_text() == text
    assert run(cli, "check", "-f", str(fleet_dir.root)).exit_code == 0
    _kustomize_builds(fleet_dir.root / "rendered/c1")


def test_bundles_get_a_kustomization_with_depends_on(fleet_dir, with_bundles, cli):
    _fleet(fleet_dir, FLUX)
    result = fleet_dir.compile()
    assert result.ok, [d.format() for d in result.diagnostics]
    objects = _objects(result, "c1")
    config = objects[("Kustomization", "metallb-config")]
    assert config["spec"] == {
        "interval": "10m",
        "dependsOn": [{"name": "metallb", "namespace": "flux-system"}],
        "decryption": {"provider": "sops", "secretRef": {"name": "sops-age"}},
        "path": "./rendered/c1/metallb-config",
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"},
        "wait": True,
    }
    install = objects[("Kustomization", "metallb")]
    assert "dependsOn" not in install["spec"]
    assert install["spec"]["path"] == "./rendered/c1/metallb"
    for body in objects.values():
        assert "targetNamespace" not in body["spec"]
    # The bundle Kustomizations live in the root, the bundles in their own folders.
    assert "c1/_flux-system/kustomization.kustomize.toolkit.fluxcd.io_metallb-config.yaml" in (
        result.files
    )
    root = yaml.safe_load(result.files["c1/kustomization.yaml"])
    assert not any(r.startswith("metallb") for r in root["resources"])
    assert run(cli, "render", "-f", str(fleet_dir.root)).exit_code == 0
    for folder in ("c1", "c1/metallb", "c1/metallb-config"):
        _kustomize_builds(fleet_dir.root / "rendered" / folder)


def test_bundles_without_spec_flux_use_bootstraps_source(fleet_dir, with_bundles):
    result = _fleet(fleet_dir).compile()
    assert result.ok
    objects = _objects(result, "c2")
    assert set(objects) == {("Kustomization", "metallb"), ("Kustomization", "metallb-config")}
    spec = objects[("Kustomization", "metallb-config")]["spec"]
    assert spec["sourceRef"] == {
        "kind": "GitRepository",
        "name": "flux-system",
        "namespace": "flux-system",
    }
    assert spec["path"] == "./rendered/c2/metallb-config"
    assert "decryption" not in spec


def test_a_fleet_in_a_sub_folder_of_its_repository_gets_paths_from_the_top(tmp_path, with_bundles):
    (tmp_path / ".git").mkdir()
    fleet = _fleet(FleetDir(tmp_path / "fleets" / "edge"))
    spec = _objects(fleet.compile(), "c1")[("Kustomization", "metallb-config")]["spec"]
    assert spec["path"] == "./fleets/edge/rendered/c1/metallb-config"
    # spec.flux.path is taken as written, from the repository's top.
    fleet.write(
        "fleet.yaml", FLEET.format(flux=FLUX.replace("url:", "path: deploy/edge\n    url:"))
    )
    spec = _objects(fleet.compile(), "c1")[("Kustomization", "metallb-config")]["spec"]
    assert spec["path"] == "./deploy/edge/c1/metallb-config"


def test_path_prefix_for_a_fleet_in_a_sub_folder(fleet_dir):
    flux = "flux:\n    url: https://example.com/fleet.git\n    path: fleets/prod/out"
    _fleet(fleet_dir, flux)
    result = fleet_dir.compile()
    assert result.ok
    sync = _objects(result, "c1")[("Kustomization", "flux-system")]["spec"]
    assert sync["path"] == "./fleets/prod/out/c1"
    assert _objects(result, "c1")[("GitRepository", "flux-system")]["spec"] == {
        "interval": "1m",
        "ref": {"branch": "main"},
        "url": "https://example.com/fleet.git",
    }


@pytest.mark.parametrize(
    ("flux", "message"),
    [
        ("flux:\n    url: git@example.com:fleet.git", "url"),
        ("flux:\n    url: https://x/y\n    interval: soon", "interval"),
        (
            "flux:\n    url: https://x/y\n    decryption: {provider: vault, secretRef: k}",
            "provider",
        ),
        ("flux:\n    url: https://x/y\n    path: ../elsewhere", "path"),
        ("flux:\n    url: https://x/y\n    targetNamespace: apps", "targetNamespace"),
        ("flux:\n    branch: main", "url"),
    ],
)
def test_spec_flux_is_validated(fleet_dir, flux, message):
    result = _fleet(fleet_dir, flux).compile()
    assert not result.ok
    errors = [d.format() for d in result.diagnostics.errors]
    assert any("fleet.yaml" in e and message in e for e in errors), errors


def _kustomize_builds(folder) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: cannot check that kustomize builds the output")
    done = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_a_hub_object_named_like_a_flux_object_is_an_error(fleet_dir, with_bundles):
    _fleet(fleet_dir)
    fleet_dir.write(
        "hub/base.yaml",
        """
        apiVersion: v1
        kind: Namespace
        metadata:
          name: base
        ---
        apiVersion: v1
        kind: Namespace
        metadata:
          name: flux-system
        ---
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata:
          name: metallb
          namespace: flux-system
        spec:
          interval: 1m
          prune: false
          sourceRef: {kind: GitRepository, name: other}
        """,
    )
    path = fleet_dir.root / "fleet.yaml"
    path.write_text(
        path.read_text().replace(
            "name: base}",
            "name: base}\n        - {group: '', version: v1, kind: Namespace, name: flux-system}",
        )
    )
    result = fleet_dir.compile()
    errors = [d.format() for d in result.diagnostics.errors]
    assert (
        "hub/base.yaml: error: Kustomization.kustomize.toolkit.fluxcd.io/flux-system/metallb on "
        "cluster c1 is also the Flux object fleetc renders to sync ./rendered/c1/metallb"
    ) in "\n".join(errors), errors


def test_an_invalid_output_is_reported_not_raised(fleet_dir, with_bundles):
    _fleet(fleet_dir, "output: 5")
    result = fleet_dir.compile()
    assert not result.ok
    assert any("spec.output" in d.format() for d in result.diagnostics.errors)


def test_output_does_not_depend_on_a_symlinked_path_to_the_fleet(tmp_path, cli):
    # Issue 13 (16): a symlinked -f gave the fleet no repository prefix, so Flux paths changed
    # and 'check' through the real path then failed.
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    fleet = _fleet(FleetDir(tmp_path / "repo" / "fleets" / "edge"), FLUX)
    link = tmp_path / "link"
    link.symlink_to(fleet.root, target_is_directory=True)
    assert run(cli, "render", "-f", str(link)).exit_code == 0
    sync = (fleet.root / "rendered/c1/_flux-system").glob("*.yaml")
    assert any("./fleets/edge/rendered/c1" in p.read_text() for p in sync)
    assert run(cli, "check", "-f", str(fleet.root)).exit_code == 0
    assert run(cli, "check", "-f", str(link / "fleet.yaml")).exit_code == 0


_CRB = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: everyone-admin
  labels: {app.kubernetes.io/part-of: flux}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {kind: Group, name: "system:authenticated", apiGroup: rbac.authorization.k8s.io}
"""


def _plant_extra_file(fleet_dir):
    fleet_dir.write("rendered/c1/flux-system/crb.yaml", _CRB)
    fleet_dir.write(
        "rendered/c1/flux-system/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n- gotk-components.yaml\n- gotk-sync.yaml\n- crb.yaml\n",
    )
    return "'crb.yaml' is not a file 'flux bootstrap' writes"


def _plant_in_components(fleet_dir):
    path = fleet_dir.root / "rendered/c1/flux-system/gotk-components.yaml"
    path.write_text(path.read_text() + "---\n" + _CRB)
    return "ClusterRoleBinding 'everyone-admin': binds subjects other than service accounts"


def _plant_alone(fleet_dir):
    for name in ("gotk-components.yaml", "gotk-sync.yaml"):
        (fleet_dir.root / "rendered/c1/flux-system" / name).unlink()
    fleet_dir.write("rendered/c1/flux-system/crb.yaml", _CRB)
    return "'flux bootstrap' writes gotk-components.yaml; it is missing"


def _plant_foreign_image(fleet_dir):
    path = fleet_dir.root / "rendered/c1/flux-system/gotk-components.yaml"
    path.write_text(path.read_text().replace("ghcr.io/fluxcd/", "evil.example.com/"))
    return "Deployment 'source-controller': runs an image not from ghcr.io/fluxcd/"


@pytest.mark.parametrize(
    "plant", [_plant_extra_file, _plant_in_components, _plant_alone, _plant_foreign_image]
)
def test_a_planted_flux_system_folder_is_an_error(fleet_dir, cli, plant):
    # Issue 13 (4): a planted flux-system/ passed check and validate --rendered, was built by
    # kustomize, and stopped fleetc from rendering its own Flux sync objects.
    _fleet(fleet_dir, FLUX)
    write_bootstrap(fleet_dir, "c1")
    assert run(cli, "render", "-f", str(fleet_dir.root)).exit_code == 0
    assert run(cli, "check", "-f", str(fleet_dir.root)).exit_code == 0
    message = plant(fleet_dir)
    for command in (["check"], ["validate", "--rendered"], ["render"]):
        result = run(cli, *command, "-f", str(fleet_dir.root))
        assert result.exit_code == 1, (command, result.output)
        assert f"not bootstrap's flux-system/: {message}" in result.output, result.output


def test_a_planted_flux_system_folder_does_not_drop_fleetcs_sync_objects(fleet_dir):
    _fleet(fleet_dir, FLUX)
    fleet_dir.write("rendered/c1/flux-system/kustomization.yaml", "resources: [crb.yaml]\n")
    fleet_dir.write("rendered/c1/flux-system/crb.yaml", _CRB)
    result = fleet_dir.compile()
    assert set(_objects(result, "c1")) == {
        ("GitRepository", "flux-system"),
        ("Kustomization", "flux-system"),
    }
    assert any("not bootstrap's flux-system/" in d.message for d in result.diagnostics.errors)


@pytest.mark.parametrize("flux", ["", FLUX])
def test_a_hub_sync_object_duplicating_bootstraps_is_an_error(fleet_dir, cli, flux):
    # Issue 13 (11): it passed render and check and broke the cluster's kustomize build.
    _fleet(fleet_dir, flux)
    fleet_dir.write(
        "fleet.yaml",
        FLEET.format(flux=flux).replace(
            "name: base}",
            "name: base}\n        - {group: '', version: v1, kind: Namespace, name: flux-system}",
        ),
    )
    fleet_dir.write(
        "hub/sync.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n---\n"
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n"
        "  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 5m\n  path: ./x\n"
        "  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n",
    )
    write_bootstrap(fleet_dir, "c1")
    result = run(cli, "render", "-f", str(fleet_dir.root))
    assert result.exit_code == 1, result.output
    assert "hub/sync.yaml" in result.output
    assert "on cluster c1 duplicates the Kustomization in the cluster's flux-system/" in (
        result.output
    )
