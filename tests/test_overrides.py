"""ClusterResourceOverride / ResourceOverride semantics on a fleet of four clusters."""

from __future__ import annotations

import textwrap

import pytest
from fleetc.core.model import ObjectKey
from fleetc.stages.override import forbidden_path
from hypothesis import given, settings
from hypothesis import strategies as st

DEPLOYMENT = ObjectKey("apps", "Deployment", "app", "web")
CONFIGMAP = ObjectKey("", "ConfigMap", "app", "settings")
NAMESPACE = ObjectKey("", "Namespace", "", "app")
CLUSTER_ROLE = ObjectKey("rbac.authorization.k8s.io", "ClusterRole", "", "reader")

HUB = """
apiVersion: v1
kind: Namespace
metadata:
  name: app
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: app
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: web
          image: web:1
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: app
data:
  colour: blue
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
rules: []
"""

FLEET = """
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: test
spec:
  placements:
    - name: apps
      resourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: app}
    - name: rbac
      resourceSelectors:
        - {group: rbac.authorization.k8s.io, version: v1, kind: ClusterRole, name: reader}
"""


def make_fleet(fleet_dir, overrides: str = "", hub_extra: str = ""):
    text = textwrap.dedent(FLEET).lstrip("\n")
    if overrides:
        text += "  overrides:\n" + textwrap.indent(textwrap.dedent(overrides).strip("\n"), "    ")
        text += "\n"
    fleet_dir.write("fleet.yaml", text)
    fleet_dir.write("hub/app.yaml", HUB)
    if hub_extra:
        fleet_dir.write("hub/overrides.yaml", hub_extra)
    fleet_dir.cluster("east-1", {"region": "east", "env": "prod"})
    fleet_dir.cluster("east-2", {"region": "east", "env": "staging"})
    fleet_dir.cluster("west-1", {"region": "west", "env": "prod"})
    fleet_dir.cluster("bare")
    return fleet_dir.compile()


def body(result, cluster, key=DEPLOYMENT):
    return result.compilation.clusters[cluster][key].body


def errors(result):
    return [d.format() for d in result.diagnostics.errors]


def ok(result):
    assert result.ok, errors(result)
    return result


RO_REPLICAS = """
- name: replicas
  kind: ResourceOverride
  namespace: app
  resourceSelectors:
    - {group: apps, version: v1, kind: Deployment, name: web}
  policy:
    overrideRules:
      - clusterSelector:
          clusterSelectorTerms:
            - labelSelector: {matchLabels: {env: prod}}
        jsonPatchOverrides:
          - {op: replace, path: /spec/replicas, value: 3}
"""


def test_patched_bodies_are_copies_and_the_hub_body_is_untouched(memory_fleet):
    result = ok(make_fleet(memory_fleet, RO_REPLICAS))
    hub = result.compilation.fleet.objects[DEPLOYMENT].body
    assert hub["spec"]["replicas"] == 1
    placed = result.compilation.clusters
    assert placed["east-2"][DEPLOYMENT].body is hub  # unpatched: still shared
    # The same patches on two clusters give one patched copy, serialised once.
    patched = placed["east-1"][DEPLOYMENT].body
    assert patched is placed["west-1"][DEPLOYMENT].body and patched is not hub
    assert patched["spec"]["replicas"] == 3


def test_provenance_lists_the_overrides_applied(memory_fleet):
    cro = """
    - name: ns-label
      kind: ClusterResourceOverride
      clusterResourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: app}
      policy:
        overrideRules:
          - clusterSelector: {clusterSelectorTerms: []}
            jsonPatchOverrides:
              - {op: add, path: /metadata/labels, value: {tier: app}}
    """
    result = ok(make_fleet(memory_fleet, textwrap.dedent(cro) + RO_REPLICAS))
    files = result.files
    text = files["east-1/app/deployment.apps_web.yaml"].decode()
    assert "fleetc.io/overrides: ns-label,app/replicas" in text
    assert (
        "fleetc.io/overrides: ns-label\n" in files["east-2/app/deployment.apps_web.yaml"].decode()
    )
    # The Namespace itself is covered by the CRO too.
    assert body(result, "bare", NAMESPACE)["metadata"]["labels"] == {"tier": "app"}


