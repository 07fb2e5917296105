"""One side of a diff, as data: what ``views.diff.compare`` reads of a compilation. Pure.

A side is made from a compilation (``of``), or recalled from the plain JSON data ``to_data``
gives (``from_data``), so that ``fleetc diff`` compiles a base commit once. Each object is kept
as the text the diff compares (its annotated body as YAML), each distinct text once; a recalled
body is parsed back from its text only where Secret values may need redacting.

Recalled data is checked, never trusted: any other shape is no side at all (None).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter
from typing import TYPE_CHECKING, Any, NamedTuple

import yaml

from ..core import yamlout
from ..core.model import Cluster
from ..core.output_layout import object_path
from ..core.placed import RenderedObject
from ..stages import emit as layout

if TYPE_CHECKING:
    from ..pipeline import Compilation

FORMAT = 1
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# An object's key as a tuple of ObjectKey's fields, in its order: faster to hash and sort.
Key = tuple[str, str, str, str]
_key_of = attrgetter("group", "kind", "namespace", "name")


class Item(NamedTuple):
    """One object on one cluster."""

    rel: str  # its path relative to the cluster's folder
    text: str  # its annotated body as YAML: what the diff compares and shows
    obj: RenderedObject | None = None  # the object itself, when the side was compiled


class Decided(NamedTuple):
    """A recalled scheduling decision: what the diff names of it."""

    cluster: str
    selected: bool
    reason: str
    evicted_by: str = ""
    kept_by_lock: str = ""


@dataclass(frozen=True)
class Decisions:
    """A recalled placement outcome."""

    decisions: tuple[Decided, ...]

    @property
    def selected(self) -> list[str]:
        return [d.cluster for d in self.decisions if d.selected]


@dataclass(frozen=True)
class Spec:
    """A recalled placement: a ResourcePlacement has a namespace."""

    namespace: str
    spec: dict[str, Any]


@dataclass(frozen=True)
class Staged:
    """A recalled staged rollout: the snapshot each cluster runs, and the newest."""

    clusters: dict[str, int]
    newest: int


@dataclass(frozen=True)
class Side:
    """A compiled side holds the compilation's own placements, outcomes and rollouts (the
    attributes the diff reads have the same names); a recalled one, the classes above."""

    output: str  # the fleet's spec.output
    clusters: dict[str, dict[str, Any]]  # inventory cluster -> facts (``cluster_facts``)
    placements: Mapping[str, Any]  # name -> .namespace, .spec
    outcomes: Mapping[str, Any]  # name -> .selected, .decisions
    flux_system: frozenset[str]
    rollout: Mapping[str, Any]  # staged placement -> .clusters, .newest
    objects: dict[str, dict[Key, Item]]  # every cluster's objects
    # Recalled: the body of each text that may hold a Secret, parsed back.
    bodies: dict[str, dict[str, Any]]

    def body(self, item: Item) -> dict[str, Any]:
        """The annotated body of ``item``."""
        if item.obj is not None:
            return layout.annotated(item.obj.body, item.obj.provenance)
        return self.bodies[item.text]


def cluster_facts(cluster: Cluster) -> dict[str, Any]:
    return {
        "labels": dict(cluster.labels),
        "taints": sorted(t.readable() for t in cluster.taints),
        "state": cluster.state,
        "kubernetesVersion": cluster.kubernetes_version,
    }


def may_redact(text: str) -> bool:
    """False when the object cannot be a Secret or a List of them (redaction leaves it as it
    is); its kind is in its text as written."""
    return "Secret" in text or "List" in text


def of(
    comp: Compilation, output: str = "", serialised: Mapping[tuple[Any, ...], bytes] | None = None
) -> Side:
    """The side of ``comp`` (whose fleet writes into ``output``). Each distinct (body,
    provenance) is serialised once (or taken from ``serialised``, the emit stage's texts by
    ``emit.text_key``), each key's path found once."""
    serialised = serialised or {}
    texts: dict[tuple[Any, ...], str] = {}
    rels: dict[str, dict[Key, str]] = {}  # bundle -> key -> path
    objects: dict[str, dict[Key, Item]] = {}
    for cluster, placed in comp.clusters.items():
        items: dict[Key, Item] = {}
        for object_key, obj in placed.items():
            key = _key_of(object_key)
            made_of = layout.text_key(obj)
            text = texts.get(made_of)
            if text is None:
                data = serialised.get(made_of)
                if data is None:
                    data = yamlout.dump_object(layout.annotated(obj.body, obj.provenance))
                text = texts[made_of] = data.decode("utf-8")
            in_bundle = rels.setdefault(obj.bundle, {})
            rel = in_bundle.get(key)
            if rel is None:
                rel = object_path(object_key)
                rel = in_bundle[key] = f"{obj.bundle}/{rel}" if obj.bundle else rel
            items[key] = Item(rel, text, obj)
        objects[cluster] = items
    return Side(
        output,
        {name: cluster_facts(c) for name, c in comp.fleet.clusters.items()},
        {p.name: p for p in comp.fleet.placements},
        comp.outcomes,
        comp.flux_system,
        comp.rollout.placements,
        objects,
        {},
    )


