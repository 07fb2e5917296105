"""Hub templates (*.yaml.j2): per-cluster rendering, placement by identity, and the sandbox."""

from __future__ import annotations

import textwrap

import pytest
from fleetc.core.model import ObjectKey

CONFIGMAP = ObjectKey("", "ConfigMap", "app", "cluster-info")

FLEET = """
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: test
spec:
  values:
    team: platform
    replicas: {east: 3, west: 1}
  placements:
    - name: apps
      resourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: app}
      policy:
        affinity:
          clusterAffinity:
            requiredDuringSchedulingIgnoredDuringExecution:
              clusterSelectorTerms:
                - labelSelector: {matchExpressions: [{key: region, operator: Exists}]}
"""

GOOD = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-info
  namespace: app
data:
  name: {{ cluster.name }}
  region: {{ cluster.labels.region }}
  team: {{ values.team }}
  replicas: "{{ values.replicas[cluster.labels.region] }}"
  version: "{{ cluster.kubernetesVersion }}"
  nodes: "{{ cluster.properties['kubernetes-fleet.io/node-count'] | default('?') }}"
"""


def make_fleet(fleet_dir, template: str, name: str = "hub/info.yaml.j2"):
    fleet_dir.write("fleet.yaml", FLEET)
    fleet_dir.write("hub/app.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n")
    fleet_dir.write(name, textwrap.dedent(template).lstrip("\n"))
    status = "status:\n  properties:\n    kubernetes-fleet.io/node-count: '4'\n"
    spec = "spec:\n  kubernetesVersion: v1.31.2\n"
    fleet_dir.cluster("east-1", {"region": "east"}, spec=spec, status=status)
    fleet_dir.cluster("west-1", {"region": "west"}, spec=spec)
    fleet_dir.cluster("bare")
    return fleet_dir.compile()


def errors(result):
    return [d.format() for d in result.diagnostics.errors]


def test_template_renders_per_cluster_with_cluster_and_values(memory_fleet):
    result = make_fleet(memory_fleet, GOOD)
    assert result.ok, errors(result)
    placed = result.compilation.clusters
    assert CONFIGMAP not in placed["bare"]  # not placed there: its render error is not reported
    assert placed["east-1"][CONFIGMAP].body["data"] == {
        "name": "east-1",
        "region": "east",
        "team": "platform",
        "replicas": "3",
        "version": "v1.31.2",
        "nodes": "4",
    }
    assert placed["west-1"][CONFIGMAP].body["data"]["replicas"] == "1"
    assert placed["west-1"][CONFIGMAP].body["data"]["nodes"] == "?"
    assert placed["west-1"][CONFIGMAP].source == "hub/info.yaml.j2"


def test_template_output_golden(memory_fleet):
    result = make_fleet(memory_fleet, GOOD)
    assert result.files["east-1/app/configmap_cluster-info.yaml"].decode() == textwrap.dedent(
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: cluster-info
          namespace: app
          annotations:
            fleetc.io/placement: apps
            fleetc.io/source: hub/info.yaml.j2
        data:
          name: east-1
          region: east
          team: platform
          replicas: '3'
          version: v1.31.2
          nodes: '4'
        """
    )


def test_templates_are_overridden_like_any_object(fleet_dir):
    result = make_fleet(fleet_dir, GOOD)
    fleet = (fleet_dir.root / "fleet.yaml").read_text()
    fleet += textwrap.indent(
        textwrap.dedent(
            """\
          overrides:
            - name: tweak
              kind: ResourceOverride
              namespace: app
              resourceSelectors:
                - {group: "", version: v1, kind: ConfigMap, name: cluster-info}
              policy:
                overrideRules:
                  - clusterSelector: {clusterSelectorTerms: []}
                    jsonPatchOverrides:
                      - {op: replace, path: /data/team, value: "${MEMBER-CLUSTER-NAME}"}
        """
        ),
        "  ",
    )
    fleet_dir.write("fleet.yaml", fleet)
    result = fleet_dir.compile()
    assert result.ok, errors(result)
    assert result.compilation.clusters["west-1"][CONFIGMAP].body["data"]["team"] == "west-1"


def test_undefined_variable_is_an_error_with_file_and_line_for_the_placed_cluster(memory_fleet):
    template = GOOD.replace("team: {{ values.team }}", "team: {{ values.tema }}")
    result = make_fleet(memory_fleet, template)
    messages = errors(result)
    # No cluster renders it, so fleetc cannot tell where it is placed: every cluster reports.
    assert len(messages) == 3, messages
    expected = "hub/info.yaml.j2:9:1: error: template error for cluster 'east-1': 'dict object' "
    assert expected + "has no attribute 'tema'" in messages


