"""End-to-end: fleetc's output applied by Flux to two kind clusters (see README, "End-to-end tier").

Skipped, with the reason, unless docker (with a running daemon), kind, kubectl and the flux CLI
are all present; run by .github/workflows/e2e.yaml. Set FLEETC_E2E_KEEP=1 to keep the clusters
and the git server after the run (for debugging); the next run deletes them first.

One test, in order (each step needs the previous one):
1. two kind clusters (provider, consumer), Flux installed on each, the MCS API CRDs;
2. a git server container on the kind network serving a repository with the fleet in
   tests/e2e/fleet/ and its output, rendered by fleetc with spec.flux.url pointing at it;
3. each cluster's Flux started on rendered/<cluster>/ (fleetc's flux-system GitRepository and
   Kustomization, as flux bootstrap would create them);
4. fleetc's metallb-config Kustomization waits (DependencyNotReady) until the tier installs
   MetalLB through a Kustomization named metallb; then every Kustomization is Ready;
5. on each cluster exactly the objects fleetc rendered for it exist (listing every kind rendered
   anywhere, by Flux's owner label), nothing of the other cluster's: among them the
   ServiceExport on the provider and the ServiceImport on the consumer;
6. a second commit moves the worker placement: Flux prunes it from the provider and creates it
   on the consumer (the same exact-set comparison, and plan.moved names the moved objects);
7. a server-side dry run of every cluster folder passes; a crafted Deployment selector change
   is refused by the API server ("field is immutable") and by fleetc check --against HEAD.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from e2e import plan

TOOLS = ("docker", "kind", "kubectl", "flux")
KEEP = os.environ.get("FLEETC_E2E_KEEP") == "1"


def _missing() -> str | None:
    absent = [tool for tool in TOOLS if shutil.which(tool) is None]
    if absent:
        return (
            f"the end-to-end tier needs {', '.join(TOOLS)}; not found: {', '.join(absent)} "
            "(it runs in .github/workflows/e2e.yaml; see the README to run it locally)"
        )
    daemon = subprocess.run(["docker", "info"], capture_output=True, check=False)
    if daemon.returncode != 0:
        return "the end-to-end tier needs a running Docker daemon ('docker info' failed)"
    return None


pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_missing() is not None, reason=_missing() or ""),
]


def sh(*args: str, stdin: str | None = None, check: bool = True) -> str:
    done = subprocess.run(args, input=stdin, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def kubectl(cluster: str, *args: str, stdin: str | None = None, check: bool = True) -> str:
    return sh("kubectl", "--context", plan.context(cluster), *args, stdin=stdin, check=check)


def fleetc(fleet: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["fleetc", *args, "-f", str(fleet)], capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"fleetc {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done


def git(repo: Path, *args: str) -> str:
    return sh("git", "-C", str(repo), *args)


def wait_for(what: str, probe, timeout: float = 300, every: float = 5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def condition(cluster: str, kind: str, name: str, kind_type: str = "Ready") -> dict:
    out = kubectl(cluster, "get", kind, name, "-n", plan.FLUX_NAMESPACE, "-o", "json", check=False)
    if not out:
        return {}
    conditions = json.loads(out).get("status", {}).get("conditions", [])
    return next((c for c in conditions if c.get("type") == kind_type), {})


def present(cluster: str, expected: dict[str, set[plan.Ref]]) -> set[plan.Ref]:
    """Every object Flux applied on the cluster (owner label), of every kind rendered anywhere,
    except what the tier's own metallb Kustomization installed."""
    found: set[plan.Ref] = set()
    for api_version, kind in plan.kinds(expected):
        group, _, version = api_version.rpartition("/")
        resource = f"{kind}.{version}.{group}" if group else kind  # kubectl's KIND.VERSION.GROUP
        out = kubectl(
            cluster, "get", resource, "--all-namespaces", "-l", plan.FLUX_OWNER_LABEL, "-o", "json"
        )
        for item in json.loads(out)["items"]:
            labels = item["metadata"].get("labels", {})
            if labels.get(plan.FLUX_OWNER_LABEL) == plan.METALLB_KUSTOMIZATION:
                continue
            meta = item["metadata"]
            found.add(plan.Ref(api_version, kind, meta.get("namespace", ""), meta["name"]))
    return found


def cleanup(pinned: dict[str, str], root: Path) -> None:
    server = plan.GitServer(pinned["GIT_SERVER_IMAGE"], root)
    sh("docker", "rm", "--force", server.name, check=False)
    for cluster in plan.CLUSTERS:
        sh("kind", "delete", "cluster", "--name", f"fleetc-e2e-{cluster}", check=False)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    pinned = plan.versions()
    work = tmp_path_factory.mktemp("e2e")
    served = work / "srv"
    served.mkdir()
    cleanup(pinned, served)
    try:
        for cluster in plan.CLUSTERS:
            sh(*plan.kind_create(cluster, pinned))
            sh("flux", "install", "--context", plan.context(cluster))
            for url in plan.crd_urls(pinned):
                kubectl(cluster, "apply", "--server-side", "-f", url)
        server = plan.GitServer(pinned["GIT_SERVER_IMAGE"], served)
        sh(*server.run_args())
        address = sh(*server.address_args()).strip()
        fleet = work / "fleet"
        plan.copy_fleet(fleet, server.url(address))
        fleetc(fleet, "render")
        git(fleet, "init", "--quiet", "--initial-branch=main")
        commit(fleet, "fleet and its output")
        bare = served / "fleet.git"
        sh("git", "clone", "--quiet", "--bare", str(fleet), str(bare))
        git(fleet, "remote", "add", "origin", str(bare))
        yield pinned, fleet, server
    finally:
        if not KEEP:
            cleanup(pinned, served)