def test_delete_drops_the_object_and_stops_further_rules(memory_fleet):
    overrides = """
    - name: drop
      kind: ResourceOverride
      namespace: app
      resourceSelectors:
        - {group: apps, version: v1, kind: Deployment, name: web}
      policy:
        overrideRules:
          - clusterSelector:
              clusterSelectorTerms:
                - labelSelector: {matchLabels: {env: staging}}
            overrideType: Delete
          - clusterSelector: {clusterSelectorTerms: []}
            jsonPatchOverrides:
              - {op: remove, path: /spec/does-not-exist}
    """
    result = make_fleet(memory_fleet, overrides)
    # The second rule fails everywhere except where Delete ran first.
    failing = {d.message.split("on cluster ")[1].split(" ")[0] for d in result.diagnostics.errors}
    assert failing == {"'east-1'", "'west-1'", "'bare'"}
    assert DEPLOYMENT not in result.compilation.clusters["east-2"]
    assert CONFIGMAP in result.compilation.clusters["east-2"]


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/kind", "kind and apiVersion"),
        ("/apiVersion", "kind and apiVersion"),
        ("/metadata", "only metadata/labels"),
        ("/metadata/name", "only metadata/labels"),
        ("/metadata/namespace", "only metadata/labels"),
        ("/status", "status"),
        ("/status/replicas", "status"),
        ("/spec//replicas", "empty path segments"),
        ("/", "empty path segments"),
        ("spec/replicas", "JSON pointer"),
    ],
)
def test_forbidden_paths(path, problem):
    assert problem in forbidden_path(path)


@pytest.mark.parametrize("path", ["/spec/replicas", "/metadata/labels/x", "/metadata/annotations"])
def test_allowed_paths(path):
    assert forbidden_path(path) is None


def test_overrides_render_byte_identical_output_twice(memory_fleet):
    first = ok(make_fleet(memory_fleet, RO_REPLICAS)).files
    second = ok(memory_fleet.compile()).files
    assert first == second


# -- fleetc explain --cluster C --object REF ---------------------------------------------


def test_trace_of_the_example_matches_the_golden_file(cli):
    from conftest import REPO, run

    result = run(
        cli, "explain", "-f", str(REPO), "--cluster", "aks-member-1",
        "--object", "Deployment.apps/kuard-demo/kuard",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    golden = REPO / "tests" / "golden" / "trace-kuard-aks-member-1.txt"
    assert result.output == golden.read_text(encoding="utf-8")


def test_trace_shows_the_final_manifest_exactly_as_rendered(fleet_dir, cli):
    from conftest import run

    ok(make_fleet(fleet_dir, RO_REPLICAS))
    result = run(
        cli, "explain", "-f", str(fleet_dir.root), "--cluster", "west-1",
        "--object", "Deployment.apps/app/web",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rendered = fleet_dir.compile().files["west-1/app/deployment.apps_web.yaml"].decode()
    assert result.output.endswith("# final manifest on west-1\n" + rendered)
    assert "overrides:  app/replicas (fleet.yaml:14:7)" in result.output
    assert "-  replicas: 1\n+  replicas: 3" in result.output


def test_trace_of_a_deleted_or_unknown_object_fails(fleet_dir, cli):
    from conftest import run

    overrides = """
    - name: drop
      kind: ResourceOverride
      namespace: app
      resourceSelectors:
        - {group: apps, version: v1, kind: Deployment, name: web}
      policy:
        overrideRules:
          - clusterSelector: {clusterSelectorTerms: []}
            overrideType: Delete
    """
    ok(make_fleet(fleet_dir, overrides))
    args = ("explain", "-f", str(fleet_dir.root), "--cluster", "east-1", "--object")
    result = run(cli, *args, "Deployment.apps/app/web")
    assert result.exit_code == 1
    assert (
        "is not rendered on cluster 'east-1': ResourceOverride 'app/drop' rule 0 "
        "(fleet.yaml:14:7) deletes it there"
    ) in result.output
    result = run(cli, *args, "ConfigMap/settings")
    assert "did you mean 'ConfigMap/app/settings'?" in result.output
    result = run(cli, *args, "not-a-ref")
    assert result.exit_code == 2


CLUSTER_ROLE_R = ObjectKey("rbac.authorization.k8s.io", "ClusterRole", "", "r")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Deployment.apps/ns/web", ObjectKey("apps", "Deployment", "ns", "web")),
        ("Namespace/app", ObjectKey("", "Namespace", "", "app")),
        (
            "ClusterRole.rbac.authorization.k8s.io/r",
            ObjectKey("rbac.authorization.k8s.io", "ClusterRole", "", "r"),
        ),
        ("Deployment/a/b/c", None),
        ("Deployment/", None),
        ("/x", None),
    ],
)
def test_parse_object_reference(text, key):
    from fleetc.views.explain import parse_object

    assert parse_object(text) == key