def test_missing_label_on_a_placed_cluster_is_an_error(memory_fleet):
    template = GOOD.replace("{{ cluster.labels.region }}", "{{ cluster.labels.zone }}")
    result = make_fleet(memory_fleet, template)
    assert not result.ok
    assert all("hub/info.yaml.j2:8:1" in m for m in errors(result))


def test_syntax_error_is_reported_once_with_its_line(memory_fleet):
    result = make_fleet(memory_fleet, GOOD.replace("{{ values.team }}", "{{ values.team }"))
    [message] = errors(result)
    assert message.startswith("hub/info.yaml.j2:9:1: error: template syntax error:")


def test_output_that_is_not_yaml_says_which_template_and_cluster(memory_fleet):
    result = make_fleet(memory_fleet, GOOD + "  broken: [\n")
    [message] = [m for m in errors(result) if "'east-1'" in m]
    assert "template output for cluster 'east-1' is not valid Kubernetes YAML" in message
    assert message.startswith("hub/info.yaml.j2: error:")


def test_output_that_is_not_a_kubernetes_object_is_an_error(memory_fleet):
    result = make_fleet(memory_fleet, "just: data\n")
    assert any("apiVersion is required" in m for m in errors(result))


def test_identity_must_not_depend_on_the_cluster(memory_fleet):
    result = make_fleet(
        memory_fleet, GOOD.replace("name: cluster-info", "name: {{ cluster.name }}")
    )
    [message] = errors(result)
    assert "renders different objects for clusters 'east-1' and 'west-1'" in message


def test_template_cannot_redefine_a_hub_object(memory_fleet):
    template = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n"
    result = make_fleet(memory_fleet, template)
    assert any("renders Namespace/app, which hub/app.yaml" in m for m in errors(result))


def test_a_selector_that_matches_only_a_template_is_not_warned_about(memory_fleet):
    roles = (
        "    - name: roles\n"
        "      resourceSelectors:\n"
        "        - {group: rbac.authorization.k8s.io, version: v1, kind: ClusterRole, name: r}\n"
    )
    memory_fleet.write("fleet.yaml", textwrap.dedent(FLEET) + roles)
    memory_fleet.write("hub/app.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n")
    memory_fleet.write(
        "hub/role.yaml.j2",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: r\n"
        "rules: []\n# {{ cluster.name }}\n",
    )
    memory_fleet.cluster("east-1", {"region": "east"})
    result = memory_fleet.compile()
    assert result.ok, errors(result)
    assert not result.diagnostics.warnings
    role = ObjectKey("rbac.authorization.k8s.io", "ClusterRole", "", "r")
    assert role in result.compilation.clusters["east-1"]


# -- the sandbox ----------------------------------------------------------------------------

ESCAPES = {
    "python internals": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "cycler globals": "{{ cycler.__init__.__globals__ }}",
    "function globals": "{{ range.__globals__ }}",
    "include a file": "{% include '/etc/passwd' %}",
    "import a file": "{% import 'fleet.yaml' as f %}",
    "extends": "{% extends 'fleet.yaml' %}",
    "huge range": "{{ range(10**9) | length }}",
    "nested loops": "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}"
    "{% endfor %}",
    "power": "{{ 10 ** 1000 }}",
    "repeated power": "{{ (10 ** 100) ** 100 }}",
    "string repeat": "{{ 'x' * 10**9 }}",
    "string concat": "{% set s = 'x' * 900000 %}{{ s ~ s }}",
    "list repeat": "{{ ([1] * 10**8) | length }}",
    "macro recursion": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "macro doubling": (
        "{% macro a() %}{{ 'x' * 1000 }}{% endmacro %}"
        "{% macro b() %}{{ a() }}{{ a() }}{{ a() }}{{ a() }}{% endmacro %}"
        "{% macro c() %}{% for i in range(400) %}{{ b() }}{% endfor %}{% endmacro %}{{ c() }}"
    ),
    "percent format": "{{ '%0999999999d' % 1 }}",
    "format filter": "{{ '%s' | format(1) }}",
    "str format method": "{{ '{:>999999999}'.format(1) }}",
    "ljust method": "{{ 'x'.ljust(999999999) }}",
    "center filter": "{{ 'x' | center(999999999) }}",
    "replace growth": "{{ ('x' * 100000) | replace('x', 'y' * 100000) }}",
    "indent growth": "{{ 'x' | indent(999999999) }}",
    "batch fill": "{{ [1] | batch(999999999, 0) | list }}",
    "lipsum": "{{ lipsum(999999) }}",
    "namespace": "{% set ns = namespace(x=1) %}{{ ns.x }}",
    "mutate values": "{{ values.update({'a': 1}) }}",
    "mutate list": "{% set l = [1] %}{{ l.append(2) }}",
    "environment": "{{ self._TemplateReference__context.environment }}",
    "config attribute": "{{ cluster.__class__ }}",
}


