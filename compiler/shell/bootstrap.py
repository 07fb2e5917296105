"""Recognising the ``<cluster>/flux-system/`` folder that ``flux bootstrap`` writes.

fleetc leaves that folder to Flux (it neither writes nor prunes it, and leaves out its own sync
pair there), but kustomize builds it with everything else, so a pull request must not be able
to plant one. A folder is bootstrap's only when its content is what ``flux bootstrap`` writes
(``problems`` returns nothing):

- exactly ``gotk-components.yaml``, ``gotk-sync.yaml`` and ``kustomization.yaml``, all regular
  files, and nothing else (no folder, no link);
- ``kustomization.yaml``: a kustomize ``Kustomization`` whose only field besides apiVersion and
  kind is ``resources``, listing exactly the two other files;
- ``gotk-sync.yaml``: the GitRepository and the Flux Kustomization ``flux-system/flux-system``,
  the Kustomization applying that GitRepository;
- ``gotk-components.yaml``: Flux's own install manifests: every object labelled
  ``app.kubernetes.io/part-of: flux``; only the kinds Flux installs; namespaced objects in
  ``flux-system``; CRDs of ``*.toolkit.fluxcd.io``; cluster role bindings whose subjects are
  service accounts in ``flux-system``; container images from ``ghcr.io/fluxcd/``.

Anything else there is an error (``check``, ``render``, ``validate``): nothing is dropped or
deleted silently. ``render``, ``check`` and ``validate --rendered`` all ask this module.
"""

from __future__ import annotations

from typing import Any

from ..core.diagnostics import Diagnostics, Position
from ..core.output_layout import FLUX_SYSTEM
from ..core.yamlsource import Document
from .sources import FILE, Source, join

