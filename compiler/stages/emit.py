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
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from ..core import secrets, yamlout
from ..core.model import ObjectKey
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


@dataclass(frozen=True)
class _Layout:
    """One cluster's files, relative to its folder: each object's path (by the object's
    position in the cluster's mapping, in key order) and the kustomizations' bytes."""

    objects: tuple[tuple[int, str], ...]
    kustomizations: tuple[tuple[str, bytes], ...]


# An object's key in ObjectKey's order (group, kind, namespace, name) as a tuple: faster to
# sort by and to hash than the dataclass.
_order = attrgetter("group", "kind", "namespace", "name")
_bundle = attrgetter("bundle")


def files(
    clusters: ClusterObjects,
    flux_system: frozenset[str] = frozenset(),
    reporter: Reporter = SILENT,
    limit: int | None = None,
    serialised: dict[tuple[Any, ...], bytes] | None = None,
) -> dict[str, bytes]:
    """Every output file, keyed by its path relative to the output folder.

    Clusters with the same keys and bundles share one layout. Raises ``OutputTooLarge`` as
    soon as the files hold more than ``limit`` bytes together. ``serialised``, when given,
    is filled with each distinct object's annotated YAML, by ``text_key`` (what the diff
    compares: a SOPS-encrypted object's file is not that, and is kept under another key)."""
    limit = MAX_OUTPUT_BYTES if limit is None else limit
    out: dict[str, bytes] = {}
    total = 0
    largest: tuple[int, RenderedObject] | None = None
    layouts: dict[tuple[Any, ...], _Layout] = {}
    cache: dict[tuple[Any, ...], bytes] = {} if serialised is None else serialised
    for cluster, objects in reporter.progress("serialize", list(clusters.items())):
        flux = cluster in flux_system
        shape = (tuple(map(_order, objects)), tuple(map(_bundle, objects.values())), flux)
        layout = layouts.get(shape)
        if layout is None:
            layout = layouts[shape] = _layout(list(objects.items()), flux)
        placed = list(objects.values())
        for index, rel in layout.objects:
            obj = placed[index]
            data = out[f"{cluster}/{rel}"] = _serialise(obj, cache)
            total += len(data)
            if largest is None or len(data) > largest[0]:
                largest = (len(data), obj)
            if total > limit:
                raise OutputTooLarge(limit, cluster, largest[1], largest[0])
        for rel, data in layout.kustomizations:
            out[f"{cluster}/{rel}"] = data
    return {path: out[path] for path in sorted(out)}


def _layout(placed: list[tuple[ObjectKey, RenderedObject]], flux_system: bool) -> _Layout:
    objects: dict[str, int] = {}
    bundles: dict[str, list[str]] = defaultdict(list)
    for index, (key, obj) in sorted(enumerate(placed), key=lambda item: _order(item[1][0])):
        rel = object_path(key)
        if _join(obj.bundle, rel) in objects:
            # Names that differ only in case (or escape alike) would share a file: the
            # later one, in key order, gets a distinct name.
            rel = distinct(rel.removesuffix(".yaml"), key) + ".yaml"
        objects[_join(obj.bundle, rel)] = index
        bundles[obj.bundle].append(rel)
    kustomizations = [
        (_join(bundle, KUSTOMIZATION), kustomization(sorted(rels)))
        for bundle, rels in sorted(bundles.items())
        if bundle
    ]
    root = sorted(bundles.get("", []))
    if flux_system:
        root.append(FLUX_SYSTEM)
    kustomizations.append((KUSTOMIZATION, kustomization(root)))
    return _Layout(tuple((index, rel) for rel, index in objects.items()), tuple(kustomizations))


def _join(bundle: str, rel: str) -> str:
    return f"{bundle}/{rel}" if bundle else rel


def _serialise(obj: RenderedObject, cache: dict[tuple[Any, ...], bytes]) -> bytes:
    """Each distinct (body, provenance) is serialised once, however many clusters share it.

    A SOPS-encrypted object is written as it is: its MAC covers every value and the order of
    its keys, so an added annotation would make decryption on the cluster fail.
    """
    key = text_key(obj)
    data = cache.get(key)
    if data is not None:
        return data
    if secrets.has_sops_metadata(obj.body):
        key = (*key, _AS_WRITTEN)  # not its annotated YAML: not under text_key
        data = cache.get(key)
        if data is None:
            data = cache[key] = yamlout.dump(obj.body).encode("utf-8")
        return data
    body = yamlout.ordered(annotated(obj.body, obj.provenance))
    data = cache[key] = yamlout.dump(body).encode("utf-8")
    return data


_AS_WRITTEN = "as written"  # the key of a SOPS-encrypted object's bytes: not its annotated YAML


def text_key(obj: RenderedObject) -> tuple[Any, ...]:
    """What an object's annotated YAML is made of (its body and what its provenance is made
    of), without building the provenance: objects with the same key have the same text."""
    return (id(obj.body), obj.source, obj.placements, obj.overrides)