def commit(fleet: Path, message: str) -> None:
    git(fleet, "add", "--all")
    git(fleet, "-c", "user.name=e2e", "-c", "user.email=e2e@example.com", "commit", "-qm", message)


def reconcile(cluster: str) -> None:
    context = ("--context", plan.context(cluster))
    sh("flux", "reconcile", "source", "git", "flux-system", *context, "--timeout", "2m")
    sh("flux", "reconcile", "kustomization", "flux-system", *context, "--timeout", "5m")


def all_ready(cluster: str) -> bool:
    out = kubectl(cluster, "get", "kustomizations", "-n", plan.FLUX_NAMESPACE, "-o", "json")
    items = json.loads(out)["items"]
    ready = [
        any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in i.get("status", {}).get("conditions", [])
        )
        for i in items
    ]
    return bool(items) and all(ready)


def test_flux_applies_exactly_the_rendered_output(world):
    pinned, fleet, _server = world
    output = fleet / "rendered"
    expected = plan.expected_objects(output)
    assert sorted(expected) == sorted(plan.CLUSTERS)

    # Start Flux on rendered/<cluster>/ with fleetc's own sync objects.
    for cluster in plan.CLUSTERS:
        for path in plan.bootstrap_files(output, cluster):
            kubectl(cluster, "apply", "-f", str(path))
    for cluster in plan.CLUSTERS:
        wait_for(
            f"{cluster}: Kustomization flux-system Ready",
            lambda c=cluster: condition(c, "kustomization", "flux-system").get("status") == "True",
        )
        # The MetalLB configuration waits for the install, which is not there yet.
        blocked = wait_for(
            f"{cluster}: metallb-config waiting for metallb",
            lambda c=cluster: (
                (
                    (cond := condition(c, "kustomization", "metallb-config")).get("reason")
                    == "DependencyNotReady"
                )
                and cond
            ),
        )
        assert "metallb" in blocked.get("message", ""), blocked
        assert not kubectl(
            cluster, "get", "ipaddresspools.metallb.io", "-A", "--ignore-not-found", check=False
        ).strip()

    # Install MetalLB through the Kustomization fleetc's configuration depends on.
    for cluster in plan.CLUSTERS:
        kubectl(cluster, "apply", "-f", "-", stdin=yaml.safe_dump_all(plan.metallb_install(pinned)))
    for cluster in plan.CLUSTERS:
        wait_for(f"{cluster}: every Kustomization Ready", lambda c=cluster: all_ready(c), 600)

    # Exactly what fleetc rendered for each cluster, nothing of the other's.
    for cluster in plan.CLUSTERS:
        assert present(cluster, expected) == expected[cluster], cluster
        assert not (present(cluster, expected) & plan.foreign_objects(expected, cluster))
    # Among them the multi-cluster Service: exported where it runs, imported where consumed.
    for cluster, kind in (("provider", "ServiceExport"), ("consumer", "ServiceImport")):
        assert any(
            (r.kind, r.namespace, r.name) == (kind, "shop", "web")
            for r in present(cluster, expected)
        ), (cluster, kind)

    # Second commit: the worker placement moves; Flux prunes one side and creates the other.
    plan.move_worker(fleet)
    fleetc(fleet, "render")
    commit(fleet, "move the worker to the consumer")
    git(fleet, "push", "--quiet", "origin", "main")
    after = plan.expected_objects(output)
    moves = plan.moved(expected, after)
    assert moves and set(moves.values()) == {("provider", "consumer")}
    for cluster in plan.CLUSTERS:
        reconcile(cluster)
    for cluster in plan.CLUSTERS:
        wait_for(
            f"{cluster}: the moved worker",
            lambda c=cluster: present(c, after) == after[c],
            300,
        )

    # Server-side dry run of every folder: the current output applies.
    for cluster in plan.CLUSTERS:
        for folder in plan.dry_run_folders(output, cluster):
            sh(*plan.dry_run(folder, cluster))

    # A crafted immutable-field change: refused by the API server and by fleetc alike.
    plan.change_shop_selector(fleet)
    fleetc(fleet, "render")
    refused = subprocess.run(
        plan.dry_run(output / "provider", "provider"), capture_output=True, text=True, check=False
    )
    assert refused.returncode != 0
    assert "spec.selector" in refused.stderr and "field is immutable" in refused.stderr
    checked = fleetc(fleet, "check", "--against", "HEAD", check=False)
    assert checked.returncode == 1
    assert "Deployment.apps/shop/web: will not apply: field is immutable" in checked.stderr
    assert "[at spec.selector]" in checked.stderr