COMPONENTS = "gotk-components.yaml"
SYNC = "gotk-sync.yaml"
KUSTOMIZATION = "kustomization.yaml"
FILES = (COMPONENTS, SYNC, KUSTOMIZATION)
NAMESPACE = "flux-system"
PART_OF = ("app.kubernetes.io/part-of", "flux")
# What 'flux install' / 'flux bootstrap' put in gotk-components.yaml.
COMPONENT_KINDS = {
    ("", "Namespace"),
    ("", "ServiceAccount"),
    ("", "Service"),
    ("", "ResourceQuota"),
    ("apps", "Deployment"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
IMAGE_PREFIX = "ghcr.io/fluxcd/"
HINT = (
    "only 'flux bootstrap' writes <cluster>/flux-system/ (gotk-components.yaml, gotk-sync.yaml "
    "and their kustomization.yaml); remove anything else, and put your own objects in the hub"
)


def folder(output: str, cluster: str) -> str:
    return join(join(output, cluster), FLUX_SYSTEM)


def problems(source: Source, path: str, read: Any, diags: Diagnostics) -> list[str]:
    """Why the folder ``path`` (relative to ``source``'s root) is not bootstrap's, each as a
    message and where; [] when it is. ``read(rel)`` parses a file into documents."""
    found: list[tuple[str, Position]] = []

    def bad(message: str, where: str, doc: Document | None = None) -> None:
        found.append((message, doc.pos() if doc is not None else Position(where)))

    entries = {e.name: e.kind for e in source.list_dir(path)}
    for name, kind in sorted(entries.items()):
        if name not in FILES or kind != FILE:
            bad(f"{name!r} is not a file 'flux bootstrap' writes", join(path, name))
    for name in FILES:
        if entries.get(name) != FILE:
            bad(f"'flux bootstrap' writes {name}; it is missing", path)
    if found:
        return _report(found, diags)
    docs = {name: read(join(path, name)) for name in FILES}
    _kustomization(docs[KUSTOMIZATION], join(path, KUSTOMIZATION), bad)
    _sync(docs[SYNC], join(path, SYNC), bad)
    _components(docs[COMPONENTS], join(path, COMPONENTS), bad)
    return _report(found, diags)


def _report(found: list[tuple[str, Position]], diags: Diagnostics) -> list[str]:
    for message, pos in found:
        diags.error(f"not bootstrap's flux-system/: {message}", pos, hint=HINT)
    return [message for message, _ in found]


def _kustomization(docs: list[Document], where: str, bad: Any) -> None:
    data = docs[0].data if len(docs) == 1 else None
    ok = (
        isinstance(data, dict)
        and set(data) == {"apiVersion", "kind", "resources"}
        and data.get("apiVersion") == "kustomize.config.k8s.io/v1beta1"
        and data.get("kind") == "Kustomization"
        and sorted(data["resources"] if isinstance(data["resources"], list) else [])
        == [COMPONENTS, SYNC]
    )
    if not ok:
        bad(f"it must list exactly {COMPONENTS} and {SYNC}, and nothing else", where)


def _meta(data: dict[str, Any]) -> dict[str, Any]:
    meta = data.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _sync(docs: list[Document], where: str, bad: Any) -> None:
    kinds = []
    for doc in docs:
        data = doc.data
        if not isinstance(data, dict):
            bad("a document that is not an object", where, doc)
            continue
        meta = _meta(data)
        kind = (data.get("apiVersion"), data.get("kind"))
        if (
            meta.get("name") != NAMESPACE
            or meta.get("namespace") != NAMESPACE
            or kind
            not in (
                ("source.toolkit.fluxcd.io/v1", "GitRepository"),
                ("source.toolkit.fluxcd.io/v1beta2", "GitRepository"),
                ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
                ("kustomize.toolkit.fluxcd.io/v1beta2", "Kustomization"),
            )
        ):
            bad(f"{kind[1]!r} {meta.get('name')!r} is not bootstrap's sync object", where, doc)
            continue
        kinds.append(kind[1])
        spec = data.get("spec") if isinstance(data.get("spec"), dict) else {}
        source_ref = spec.get("sourceRef")
        if kind[1] == "Kustomization" and source_ref != {
            "kind": "GitRepository",
            "name": NAMESPACE,
        }:
            bad("the Kustomization must apply the GitRepository flux-system", where, doc)
    if sorted(kinds) != ["GitRepository", "Kustomization"]:
        bad("it must hold one GitRepository and one Kustomization named flux-system", where)


def _components(docs: list[Document], where: str, bad: Any) -> None:
    for doc in docs:
        data = doc.data
        if data is None:
            continue
        if not isinstance(data, dict) or not isinstance(data.get("apiVersion"), str):
            bad("a document that is not an object", where, doc)
            continue
        group = data["apiVersion"].rpartition("/")[0]
        kind = data.get("kind")
        meta = _meta(data)
        name = f"{kind} {meta.get('name')!r}"
        labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
        if (group, kind) not in COMPONENT_KINDS:
            bad(f"{name}: Flux installs no {kind!r} of {group or 'core'!r}", where, doc)
        elif labels.get(PART_OF[0]) != PART_OF[1]:
            bad(f"{name}: not labelled {PART_OF[0]}: {PART_OF[1]}", where, doc)
        elif kind == "Namespace" and meta.get("name") != NAMESPACE:
            bad(f"{name}: Flux creates only the namespace {NAMESPACE}", where, doc)
        elif kind not in CLUSTER_SCOPED and meta.get("namespace") != NAMESPACE:
            bad(f"{name}: outside the namespace {NAMESPACE}", where, doc)
        elif kind == "CustomResourceDefinition" and not str(meta.get("name")).endswith(
            ".toolkit.fluxcd.io"
        ):
            bad(f"{name}: not a Flux CRD (*.toolkit.fluxcd.io)", where, doc)
        elif kind == "ClusterRoleBinding" and not _flux_subjects(data.get("subjects")):
            bad(f"{name}: binds subjects other than service accounts of {NAMESPACE}", where, doc)
        elif kind == "Deployment" and not _flux_images(data):
            bad(f"{name}: runs an image not from {IMAGE_PREFIX}", where, doc)


def _flux_subjects(subjects: Any) -> bool:
    return isinstance(subjects, list) and all(
        isinstance(s, dict)
        and s.get("kind") == "ServiceAccount"
        and s.get("namespace") == NAMESPACE
        for s in subjects
    )


def _flux_images(deployment: dict[str, Any]) -> bool:
    spec = deployment.get("spec") if isinstance(deployment.get("spec"), dict) else {}
    template = spec.get("template") if isinstance(spec.get("template"), dict) else {}
    pod = template.get("spec") if isinstance(template.get("spec"), dict) else {}
    containers = [*(pod.get("containers") or []), *(pod.get("initContainers") or [])]
    return all(
        isinstance(c, dict) and str(c.get("image", "")).startswith(IMAGE_PREFIX) for c in containers
    ) and not pod.get("ephemeralContainers")
