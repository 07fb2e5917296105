"""Flux wiring: the objects that make Flux apply each cluster's folder and its bundles.

Per cluster, in the cluster's root (so the folder's own sync applies them):

- with ``spec.flux``, a GitRepository and a Kustomization named ``flux-system`` in namespace
  ``flux-system`` that sync ``<path>/<cluster>``, the shape and names ``flux bootstrap`` writes
  in ``flux-system/gotk-sync.yaml``. A cluster can start from ``flux install`` plus these two
  objects and later run ``flux bootstrap git --path=<path>/<cluster>`` without anything being
  renamed or pruned. When the folder already holds bootstrap's ``flux-system/``, they are left
  out: bootstrap's copies have the same names, and a duplicate would break the build.
- for every bundle on the cluster (a sub-folder the root kustomization does not include), a
  Kustomization named after the bundle: ``path`` to the bundle, ``prune: true``, ``wait: true``,
  ``dependsOn`` from the bundle dependencies the sections before declared, source the
  GitRepository ``flux-system``, and never ``targetNamespace``. Without ``spec.flux`` they use
  bootstrap's GitRepository.

``<path>`` is ``spec.flux.path`` as written, else ``spec.output`` below the fleet's folder in its
git repository (the load stage finds the repository's top): Flux reads paths from there.
Only the API versions the Flux CRDs serve (v1) are used.
"""

from __future__ import annotations

import posixpath
from typing import Any

from ...core import schema
from ...core.diagnostics import Diagnostic, Diagnostics, Position, Severity
from ...core.inputs import DEFAULT_OUTPUT
from ...core.model import ObjectKey
from ...core.placed import RenderedObject
from ..protocol import SectionInput, SectionOutput, object_key

SOURCE_API = "source.toolkit.fluxcd.io/v1"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
NAMESPACE = "flux-system"
SYNC_NAME = "flux-system"
DEFAULT_BRANCH = "main"
DEFAULT_SOURCE_INTERVAL = "1m"
DEFAULT_RECONCILE_INTERVAL = "10m"


class Flux:
    """fleet.yaml ``spec.flux``, and the Kustomizations that apply every bundle. Runs last: it
    wires the bundles the sections before it create."""

    status_key = None

    def generate(self, given: SectionInput, diags: Diagnostics) -> SectionOutput:
        out = SectionOutput()
        settings = given.fleet.spec.get("flux")
        if settings is not None and not schema.checker("flux")(settings):
            return out  # the model stage has reported why; nothing is written with errors
        base = output_path(given.fleet.spec, given.repo_prefix)
        for cluster, objects in given.clusters.items():
            if cluster in given.flux_system:
                _bootstrap_duplicates(cluster, objects, diags)
            for body in self._derived(given, cluster, objects, settings, base, diags):
                _add(given, out, cluster, body, diags)
        return out

    @staticmethod
    def _derived(
        given: SectionInput,
        cluster: str,
        objects: dict[ObjectKey, RenderedObject],
        settings: dict[str, Any] | None,
        base: str,
        diags: Diagnostics,
    ) -> list[dict[str, Any]]:
        derived: list[dict[str, Any]] = []
        if settings is not None and cluster not in given.flux_system:
            derived.append(source(settings))
            derived.append(
                kustomization(SYNC_NAME, _path(base, cluster), settings, dependencies=())
            )
        bundles = sorted({obj.bundle for obj in objects.values() if obj.bundle})
        for bundle in bundles:
            path = _path(base, cluster, bundle)
            deps = given.bundle_dependencies.get(bundle, ())
            if bundle in deps:
                diags.error(
                    f"the Flux Kustomization {bundle!r} that applies bundle {bundle!r} "
                    "would depend on itself",
                    given.fleet.pos(),
                    hint=f"name the Kustomization it waits for something other than {bundle!r}",
                )
                continue
            derived.append(kustomization(bundle, path, settings or {}, deps, wait=True))
        return derived


def _bootstrap_duplicates(
    cluster: str, objects: dict[ObjectKey, RenderedObject], diags: Diagnostics
) -> None:
    """On a bootstrapped cluster, flux-system/ already holds the sync pair: a placed object
    of the same kind and name would be a duplicate that breaks the cluster's kustomize build
    (with or without spec.flux)."""
    for key, obj in objects.items():
        if (
            key.namespace == NAMESPACE
            and key.name == SYNC_NAME
            and (key.group, key.kind)
            in (
                ("kustomize.toolkit.fluxcd.io", "Kustomization"),
                ("source.toolkit.fluxcd.io", "GitRepository"),
            )
        ):
            diags.error(
                f"{key} on cluster {cluster} duplicates the {key.kind} in the cluster's "
                "flux-system/, written by 'flux bootstrap': the cluster's kustomize build fails",
                Position(obj.source),
                hint="rename the object; bootstrap's flux-system/ already syncs the cluster",
            )