# -- as plain data -----------------------------------------------------------------------------


def to_data(side: Side) -> dict[str, Any] | None:
    """``side`` as JSON data; None when something in it would not come back the same (a
    placement spec that is not plain JSON data, a body its text does not read back as)."""
    try:
        return _data(side)
    except _Shape:
        return None


def _data(side: Side) -> dict[str, Any]:
    clusters = {
        name: [f["labels"], f["taints"], f["state"], f["kubernetesVersion"]]
        for name, f in side.clusters.items()
    }
    for entry in clusters.values():
        _facts(entry)
    placements = {}
    for name, placement in side.placements.items():
        _need(_is(placement.namespace, str) and _is(placement.spec, dict))
        _need(_plain(placement.spec))
        placements[name] = [placement.namespace, placement.spec]
    outcomes = {
        name: [
            [d.cluster, d.selected, d.reason, d.evicted_by, d.kept_by_lock]
            for d in outcome.decisions
        ]
        for name, outcome in side.outcomes.items()
    }
    for entries in outcomes.values():
        for entry in entries:
            _decided(entry)
    rollout = {name: [r.newest, dict(r.clusters)] for name, r in side.rollout.items()}
    for newest, snapshots in rollout.values():
        _need(_is(newest, int) and all(_is(n, int) for n in _mapping(snapshots, int).values()))
    keys: dict[Key, int] = {}
    rels: dict[str, int] = {}
    texts: dict[str, int] = {}
    objects: dict[str, list[int]] = {}
    for cluster, items in side.objects.items():
        flat: list[int] = []
        for key, item in items.items():
            if item.text not in texts and may_redact(item.text):
                # Redaction reads the body back from the text: it must be the same body, and
                # give the same text again.
                body = _parsed(item.text)
                _need(body == side.body(item))
                _need(yamlout.dump_object(body).decode("utf-8") == item.text)
            flat += (
                keys.setdefault(key, len(keys)),
                rels.setdefault(item.rel, len(rels)),
                texts.setdefault(item.text, len(texts)),
            )
        objects[cluster] = flat
    _need(all(all(_is(part, str) for part in k) for k in keys))
    return {
        "format": FORMAT,
        "output": side.output,
        "clusters": clusters,
        "placements": placements,
        "outcomes": outcomes,
        "fluxSystem": sorted(side.flux_system),
        "rollout": rollout,
        "keys": [list(k) for k in keys],
        "paths": list(rels),
        "texts": list(texts),
        "objects": objects,
    }


class _Shape(Exception):
    """The data is not what ``to_data`` writes."""


def from_data(data: Any) -> Side | None:
    """The side ``to_data`` wrote; None for anything else."""
    try:
        return _side(data)
    except (_Shape, LookupError, TypeError, ValueError):  # the last three: a bug, not a crash
        return None


