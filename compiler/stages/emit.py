"""Where each rendered object goes, and the bytes of every output file. Pure.

``<cluster>/<namespace>/<kind>[.<group>]_<name>.yaml`` for namespaced objects and
``<cluster>/_cluster/...`` for cluster-scoped ones (``_`` cannot begin a namespace name; objects
in namespace flux-system go to ``_flux-system/``, as ``flux-system/`` is bootstrap's), plus
a ``kustomization.yaml`` per cluster listing them. Objects of a bundle go below
``<cluster>/<bundle>/`` with a kustomization of their own that the root does not include.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from ..core import secrets, yamlout
from ..core.output_layout import (
    FLUX_SYSTEM,
    KUSTOMIZATION,
    distinct,
    object_path,
)
from ..core.placed import ClusterObjects, RenderedObject
from ..core.reporter import SILENT, Reporter

# Bytes all output files of one run may hold together. The 10,000-cluster benchmark fleet
# (benchmarks/fleetgen.py, about 460,000 files of 324 bytes on average) needs about 150 MB;
# a 1 MiB ConfigMap placed on 400 clusters (411 MB) does not fit.
MAX_OUTPUT_BYTES = 256 * 1024 * 1024


class OutputTooLarge(Exception):
    """The output passed ``MAX_OUTPUT_BYTES``; names the largest object written so far."""

    def __init__(self, limit: int, cluster: str, largest: RenderedObject, size: int) -> None:
        super().__init__(limit, cluster)
        self.limit, self.cluster, self.largest, self.size = limit, cluster, largest, size


def annotated(body: dict[str, Any], notes: dict[str, str]) -> dict[str, Any]:
    """A shallow copy of ``body`` with ``notes`` merged into its annotations."""
    metadata = dict(body.get("metadata") or {})
    metadata["annotations"] = {**(metadata.get("annotations") or {}), **notes}
    return {**body, "metadata": metadata}


def kustomization(resources: Iterable[str]) -> bytes:
    doc = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": list(resources),
    }
    return yamlout.dump(doc).encode("utf-8")


def files(
    clusters: ClusterObjects,
    flux_system: frozenset[str] = frozenset(),
    reporter: Reporter = SILENT,
    limit: int | None = None,
) -> dict[str, bytes]:
    """Every output file, keyed by its path relative to the output folder.

    Raises ``OutputTooLarge`` as soon as the files hold more than ``limit`` bytes together."""
    limit = MAX_OUTPUT_BYTES if limit is None else limit
    out: dict[str, bytes] = {}
    total = 0
    largest: tuple[int, RenderedObject] | None = None
    cache: dict[tuple[int, tuple[tuple[str, str], ...]], bytes] = {}
    for cluster, objects in reporter.progress("serialize", list(clusters.items())):
        bundles: dict[str, list[str]] = defaultdict(list)
        for key in sorted(objects):
            obj = objects[key]
            rel = object_path(key)
            if _join(cluster, obj.bundle, rel) in out:
                # Names that differ only in case (or escape alike) would share a file: the
                # later one, in key order, gets a distinct name.
                rel = distinct(rel.removesuffix(".yaml"), key) + ".yaml"
            data = out[_join(cluster, obj.bundle, rel)] = _serialise(obj, cache)
            bundles[obj.bundle].append(rel)
            total += len(data)
            if largest is None or len(data) > largest[0]:
                largest = (len(data), obj)
            if total > limit:
                raise OutputTooLarge(limit, cluster, largest[1], largest[0])
        for bundle, paths in sorted(bundles.items()):
            if bundle:
                out[_join(cluster, bundle, KUSTOMIZATION)] = kustomization(sorted(paths))
        root = sorted(bundles.get("", []))
        if cluster in flux_system:
            root.append(FLUX_SYSTEM)
        out[_join(cluster, "", KUSTOMIZATION)] = kustomization(root)
    return dict(sorted(out.items()))


def _join(cluster: str, bundle: str, rel: str) -> str:
    return f"{cluster}/{bundle}/{rel}" if bundle else f"{cluster}/{rel}"


def _serialise(obj: RenderedObject, cache: dict) -> bytes:
    """Each distinct (body, provenance) is serialised once, however many clusters share it.

    A SOPS-encrypted object is written as it is: its MAC covers every value and the order of
    its keys, so an added annotation would make decryption on the cluster fail.
    """
    sops = secrets.has_sops_metadata(obj.body)
    notes = {} if sops else obj.provenance
    key = (id(obj.body), tuple(notes.items()))
    data = cache.get(key)
    if data is None:
        body = obj.body if sops else yamlout.ordered(annotated(obj.body, notes))
        data = cache[key] = yamlout.dump(body).encode("utf-8")
    return data
