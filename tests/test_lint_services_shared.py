"""FLEET005 / FLEET006 judge each Service once per body and pod templates that clusters share:
the warnings are those of judging it on every cluster (the reference below)."""

from __future__ import annotations

from typing import Any

from fleetc.core import lints
from fleetc.core.diagnostics import Diagnostics
from fleetc.core.model import Fleet, ObjectKey
from fleetc.core.placed import ClusterObjects, RenderedObject
from fleetc.core.yamlsource import Document
from fleetc.stages import lint
from fleetc.stages.override import Overridden
from fleetc.stages.templates import Expanded
from hypothesis import given, settings
from hypothesis import strategies as st

SERVICE = ObjectKey("", "Service", "app", "web")
DEPLOYMENT = ObjectKey("apps", "Deployment", "app", "web")
JOB = ObjectKey("batch", "Job", "app", "once")
OTHER = ObjectKey("apps", "Deployment", "other", "web")


def _service(selector: dict[str, str], *targets: Any) -> dict[str, Any]:
    ports = [{"port": 80, "targetPort": t} for t in targets]
    return {"kind": "Service", "spec": {"selector": selector, "ports": ports}}


def _workload(labels: dict[str, str], *ports: str) -> dict[str, Any]:
    containers = [{"name": "c", "ports": [{"name": p} for p in ports]}]
    return {
        "spec": {"template": {"metadata": {"labels": labels}, "spec": {"containers": containers}}}
    }


VARIANTS = {
    SERVICE: [
        _service({"app": "web"}, "http"),
        _service({"app": "web"}, "http", "metrics", "metrics", 8080),
        _service({"app": "api"}, "http"),
    ],
    DEPLOYMENT: [_workload({"app": "web"}, "http"), _workload({"app": "web"}), _workload({})],
    JOB: [_workload({"app": "web"}, "metrics")],
    OTHER: [_workload({"app": "web"}, "metrics")],
}
OBJECTS = {
    key: [RenderedObject(key, body, "hub/app.yaml") for body in bodies]
    for key, bodies in VARIANTS.items()
}


def reference(clusters: ClusterObjects) -> tuple[dict, dict]:
    """Each Service judged on each cluster on its own (the lint before sharing)."""
    lonely: dict = {}
    unnamed: dict = {}
    for cluster, objects in clusters.items():
        for key, obj in objects.items():
            if key.kind != "Service":
                continue
            selector = obj.body["spec"]["selector"]
            pods = [
                t
                for t in lint._pod_templates(objects).get(key.namespace, [])
                if all(lint._labels(t).get(k) == v for k, v in selector.items())
            ]
            if not pods:
                lonely.setdefault(key, []).append(cluster)
                continue
            names = set().union(*(lint._port_names(t) for t in pods))
            for port in obj.body["spec"]["ports"]:
                target = port["targetPort"]
                if isinstance(target, str) and target not in names:
                    unnamed.setdefault((key, target), []).append(cluster)
    return lonely, unnamed


clusters = st.lists(
    st.dictionaries(st.sampled_from(list(OBJECTS)), st.integers(0, 2), max_size=4),
    min_size=1,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(clusters)
def test_shared_verdicts_are_the_per_cluster_ones(picked):
    placed = {
        f"c{i}": {key: OBJECTS[key][n % len(OBJECTS[key])] for key, n in chosen.items()}
        for i, chosen in enumerate(picked)
    }
    doc = Document({}, "fleet.yaml")
    given_input = lint.LintInput(Expanded(Fleet(doc, ())), {}, {}, Overridden(placed), placed)
    diags = Diagnostics()
    lint._services(given_input, lints.Linter(diags))
    lonely, unnamed = reference(placed)
    want = [
        f"Service app/web selects no pod template placed with it on cluster(s) "
        f"{', '.join(names)}: it has no endpoints there"
        for _key, names in sorted(lonely.items())
    ] + [
        f"Service app/web targets port {target!r}, which no container it selects names on "
        f"cluster(s) {', '.join(names)}"
        for (_key, target), names in sorted(unnamed.items())
    ]
    assert [d.message for d in diags.items] == want