REASONS = {
    "python internals": "attribute '__class__' of 'str' object is unsafe",
    "cycler globals": "attribute '__init__' of 'type' object is unsafe",
    "function globals": "attribute '__globals__' of 'method' object is unsafe",
    "include a file": "cannot include, import or extend",
    "import a file": "cannot include, import or extend",
    "extends": "cannot include, import or extend",
    "huge range": "range() exceeds the template limit",
    "nested loops": "loop iterations exceeds",
    "power": "an exponent exceeds",
    "repeated power": "integer's size in bits exceeds",
    "string repeat": "a repeated string or list exceeds",
    "string concat": "a string built with ~ exceeds",
    "list repeat": "a repeated string or list exceeds",
    "macro recursion": "recursion is too deep",
    "macro doubling": "the text written (output, macros and blocks) exceeds",
    "percent format": "'%' string formatting is not allowed",
    "format filter": "No filter named 'format'",
    "str format method": "attribute 'format' of 'str' object is unsafe",
    "ljust method": "attribute 'ljust' of 'str' object is unsafe",
    "center filter": "No filter named 'center'",
    "replace growth": "a replaced string exceeds",
    "indent growth": "an indent width exceeds",
    "batch fill": "No filter named 'batch'",
    "lipsum": "'lipsum' is undefined",
    "namespace": "'namespace' is undefined",
    "mutate values": "attribute 'update' of 'dict' object is unsafe",
    "mutate list": "attribute 'append' of 'list' object is unsafe",
    "environment": "attribute '_TemplateReference__context'",
    "config attribute": "attribute '__class__' of 'dict' object is unsafe",
}


@pytest.mark.parametrize("attack", sorted(ESCAPES), ids=sorted(ESCAPES))
def test_sandbox_escapes_fail_as_diagnostics(memory_fleet, attack):
    result = make_fleet(memory_fleet, ESCAPES[attack] + "\n" + GOOD)
    assert not result.ok, attack
    messages = errors(result)
    assert all(m.startswith("hub/info.yaml.j2:1:1: error: template") for m in messages), messages
    assert REASONS[attack] in messages[0]


def test_limits_still_allow_ordinary_templates(memory_fleet):
    template = GOOD + textwrap.indent(
        textwrap.dedent(
            """\
          list: "{% for i in range(3) %}{{ i }}{{ loop.cycle('a', 'b') }}{% endfor %}"
          joined: {{ ['a', 'b'] | join('-') }}
          upper: {{ cluster.name | upper | replace('-', '_') }}
          json: '{{ values.replacement | default({'k': 'v'}) | tojson }}'
          keys: "{{ values.replicas.keys() | sort | join(',') }}"
        """
        ),
        "  ",
    )
    result = make_fleet(memory_fleet, template)
    assert result.ok, errors(result)
    data = result.compilation.clusters["east-1"][CONFIGMAP].body["data"]
    assert data["list"] == "0a1b2a"
    assert data["joined"] == "a-b"
    assert data["upper"] == "EAST_1"
    assert data["json"] == '{"k": "v"}'
    assert data["keys"] == "east,west"


def test_values_must_be_a_mapping(memory_fleet):
    memory_fleet.write(
        "fleet.yaml",
        FLEET.replace(
            "  values:\n    team: platform\n    replicas: {east: 3, west: 1}\n", "  values: 3\n"
        ),
    )
    messages = errors(memory_fleet.compile())
    assert any("expected object, got 3 [at spec.values]" in m for m in messages), messages


def test_templates_cannot_render_placements_or_overrides(memory_fleet):
    template = (
        "apiVersion: placement.kubernetes-fleet.io/v1\nkind: ClusterResourcePlacement\n"
        "metadata:\n  name: sneaky\nspec: {}\n"
    )
    result = make_fleet(memory_fleet, template)
    assert any("placements and overrides cannot come from templates" in m for m in errors(result))


def test_a_template_placed_nowhere_is_not_rendered_anywhere(memory_fleet):
    template = GOOD.replace("namespace: app", "namespace: elsewhere")
    result = make_fleet(memory_fleet, template)
    assert result.ok, errors(result)
    assert all(len(objs) <= 1 for objs in result.compilation.clusters.values())


def test_namespaced_template_objects_must_name_their_namespace(memory_fleet):
    result = make_fleet(memory_fleet, GOOD.replace("  namespace: app\n", ""))
    assert any("is namespaced but has no metadata.namespace" in m for m in errors(result))


def test_deeply_nested_expressions_are_a_diagnostic(memory_fleet):
    result = make_fleet(memory_fleet, "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}\n" + GOOD)
    assert errors(result) == [
        "hub/info.yaml.j2: error: template syntax error: expressions are nested too deeply"
    ]
