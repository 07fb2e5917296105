"""What the end-to-end tier expects, computed without a cluster (unit-tested in
tests/test_e2e_plan.py): pinned versions, the objects each cluster must hold, the git server's
container, the tier's two commits, and the commands it runs.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
VERSIONS_FILE = HERE / "versions.env"
FLEET = HERE / "fleet"
CLUSTERS = ("provider", "consumer")
KUSTOMIZATION = "kustomization.yaml"
FLUX_NAMESPACE = "flux-system"
# The Flux label on every object a Kustomization applied (kustomize-controller).
FLUX_OWNER_LABEL = "kustomize.toolkit.fluxcd.io/name"
# The Kustomization the tier creates to install MetalLB; fleetc's metallb-config waits for it.
METALLB_KUSTOMIZATION = "metallb"
WORKER_PLACEMENT = "hub/worker.yaml"
SHOP_HUB = "hub/shop.yaml"


def versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    """KEY=VALUE lines of versions.env (comments and blank lines skipped)."""
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Z][A-Z0-9_]*", key) or not value:
            raise ValueError(f"{path}: not KEY=VALUE: {line!r}")
        found[key] = value
    return found


@dataclass(frozen=True, order=True)
class Ref:
    """One object on a cluster, as kubectl names it."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}.{self.group or 'core'} {where}{self.name}"


def object_files(output: Path, cluster: str) -> list[Path]:
    """Every object file of a cluster's folder (root and bundles), kustomization files left out."""
    folder = output / cluster
    return sorted(p for p in folder.rglob("*.yaml") if p.name != KUSTOMIZATION)


def expected_objects(output: Path) -> dict[str, set[Ref]]:
    """cluster -> the objects Flux must create there: every object file in rendered/<cluster>/
    (the root Kustomization applies the root, each bundle's Kustomization its bundle)."""
    found: dict[str, set[Ref]] = {}
    for folder in sorted(p for p in output.iterdir() if p.is_dir()):
        refs = found.setdefault(folder.name, set())
        for path in object_files(output, folder.name):
            for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                if isinstance(doc, dict):
                    meta = doc.get("metadata") or {}
                    refs.add(
                        Ref(doc["apiVersion"], doc["kind"], meta.get("namespace", ""), meta["name"])
                    )
    return found


def foreign_objects(expected: dict[str, set[Ref]], cluster: str) -> set[Ref]:
    """Objects rendered for other clusters only: they must not exist on ``cluster``."""
    others = set().union(*(refs for name, refs in expected.items() if name != cluster))
    return others - expected.get(cluster, set())


def kinds(expected: dict[str, set[Ref]]) -> list[tuple[str, str]]:
    """(apiVersion, kind) of everything rendered anywhere: what the tier lists on each cluster."""
    return sorted({(r.api_version, r.kind) for refs in expected.values() for r in refs})


def moved(before: dict[str, set[Ref]], after: dict[str, set[Ref]]) -> dict[Ref, tuple[str, str]]:
    """Objects that left exactly one cluster and arrived on exactly one other: ref -> (from, to)."""
    found: dict[Ref, tuple[str, str]] = {}
    clusters = sorted(set(before) | set(after))
    for ref in set().union(*before.values(), *after.values()):
        gone = [
            c for c in clusters if ref in before.get(c, set()) and ref not in after.get(c, set())
        ]
        came = [
            c for c in clusters if ref not in before.get(c, set()) and ref in after.get(c, set())
        ]
        if len(gone) == 1 and len(came) == 1:
            found[ref] = (gone[0], came[0])
    return found


# --- the fleet's commits ------------------------------------------------------------------


def copy_fleet(target: Path, git_url: str) -> None:
    """The tier's fleet in ``target``, syncing from ``git_url``."""
    shutil.copytree(FLEET, target, dirs_exist_ok=True)
    fleet = target / "fleet.yaml"
    text = fleet.read_text(encoding="utf-8")
    old = "url: http://git.invalid/fleet.git"
    if old not in text:
        raise ValueError("tests/e2e/fleet/fleet.yaml lost its placeholder spec.flux.url")
    fleet.write_text(text.replace(old, f"url: {git_url}"), encoding="utf-8")


def move_worker(fleet: Path) -> None:
    """The second commit: the worker placement moves from the provider to the consumer."""
    path = fleet / WORKER_PLACEMENT
    text = path.read_text(encoding="utf-8")
    old = "    clusterNames: [provider]\n"
    if old not in text:
        raise ValueError(f"{path}: the worker placement no longer names the provider")
    path.write_text(text.replace(old, "    clusterNames: [consumer]\n"), encoding="utf-8")


