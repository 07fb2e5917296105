"""The override stage shares its work between clusters alike: rules are decided once per object
and per combination of the cluster labels they read, patches once per object and operations.
The result must be what deciding and patching every object on every cluster gives (the
reference below), diagnostics included; and no later stage may change a shared object."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from conftest import REPO
from fleetc import pipeline
from fleetc.core.diagnostics import Diagnostics
from fleetc.core.model import Cluster, Fleet, ObjectKey
from fleetc.core.placed import ClusterObjects, RenderedObject
from fleetc.core.yamlsource import Document
from fleetc.shell.compile import compile_file
from fleetc.stages import override
from fleetc.stages.override import RO, Override
from hypothesis import given, settings
from hypothesis import strategies as st

DOC = Document({}, "fleet.yaml")
DEPLOYMENT = ObjectKey("apps", "Deployment", "app", "web")
CONFIGMAP = ObjectKey("", "ConfigMap", "app", "settings")
BODIES = {
    DEPLOYMENT: {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "app", "labels": {"app": "web"}},
        "spec": {"replicas": 1},
    },
    CONFIGMAP: {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "app", "labels": {"app": "web"}},
        "data": {"colour": "blue"},
    },
}
SELECTORS = {
    DEPLOYMENT: {"group": "apps", "version": "v1", "kind": "Deployment", "name": "web"},
    CONFIGMAP: {"group": "", "version": "v1", "kind": "ConfigMap", "name": "settings"},
}


def reference(
    fleet: Fleet, overrides: list[Override], placed: ClusterObjects, diags: Diagnostics
) -> tuple[ClusterObjects, dict, set]:
    """Every object on every cluster decided and patched on its own (the stage before sharing)."""
    by_resource = override.index_by_resource(overrides)
    clusters: ClusterObjects = {}
    deleted: dict = {}
    used: set = set()
    for name, objects in placed.items():
        cluster = fleet.clusters[name]
        result = clusters[name] = dict(objects)
        for key in sorted(objects):
            obj = objects[key]
            rules = override._rules_on(override.applicable(by_resource, obj), cluster)
            used.update((a.override.label, a.index) for a in rules)
            if not rules:
                continue
            if rules[-1].deletes:
                if len(rules) > 1:
                    override._apply_rules(obj, rules[:-1], cluster, diags)
                del result[key]
                deleted[(name, key)] = rules[-1]
                continue
            result[key] = override._apply_rules(obj, rules, cluster, diags)
    return clusters, deleted, used


LABELS = {"region": ["east", "west"], "env": ["prod", "dev"]}
VALUES = [
    "fixed",
    "${MEMBER-CLUSTER-LABEL-KEY-region}",
    "${MEMBER-CLUSTER-LABEL-KEY-env}",
    "${MEMBER-CLUSTER-NAME}-x",
    {"k-${MEMBER-CLUSTER-LABEL-KEY-env}": "${MEMBER-CLUSTER-LABEL-KEY-region}"},
    "${MEMBER-CLUSTER-LABEL-KEY-zone}",  # no cluster has it: an error on each cluster
    5,  # not a label value: an error on each cluster, but for /spec/replicas
]
# Most patches apply; some fail on some objects (a failed patch is not shared).
PATHS = ["/metadata/labels/app", "/metadata/labels/app", "/metadata/labels/tier"]
PATHS += ["/metadata/labels", "/spec/replicas"]

cluster_labels = st.fixed_dictionaries(
    {}, optional={key: st.sampled_from(values) for key, values in LABELS.items()}
)
requirement = st.one_of(
    st.builds(lambda v: {"matchLabels": {"region": v}}, st.sampled_from(LABELS["region"])),
    st.builds(
        lambda op, v: {"matchExpressions": [{"key": "env", "operator": op, "values": [v]}]},
        st.sampled_from(["In", "NotIn"]),
        st.sampled_from(LABELS["env"]),
    ),
    st.builds(
        lambda op: {"matchExpressions": [{"key": "env", "operator": op}]},
        st.sampled_from(["Exists", "DoesNotExist"]),
    ),
    st.just({}),
)
term = st.one_of(st.builds(lambda s: {"labelSelector": s}, requirement), st.just({}))
cluster_selector = st.one_of(
    st.none(), st.builds(lambda terms: {"clusterSelectorTerms": terms}, st.lists(term, max_size=2))
)


@st.composite
def patches(draw: st.DrawFn) -> dict:
    op = draw(st.sampled_from(["add", "replace", "remove"]))
    patch = {"op": op, "path": draw(st.sampled_from(PATHS))}
    if op != "remove":
        patch["value"] = draw(st.sampled_from(VALUES))
    return patch


@st.composite
def rules(draw: st.DrawFn) -> dict:
    rule: dict = {}
    selector = draw(cluster_selector)
    if selector is not None:
        rule["clusterSelector"] = selector
    if draw(st.integers(0, 7)) == 0:
        rule["overrideType"] = "Delete"
    else:
        rule["jsonPatchOverrides"] = draw(st.lists(patches(), min_size=1, max_size=2))
    return rule


@st.composite
def fleets(draw: st.DrawFn) -> tuple[Fleet, list[Override], ClusterObjects]:
    names = [f"c{i}" for i in range(draw(st.integers(2, 8)))]
    clusters = {n: Cluster(DOC, (), name=n, labels=draw(cluster_labels)) for n in names}
    overrides = []
    for number, key in enumerate(draw(st.lists(st.sampled_from(list(BODIES)), unique=True))):
        spec: dict = {
            "resourceSelectors": [SELECTORS[key]],
            "policy": {"overrideRules": draw(st.lists(rules(), min_size=1, max_size=3))},
        }
        if draw(st.integers(0, 3)) == 0:
            spec["placement"] = {"name": "first"}
        base = ("spec", "overrides", number)
        overrides.append(Override(DOC, base, f"ro{number}", RO, "app", spec))
    # Objects shared between clusters, as the place stage delivers hub objects, or not.
    shared = {
        (key, names): RenderedObject(key, body, "hub/app.yaml", names)
        for key, body in BODIES.items()
        for names in (("first",), ("second",))
    }
    placed: ClusterObjects = {}
    for name in names:
        placed[name] = {}
        for key in BODIES:
            if draw(st.integers(0, 3)) == 0:
                continue
            obj = shared[(key, draw(st.sampled_from([("first",), ("first",), ("second",)])))]
            placed[name][key] = obj if draw(st.booleans()) else copy.copy(obj)
    return Fleet(DOC, (), clusters=clusters), overrides, placed


@settings(max_examples=300, deadline=None)
@given(fleets())
def test_sharing_gives_what_patching_each_cluster_gives(case):
    fleet, overrides, placed = case
    want_diags, got_diags = Diagnostics(), Diagnostics()
    want, deleted, used = reference(fleet, overrides, placed, want_diags)
    got = override.apply(fleet, overrides, placed, got_diags)
    assert [d.format() for d in got_diags.items] == [d.format() for d in want_diags.items]
    assert got.deleted == deleted
    assert got.rules_used == frozenset(used)
    assert list(got.clusters) == list(want)
    for name, objects in want.items():
        assert list(got.clusters[name]) == list(objects)
        for key, obj in objects.items():
            mine = got.clusters[name][key]
            assert (mine.key, mine.source, mine.placements, mine.bundle, mine.overrides) == (
                obj.key,
                obj.source,
                obj.placements,
                obj.bundle,
                obj.overrides,
            )
            assert mine.body == obj.body
            assert mine.original is obj.original
    for objects in placed.values():  # the placed bodies are untouched
        for key, obj in objects.items():
            assert obj.body == BODIES[key]


def _fleet(
    labels: dict[str, dict[str, str]], value: str, selector: dict | None = None
) -> tuple[Fleet, list[Override], dict]:
    clusters = {n: Cluster(DOC, (), name=n, labels=lab) for n, lab in labels.items()}
    terms = [{"labelSelector": selector}] if selector else []
    rule = {
        "clusterSelector": {"clusterSelectorTerms": terms},
        "jsonPatchOverrides": [{"op": "add", "path": "/metadata/labels/at", "value": value}],
    }
    spec = {"resourceSelectors": [SELECTORS[DEPLOYMENT]], "policy": {"overrideRules": [rule]}}
    ro = Override(DOC, ("spec", "overrides", 0), "ro", RO, "app", spec)
    obj = RenderedObject(DEPLOYMENT, BODIES[DEPLOYMENT], "hub/app.yaml", ("first",))
    return Fleet(DOC, (), clusters=clusters), [ro], {n: {DEPLOYMENT: obj} for n in labels}


def test_clusters_that_agree_on_the_labels_read_share_one_object():
    labels = {
        "a": {"region": "east", "site": "a"},
        "b": {"region": "east", "site": "b"},
        "c": {"region": "west", "site": "c"},
    }
    fleet, overrides, placed = _fleet(labels, "${MEMBER-CLUSTER-LABEL-KEY-region}")
    result = override.apply(fleet, overrides, placed, Diagnostics()).clusters
    assert result["a"][DEPLOYMENT] is result["b"][DEPLOYMENT]
    assert result["a"][DEPLOYMENT].body["metadata"]["labels"]["at"] == "east"
    assert result["c"][DEPLOYMENT].body["metadata"]["labels"]["at"] == "west"


def test_a_value_naming_the_cluster_is_patched_per_cluster():
    labels = {"a": {"region": "east"}, "b": {"region": "east"}}
    fleet, overrides, placed = _fleet(labels, "${MEMBER-CLUSTER-NAME}")
    result = override.apply(fleet, overrides, placed, Diagnostics()).clusters
    assert [result[n][DEPLOYMENT].body["metadata"]["labels"]["at"] for n in "ab"] == ["a", "b"]


def _frozen(clusters: ClusterObjects) -> dict:
    """A deep copy of every object's fields, to compare after the compile."""
    return {
        name: {key: copy.deepcopy(vars(obj)) for key, obj in objects.items()}
        for name, objects in clusters.items()
    }