def _add(
    given: SectionInput, out: SectionOutput, cluster: str, body: dict[str, Any], diags: Diagnostics
) -> None:
    def clash(existing: RenderedObject) -> Diagnostic:
        return Diagnostic(
            Severity.ERROR,
            f"{existing.key} on cluster {cluster} is also the Flux object fleetc renders "
            f"to sync {body['spec'].get('path', 'the cluster')}",
            Position(existing.source),
            hint="rename the object, or remove it and let fleetc render it",
        )

    obj = RenderedObject(object_key(body), body, given.fleet.doc.file)
    out.add(given, cluster, obj, diags, clash)


def output_path(spec: dict[str, Any], repo_prefix: str = "") -> str:
    """The output folder relative to the git repository's top, without a trailing '/':
    ``spec.flux.path`` as written, else ``spec.output`` below the fleet's own folder."""
    flux = spec.get("flux") if isinstance(spec.get("flux"), dict) else {}
    if isinstance(flux.get("path"), str) and flux["path"]:
        return posixpath.normpath(flux["path"]).strip("/")
    output = spec.get("output")
    output = output if isinstance(output, str) and output else DEFAULT_OUTPUT
    return posixpath.normpath(posixpath.join(repo_prefix, output)).strip("/")


def _path(*parts: str) -> str:
    return "./" + "/".join(p for p in parts if p and p != ".")


OCI_SCHEME = "oci://"
DEFAULT_TAG = "latest"


def source_kind(settings: dict[str, Any]) -> str:
    """GitRepository, or OCIRepository for an ``oci://`` url (without spec.flux: bootstrap's
    GitRepository)."""
    url = settings.get("url")
    return (
        "OCIRepository"
        if isinstance(url, str) and url.startswith(OCI_SCHEME)
        else ("GitRepository")
    )


def source(settings: dict[str, Any]) -> dict[str, Any]:
    if source_kind(settings) == "OCIRepository":
        return oci_repository(settings)
    return git_repository(settings)


def oci_repository(settings: dict[str, Any]) -> dict[str, Any]:
    """An OCIRepository pulling the artifact ``flux push artifact`` made of the repository."""
    spec: dict[str, Any] = {"interval": settings.get("interval", DEFAULT_SOURCE_INTERVAL)}
    if settings.get("provider"):
        spec["provider"] = settings["provider"]
    if settings.get("semver"):
        spec["ref"] = {"semver": settings["semver"]}
    else:
        spec["ref"] = {"tag": settings.get("tag", DEFAULT_TAG)}
    if settings.get("secretRef"):
        spec["secretRef"] = {"name": settings["secretRef"]}
    spec["url"] = settings["url"]
    return _object(SOURCE_API, "OCIRepository", SYNC_NAME, spec)


def git_repository(settings: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "interval": settings.get("interval", DEFAULT_SOURCE_INTERVAL),
        "ref": {"branch": settings.get("branch", DEFAULT_BRANCH)},
    }
    if settings.get("secretRef"):
        spec["secretRef"] = {"name": settings["secretRef"]}
    spec["url"] = settings["url"]
    return _object(SOURCE_API, "GitRepository", SYNC_NAME, spec)


def kustomization(
    name: str,
    path: str,
    settings: dict[str, Any],
    dependencies: tuple[str, ...],
    *,
    wait: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "interval": settings.get("reconcileInterval", DEFAULT_RECONCILE_INTERVAL)
    }
    if dependencies:
        spec["dependsOn"] = [{"name": dep, "namespace": NAMESPACE} for dep in dependencies]
    decryption = settings.get("decryption")
    if isinstance(decryption, dict):
        spec["decryption"] = {
            "provider": decryption["provider"],
            "secretRef": {"name": decryption["secretRef"]},
        }
    spec["path"] = path
    spec["prune"] = True
    spec["sourceRef"] = {"kind": source_kind(settings), "name": SYNC_NAME, "namespace": NAMESPACE}
    if wait:
        spec["wait"] = True
    return _object(KUSTOMIZE_API, "Kustomization", name, spec)


def _object(api_version: str, kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": spec,
    }