def _side(data: Any) -> Side:
    _need(isinstance(data, dict) and data.get("format") == FORMAT)
    clusters = {name: _facts(facts) for name, facts in _mapping(data.get("clusters"), list).items()}
    placements = {}
    for name, entry in _mapping(data.get("placements"), list).items():
        _need(len(entry) == 2 and _is(entry[0], str) and isinstance(entry[1], dict))
        placements[name] = Spec(entry[0], entry[1])
    outcomes = {
        name: Decisions(tuple(_decided(d) for d in entry))
        for name, entry in _mapping(data.get("outcomes"), list).items()
    }
    flux = _list(data.get("fluxSystem"), str)
    rollout = {}
    for name, entry in _mapping(data.get("rollout"), list).items():
        _need(len(entry) == 2 and _is(entry[0], int))
        rollout[name] = Staged(_mapping(entry[1], int), entry[0])
    keys: list[Key] = []
    for k in _list(data.get("keys"), list):
        group, kind, namespace, name = _strings(k, 4)
        keys.append((group, kind, namespace, name))
    rels = _list(data.get("paths"), str)
    texts = _list(data.get("texts"), str)
    objects: dict[str, dict[Key, Item]] = {}
    for cluster, flat in _mapping(data.get("objects"), list).items():
        _need(len(flat) % 3 == 0 and _only(flat, int))
        _need(not flat or (min(flat) >= 0 and max(flat[0::3]) < len(keys)))
        _need(not flat or (max(flat[1::3]) < len(rels) and max(flat[2::3]) < len(texts)))
        rel, text = map(rels.__getitem__, flat[1::3]), map(texts.__getitem__, flat[2::3])
        found = map(Item._make, zip(rel, text, repeat(None), strict=False))
        items = dict(zip(map(keys.__getitem__, flat[0::3]), found, strict=True))
        _need(len(items) * 3 == len(flat))  # a key twice on one cluster
        objects[cluster] = items
    output = data.get("output")
    _need(_is(output, str))
    bodies = {text: _parsed(text) for text in texts if may_redact(text)}
    return Side(output, clusters, placements, outcomes, frozenset(flux), rollout, objects, bodies)


def _need(condition: bool) -> None:
    if not condition:
        raise _Shape


def _is(value: Any, kind: type) -> bool:
    """Exactly of type ``kind`` (True is not an int here)."""
    return type(value) is kind


def _only(values: Iterable[Any], kind: type) -> bool:
    """Every value is exactly of type ``kind``."""
    return set(map(type, values)) <= {kind}


def _list(value: Any, kind: type) -> list[Any]:
    _need(isinstance(value, list) and _only(value, kind))
    return value


def _mapping(value: Any, kind: type) -> dict[str, Any]:
    _need(isinstance(value, dict) and _only(value, str) and _only(value.values(), kind))
    return value


def _strings(value: list[Any], count: int) -> list[str]:
    _need(len(value) == count and _only(value, str))
    return value


def _facts(entry: list[Any]) -> dict[str, Any]:
    _need(len(entry) == 4)
    labels, taints, state, version = entry
    _need(_is(state, str) and (version is None or _is(version, str)))
    return {
        "labels": _mapping(labels, str),
        "taints": _list(taints, str),
        "state": state,
        "kubernetesVersion": version,
    }


_DECIDED = (str, bool, str, str, str)


def _decided(entry: Any) -> Decided:
    _need(_is(entry, list) and tuple(map(type, entry)) == _DECIDED)
    return Decided._make(entry)


def _parsed(text: str) -> dict[str, Any]:
    """The body ``text`` was dumped from: the safe loader reads back what ``yamlout`` writes
    (which never writes anchors or aliases; a text that has them was not written by it)."""
    try:
        for event in yaml.parse(text, Loader=_SafeLoader):
            _need(not isinstance(event, yaml.AliasEvent) and getattr(event, "anchor", None) is None)
        body = yaml.load(text, Loader=_SafeLoader)
    except yaml.YAMLError as exc:
        raise _Shape from exc
    _need(isinstance(body, dict))
    return body


def _plain(value: Any) -> bool:
    """JSON data that reads back as the same values of the same types."""
    if isinstance(value, dict):
        return all(_is(k, str) and _plain(v) for k, v in value.items()) and _is(value, dict)
    if isinstance(value, list):
        return _is(value, list) and all(_plain(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)