@pytest.mark.parametrize(
    "fleet_file", [REPO / "fleet.yaml", REPO / "examples/arc-metallb/fleet.yaml"]
)
def test_no_stage_changes_a_placed_or_overridden_object(monkeypatch, fleet_file: Path):
    """Place and override share objects and bodies between clusters: a later stage that edited
    one in place would edit it on every cluster."""
    seen: dict[str, tuple[ClusterObjects, dict]] = {}

    def keep(name, stage):
        def run(*args, **kwargs):
            result = stage(*args, **kwargs)
            seen[name] = (result.clusters, _frozen(result.clusters))
            return result

        return run

    monkeypatch.setattr(pipeline.place, "place", keep("place", pipeline.place.place))
    monkeypatch.setattr(pipeline.override, "override", keep("override", pipeline.override.override))
    compiled = compile_file(fleet_file, pipeline.Options())
    assert compiled.result.ok
    assert set(seen) == {"place", "override"}
    for clusters, before in seen.values():
        assert _frozen(clusters) == before


@pytest.mark.parametrize(
    "selector",
    [
        {"matchLabels": {"region": "east"}},
        {"matchExpressions": [{"key": "region", "operator": "In", "values": ["east"]}]},
        {"matchExpressions": [{"key": "region", "operator": "NotIn", "values": ["west"]}]},
    ],
)
def test_clusters_that_differ_in_a_selector_label_are_decided_apart(selector):
    labels = {"a": {"region": "east"}, "b": {"region": "west"}}
    fleet, overrides, placed = _fleet(labels, "fixed", selector)
    result = override.apply(fleet, overrides, placed, Diagnostics()).clusters
    assert result["a"][DEPLOYMENT].overrides == ("app/ro",)
    assert result["b"][DEPLOYMENT].overrides == ()