def _crd_schema(plural: str, version: str) -> dict:
    import yaml
    from conftest import require_crds

    path = require_crds() / "kubefleet" / f"placement.kubernetes-fleet.io_{plural}.yaml"
    crd = yaml.safe_load(path.read_text(encoding="utf-8"))
    [served] = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return served["schema"]["openAPIV3Schema"]


def test_the_example_override_is_valid_per_the_upstream_crd():
    import jsonschema
    import yaml
    from conftest import REPO

    doc = yaml.safe_load((REPO / "hub" / "kuard-overrides.yaml").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(_crd_schema("resourceoverrides", "v1beta1")).validate(doc)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
PATHS = st.lists(
    st.sampled_from(["spec", "data", "metadata", "labels", "0", "-", "~1", ""]), max_size=4
)


@settings(max_examples=25, deadline=None)
@given(
    op=st.sampled_from(["add", "remove", "replace"]),
    parts=PATHS,
    value=JSON,
    with_value=st.booleans(),
)
def test_arbitrary_patches_give_diagnostics_never_tracebacks(op, parts, value, with_value):
    import json
    import tempfile
    from pathlib import Path

    from conftest import FleetDir

    patch = {"op": op, "path": "/" + "/".join(parts)}
    if with_value:
        patch["value"] = value
    overrides = f"""
    - name: fuzz
      kind: ResourceOverride
      namespace: app
      resourceSelectors:
        - {{group: "", version: v1, kind: ConfigMap, name: settings}}
      policy:
        overrideRules:
          - clusterSelector: {{clusterSelectorTerms: []}}
            jsonPatchOverrides:
              - {json.dumps(patch, ensure_ascii=False)}
    """
    with tempfile.TemporaryDirectory() as tmp:
        result = make_fleet(FleetDir(Path(tmp)), overrides)
    if not result.ok:
        assert result.diagnostics.errors


def test_rendered_example_with_overrides_and_templates_builds_with_kustomize():
    import shutil
    import subprocess

    import yaml
    from conftest import REPO

    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    built = subprocess.run(
        ["kubectl", "kustomize", str(REPO / "rendered" / "aks-member-1")],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    docs = list(yaml.safe_load_all(built))
    kuard = next(d for d in docs if d["kind"] == "Deployment")
    assert kuard["spec"]["replicas"] == 3
    assert kuard["metadata"]["labels"]["fleet.example/cluster"] == "aks-member-1"
    info = next(
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "cluster-info"
    )
    assert info["data"]["cluster"] == "aks-member-1"