def change_shop_selector(fleet: Path) -> None:
    """The crafted immutable-field change: shop/web's Deployment selector."""
    path = fleet / SHOP_HUB
    text = path.read_text(encoding="utf-8")
    for old, new in (
        ("    matchLabels: {app: web}\n", "    matchLabels: {app: web, tier: front}\n"),
        ("      labels: {app: web}\n", "      labels: {app: web, tier: front}\n"),
    ):
        if old not in text:
            raise ValueError(f"{path}: {old.strip()!r} not found")
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


# --- the git server -----------------------------------------------------------------------


@dataclass(frozen=True)
class GitServer:
    """A container on the kind network serving ``root``'s bare repositories read-only."""

    image: str
    root: Path  # on the host: holds <repo>.git
    script: Path = HERE / "gitserver.py"
    name: str = "fleetc-e2e-git"
    network: str = "kind"
    port: int = 8080

    def run_args(self) -> list[str]:
        command = (
            f"apk add --no-cache git >/dev/null && exec python /gitserver.py /srv/git {self.port}"
        )
        return [
            "docker", "run", "--detach", "--name", self.name, "--network", self.network,
            "--volume", f"{self.root}:/srv/git:ro",
            "--volume", f"{self.script}:/gitserver.py:ro",
            self.image, "sh", "-c", command,
        ]  # fmt: skip

    def address_args(self) -> list[str]:
        template = "{{(index .NetworkSettings.Networks " + f'"{self.network}"' + ").IPAddress}}"
        return ["docker", "inspect", "--format", template, self.name]

    def url(self, address: str, repository: str = "fleet.git") -> str:
        """What Flux's GitRepository points at: the container's address on the kind network
        (an address, not the container name: pods resolve through CoreDNS, not Docker)."""
        if not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", address):
            raise ValueError(f"not an IPv4 address on the {self.network} network: {address!r}")
        return f"http://{address}:{self.port}/{repository}"


# --- cluster commands ---------------------------------------------------------------------


def context(cluster: str) -> str:
    return f"kind-fleetc-e2e-{cluster}"


def kind_create(cluster: str, pinned: dict[str, str]) -> list[str]:
    return [
        "kind", "create", "cluster", "--name", f"fleetc-e2e-{cluster}",
        "--image", pinned["KIND_NODE_IMAGE"], "--wait", "180s",
    ]  # fmt: skip


def crd_urls(pinned: dict[str, str]) -> list[str]:
    """The CRDs the fleet's objects need before Flux applies them (MetalLB's come with its
    install Kustomization): the MCS API's ServiceExport and ServiceImport."""
    base = f"https://raw.githubusercontent.com/kubernetes-sigs/mcs-api/{pinned['MCS_API_VERSION']}"
    return [
        f"{base}/config/crd/multicluster.x-k8s.io_serviceexports.yaml",
        f"{base}/config/crd/multicluster.x-k8s.io_serviceimports.yaml",
    ]


def metallb_install(pinned: dict[str, str]) -> list[dict]:
    """The Flux objects installing MetalLB: the Kustomization fleetc's metallb-config waits for."""
    return [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": METALLB_KUSTOMIZATION, "namespace": FLUX_NAMESPACE},
            "spec": {
                "interval": "1h",
                "url": "https://github.com/metallb/metallb",
                "ref": {"tag": pinned["METALLB_VERSION"]},
            },
        },
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": METALLB_KUSTOMIZATION, "namespace": FLUX_NAMESPACE},
            "spec": {
                "interval": "1h",
                "path": "./config/native",
                "prune": True,
                "wait": True,
                "timeout": "5m",
                "sourceRef": {"kind": "GitRepository", "name": METALLB_KUSTOMIZATION},
            },
        },
    ]


def bootstrap_files(output: Path, cluster: str) -> list[Path]:
    """What the tier applies by hand to start a cluster's Flux on rendered/<cluster>/: the
    GitRepository and Kustomization named flux-system that fleetc rendered (``spec.flux``),
    as ``flux bootstrap`` would have created them."""
    folder = output / cluster / "_flux-system"
    wanted = (
        "gitrepository.source.toolkit.fluxcd.io_flux-system.yaml",
        "kustomization.kustomize.toolkit.fluxcd.io_flux-system.yaml",
    )
    files = [folder / name for name in wanted]
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"fleetc did not render Flux's sync objects: {missing}")
    return files


def dry_run_folders(output: Path, cluster: str) -> list[Path]:
    """The cluster's root and every bundle: each a kustomization kubectl can apply."""
    folder = output / cluster
    return sorted(p.parent for p in folder.rglob(KUSTOMIZATION) if "flux-system" not in p.parts)


def dry_run(folder: Path, cluster: str) -> list[str]:
    return [
        "kubectl", "--context", context(cluster), "apply", "--server-side", "--dry-run=server",
        "--field-manager=kustomize-controller", "--force-conflicts", "-k", str(folder),
    ]  # fmt: skip
