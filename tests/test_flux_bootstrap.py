"""Flux bootstrap and fleetc side by side: bootstrap files in the wrong folder, a bootstrap that
lands after the output was rendered, removing a bootstrapped cluster, and OCI sources."""

from __future__ import annotations

import json

import pytest
import yaml
from bootstrap_files import write_bootstrap
from conftest import run
from crdschema import errors as crd_errors
from gitrepo import demo_fleet
from test_flux import FLUX, _fleet, _objects


def _bootstrap(fleet, folder: str) -> None:
    """What `flux bootstrap --path=<folder>` commits (the files fleetc recognises by content)."""
    output, _, cluster = folder.rpartition("/")
    write_bootstrap(fleet, cluster, output)


def test_bootstrap_files_in_the_inventory_are_one_error_with_the_fix(fleet_dir, cli):
    _fleet(fleet_dir)
    _bootstrap(fleet_dir, "clusters/c1")
    result = run(cli, "validate", "-f", str(fleet_dir.root))
    assert result.exit_code == 1
    assert "must be kind" not in result.output
    assert result.output.count("error:") == 1
    assert (
        "clusters/c1/flux-system/gotk-components.yaml: error: clusters/c1/flux-system/ holds "
        "files written by 'flux bootstrap' (3 file(s)) in the inventory folder" in result.output
    )
    assert "hint: bootstrap into the output instead: flux bootstrap ... --path=rendered/c1" in (
        result.output
    )


def test_check_passes_when_bootstrap_lands_after_the_render_and_render_adopts_it(fleet_dir, cli):
    _fleet(fleet_dir, FLUX)
    assert run(cli, "render", "-f", str(fleet_dir.root)).exit_code == 0
    before = fleet_dir.files()
    _bootstrap(fleet_dir, "rendered/c1")  # bootstrap pushes its own commit to main
    check = run(cli, "check", "-f", str(fleet_dir.root))
    assert check.exit_code == 0, check.output
    assert "note: c1/flux-system/ (flux bootstrap) is newer than the committed output" in (
        check.output
    )
    # Only a cluster whose output predates bootstrap is let off: a real staleness still fails.
    (
        fleet_dir.root
        / "rendered/c1/_flux-system/gitrepository.source.toolkit.fluxcd.io_flux-system.yaml"
    ).write_text("x: 1\n")
    assert run(cli, "check", "-f", str(fleet_dir.root)).exit_code == 1
    # The next render adopts bootstrap's folder: listed in the root, no duplicate sync objects.
    assert run(cli, "render", "-f", str(fleet_dir.root)).exit_code == 0
    root = yaml.safe_load((fleet_dir.root / "rendered/c1/kustomization.yaml").read_text())
    assert "flux-system" in root["resources"]
    assert _objects(fleet_dir.compile(), "c1") == {}
    check = run(cli, "check", "-f", str(fleet_dir.root))
    assert check.exit_code == 0 and "note:" not in check.output
    assert {k: v for k, v in fleet_dir.files().items() if k.startswith("c2/")} == {
        k: v for k, v in before.items() if k.startswith("c2/")
    }


def test_removing_a_bootstrapped_cluster_is_shown_and_needs_a_flag(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
    _bootstrap(fleet, "rendered/c2")
    fleet.commit("rendered, c2 bootstrapped")
    (fleet.root / "clusters/c2.yaml").unlink()

    diff = json.loads(run(cli, "diff", "-f", str(fleet.root), "--format", "json").output)
    assert diff["warnings"] == [
        "cluster c2 is removed and its folder holds flux-system/ from flux bootstrap: "
        "rendering deletes it only with --remove-bootstrapped c2, and Flux on c2 then stops "
        "syncing"
    ]
    markdown = run(cli, "diff", "-f", str(fleet.root), "--format", "markdown").output
    assert "> [!WARNING]\n> cluster c2 is removed" in markdown

    refused = run(cli, "render", "-f", str(fleet.root))
    assert refused.exit_code == 1
    assert "error: cluster c2 is no longer in the inventory" in refused.output
    assert "--remove-bootstrapped c2" in refused.output
    assert (fleet.root / "rendered/c2/flux-system/gotk-sync.yaml").is_file()
    assert (fleet.root / "rendered/c2/kustomization.yaml").is_file()

    done = run(cli, "render", "-f", str(fleet.root), "--remove-bootstrapped", "c2")
    assert done.exit_code == 0, done.output
    assert not (fleet.root / "rendered/c2").exists()


OCI = """flux:
    url: oci://ghcr.io/acme/fleet-manifests
    tag: main
    provider: azure
    secretRef: registry-auth"""


def test_an_oci_source_renders_an_oci_repository_valid_for_the_crd(fleet_dir, cli):
    _fleet(fleet_dir, OCI)
    result = fleet_dir.compile()
    assert result.ok, [d.format() for d in result.diagnostics.items]
    objects = _objects(result, "c1")
    source = objects[("OCIRepository", "flux-system")]
    assert source == {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "OCIRepository",
        "metadata": {"name": "flux-system", "namespace": "flux-system"},
        "spec": {
            "interval": "1m",
            "provider": "azure",
            "ref": {"tag": "main"},
            "secretRef": {"name": "registry-auth"},
            "url": "oci://ghcr.io/acme/fleet-manifests",
        },
    }
    sync = objects[("Kustomization", "flux-system")]
    assert sync["spec"]["sourceRef"] == {
        "kind": "OCIRepository",
        "name": "flux-system",
        "namespace": "flux-system",
    }
    assert crd_errors(source) == []
    assert crd_errors(sync) == []


@pytest.mark.parametrize(
    ("flux", "message"),
    [
        ("flux:\n    url: oci://r.example/fleet\n    branch: main", "spec.flux"),
        ("flux:\n    url: https://git.example/fleet.git\n    tag: v1", "spec.flux"),
        ("flux:\n    url: oci://r.example/fleet\n    tag: v1\n    semver: '>=1'", "spec.flux"),
    ],
)
def test_git_and_oci_settings_do_not_mix(fleet_dir, flux, message):
    _fleet(fleet_dir, flux)
    result = fleet_dir.compile()
    assert not result.ok
    assert any(message in d.format() for d in result.diagnostics.errors)
