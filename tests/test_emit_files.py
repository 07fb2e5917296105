"""emit.files lays out each shape of cluster once and serialises each distinct object once;
the files are those of the straightforward algorithm (kept here as the reference): every
cluster's objects in key order, every object serialised by PyYAML."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import pytest
from fleetc.core import secrets, yamlout
from fleetc.core.model import ObjectKey
from fleetc.core.output_layout import FLUX_SYSTEM, KUSTOMIZATION, distinct, object_path
from fleetc.core.placed import ClusterObjects, RenderedObject
from fleetc.stages import emit
from hypothesis import given, settings
from hypothesis import strategies as st


def reference_files(clusters: ClusterObjects, flux_system: frozenset[str]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for cluster, objects in clusters.items():
        bundles: dict[str, list[str]] = defaultdict(list)
        for key in sorted(objects):
            obj = objects[key]
            rel = object_path(key)
            if join(cluster, obj.bundle, rel) in out:
                rel = distinct(rel.removesuffix(".yaml"), key) + ".yaml"
            if secrets.has_sops_metadata(obj.body):
                body = obj.body
            else:
                body = yamlout.ordered(emit.annotated(obj.body, obj.provenance))
            out[join(cluster, obj.bundle, rel)] = yamlout.dump_with_pyyaml(body).encode("utf-8")
            bundles[obj.bundle].append(rel)
        for bundle, paths in sorted(bundles.items()):
            if bundle:
                out[join(cluster, bundle, KUSTOMIZATION)] = kustomization(sorted(paths))
        root = sorted(bundles.get("", []))
        if cluster in flux_system:
            root.append(FLUX_SYSTEM)
        out[join(cluster, "", KUSTOMIZATION)] = kustomization(root)
    return dict(sorted(out.items()))


def join(cluster: str, bundle: str, rel: str) -> str:
    return f"{cluster}/{bundle}/{rel}" if bundle else f"{cluster}/{rel}"


def kustomization(resources: list[str]) -> bytes:
    doc = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    return yamlout.dump_with_pyyaml({**doc, "resources": resources}).encode("utf-8")


# Names that differ only in case share a file name, and so may long ones (truncated).
NAMES = st.sampled_from(["web", "Web", "WEB", "x" * 300, "X" * 300, "a:b"])
KEYS = st.builds(
    ObjectKey,
    group=st.sampled_from(["", "apps"]),
    kind=st.just("ConfigMap"),
    namespace=st.sampled_from(["app", "flux-system"]),
    name=NAMES,
)
BODIES = st.sampled_from(
    [
        {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v\nw\n", "n": "1"}},
        {"kind": "ConfigMap", "metadata": {"labels": {"a": "yes"}, "name": "cfg"}},
        {"metadata": {"annotations": {"x": ": y"}}, "spec": {"ports": [80, {"p": None}]}},
        {"apiVersion": "v1", "kind": "Secret", "data": {"k": "ENC"}, "sops": {"mac": "m"}},
        {"apiVersion": "v1", "spec": {"when": 1.5, "odd": {1: "int key"}}},
    ]
)
OBJECTS = st.builds(
    RenderedObject,
    key=st.none(),
    body=BODIES,
    source=st.sampled_from(["hub/a.yaml", "hub/b.yaml"]),
    placements=st.sampled_from([(), ("p1",), ("p1", "p2")]),
    bundle=st.sampled_from(["", "", "infra"]),
    overrides=st.sampled_from([(), ("ro-1",)]),
)


@st.composite
def fleets(draw: st.DrawFn) -> tuple[ClusterObjects, frozenset[str]]:
    """Clusters that often share their shape and their bodies (as the placing stages share
    them), and sometimes do not."""
    shapes = draw(st.lists(st.dictionaries(KEYS, OBJECTS, max_size=6), min_size=1, max_size=3))
    names = draw(st.lists(st.sampled_from(["c1", "c2", "c10", "c1-a", "z"]), unique=True))
    clusters: ClusterObjects = {}
    for name in names:
        shape = draw(st.sampled_from(shapes))
        keys = draw(st.permutations(list(shape)))
        bundles = draw(
            st.lists(st.sampled_from(["", "infra"]), min_size=len(keys), max_size=len(keys))
        )
        clusters[name] = {
            key: replace(shape[key], key=key, bundle=bundle if draw(st.booleans()) else "")
            for key, bundle in zip(keys, bundles, strict=True)
        }
    flux = draw(st.frozensets(st.sampled_from(names))) if names else frozenset()
    return clusters, flux


@settings(max_examples=300, deadline=None)
@given(fleets())
def test_files_are_those_of_the_reference(fleet):
    clusters, flux = fleet
    assert emit.files(clusters, flux) == reference_files(clusters, flux)
    assert list(emit.files(clusters, flux)) == list(reference_files(clusters, flux))


@settings(max_examples=200, deadline=None)
@given(fleets())
def test_the_texts_it_shares_are_each_objects_annotated_yaml(fleet):
    """``serialised`` (what the diff reuses) holds, by ``text_key``, an object's annotated YAML:
    for a SOPS-encrypted object, whose file is its body as written, nothing under that key."""
    clusters, flux = fleet
    serialised: dict = {}
    assert emit.files(clusters, flux, serialised=serialised) == reference_files(clusters, flux)
    for objects in clusters.values():
        for obj in objects.values():
            text = yamlout.dump_object(emit.annotated(obj.body, obj.provenance))
            shared = serialised.get(emit.text_key(obj))
            assert shared == (None if secrets.has_sops_metadata(obj.body) else text)


def shared_fleet(count: int) -> ClusterObjects:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}}
    objects = {
        ObjectKey("", "ConfigMap", ns, "cfg"): RenderedObject(
            ObjectKey("", "ConfigMap", ns, "cfg"), body, "hub/a.yaml", ("p",)
        )
        for ns in ("a", "b", "c")
    }
    return {f"c{i}": dict(objects) for i in range(count)}


def test_clusters_of_one_shape_are_laid_out_once(monkeypatch: pytest.MonkeyPatch):
    calls: list[list[str]] = []
    original = emit.kustomization
    monkeypatch.setattr(emit, "kustomization", lambda paths: calls.append(paths) or original(paths))
    files = emit.files(shared_fleet(50))
    assert len(files) == 50 * 4 and len(calls) == 1


def test_an_object_shared_by_clusters_is_serialised_once(monkeypatch: pytest.MonkeyPatch):
    dumped: list[object] = []
    original = yamlout.dump
    monkeypatch.setattr(yamlout, "dump", lambda data: dumped.append(data) or original(data))
    emit.files(shared_fleet(50))
    assert len(dumped) == 1 + 1  # the ConfigMap and the one layout's kustomization
