"""Lists (``kind: List``, or any ``...List`` with ``items``) are unwrapped into their items
before placement, overrides, Secret rules and templates' identity rules see them: in hub/,
inside an envelope, produced by a template, and nested (issue 13, findings 6, 7 and 8)."""

from __future__ import annotations

import textwrap

from fleetc.core import kube, yamlsource
from fleetc.core.diagnostics import Diagnostics
from fleetc.core.model import ObjectKey
from fleetc.views import diff

FLEET = """\
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: test
spec:
  placements:
    - name: apps
      resourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: app}
"""

NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n"

# A List in namespace 'app' whose items go elsewhere: kube-system and cluster-wide RBAC.
HOSTILE = """\
---
apiVersion: v1
kind: List
metadata:
  name: bundle
  namespace: app
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: coredns
      namespace: kube-system
    data: {Corefile: evil}
  - apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRoleBinding
    metadata:
      name: everyone-admin
    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
    subjects: [{kind: Group, name: "system:authenticated"}]
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: settings
      namespace: app
    data: {colour: blue}
"""

COREDNS = ObjectKey("", "ConfigMap", "kube-system", "coredns")
ADMIN = ObjectKey("rbac.authorization.k8s.io", "ClusterRoleBinding", "", "everyone-admin")
SETTINGS = ObjectKey("", "ConfigMap", "app", "settings")


def make_fleet(fleet_dir, hub: str, fleet: str = FLEET, extra: dict[str, str] | None = None):
    fleet_dir.write("fleet.yaml", fleet)
    fleet_dir.write("hub/app.yaml", NAMESPACE + hub)
    for name, text in (extra or {}).items():
        fleet_dir.write(name, textwrap.dedent(text).lstrip("\n"))
    fleet_dir.cluster("east-1", {"region": "east"})
    fleet_dir.cluster("west-1", {"region": "west"})
    return fleet_dir.compile()


def errors(result):
    return [d.format() for d in result.diagnostics.errors]


def test_a_list_in_the_hub_is_placed_item_by_item(fleet_dir):
    result = make_fleet(fleet_dir, HOSTILE)
    assert result.ok, errors(result)
    for cluster in ("east-1", "west-1"):
        placed = result.compilation.clusters[cluster]
        assert SETTINGS in placed  # in namespace app: placed with it
        assert COREDNS not in placed and ADMIN not in placed  # no placement selects these
        assert not any(key.kind.endswith("List") for key in placed)
    assert "east-1/app/configmap_settings.yaml" in result.files
    assert not any("kube-system" in path or "list" in path.lower() for path in result.files)


def test_list_items_keep_their_own_positions(fleet_dir):
    hostile = HOSTILE.replace("      name: coredns\n", "      name: Bad_Name!\n")
    [message] = errors(make_fleet(fleet_dir, hostile))
    assert message.startswith("hub/app.yaml:15:7:")  # the item's metadata.name line
    assert "'Bad_Name!' is not a valid Kubernetes name" in message


def test_a_list_item_duplicating_a_hub_object_is_an_error(fleet_dir):
    settings = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: app}\n"
    messages = errors(make_fleet(fleet_dir, settings + HOSTILE))
    assert any("ConfigMap" in m and "settings" in m and "defined twice" in m for m in messages)


def test_nested_lists_are_refused(fleet_dir):
    """A List inside a List (a ConfigMapList too) cannot keep the rules by position: refused."""
    inner = textwrap.indent(HOSTILE.split("items:\n", 1)[1], "    ")
    nested = (
        "---\napiVersion: v1\nkind: List\nitems:\n"
        "  - apiVersion: v1\n    kind: ConfigMapList\n    items:\n" + inner
    )
    result = make_fleet(fleet_dir, nested)
    assert not result.ok
    assert any("a List item cannot itself be a List" in m for m in errors(result))
    placed = result.compilation.clusters["east-1"]
    assert COREDNS not in placed and ADMIN not in placed


def test_an_override_cannot_move_a_list_item(fleet_dir):
    """The same patch on a plain object is refused; on a placed List it used to move an item
    onto kube-system/coredns."""
    fleet = FLEET + (
        '        - {group: "", version: v1, kind: List, name: bundle}\n'
        "  overrides:\n"
        "    - name: move\n"
        "      kind: ClusterResourceOverride\n"
        "      clusterResourceSelectors:\n"
        '        - {group: "", version: v1, kind: List, name: bundle}\n'
        "      policy:\n"
        "        overrideRules:\n"
        "          - clusterSelector: {clusterSelectorTerms: []}\n"
        "            jsonPatchOverrides:\n"
        "              - {op: replace, path: /items/0/metadata/namespace, value: kube-system}\n"
        "              - {op: replace, path: /items/0/metadata/name, value: coredns}\n"
    )
    item = (
        "---\napiVersion: v1\nkind: List\nmetadata: {name: bundle}\nitems:\n"
        "  - apiVersion: v1\n    kind: ConfigMap\n"
        "    metadata: {name: settings, namespace: app}\n    data: {colour: blue}\n"
    )
    result = make_fleet(fleet_dir, item, fleet=fleet)
    for placed in result.compilation.clusters.values():
        assert COREDNS not in placed
        assert not any(key.kind == "List" for key in placed)
    assert not any(b"kube-system" in data for data in result.files.values())
    assert result.compilation.clusters["east-1"][SETTINGS].body["metadata"] == {
        "name": "settings",
        "namespace": "app",
    }


ENVELOPE = """\
---
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ResourceEnvelope
metadata:
  name: configs
  namespace: app
data:
  "bundle.yaml":
"""


def test_a_list_inside_an_envelope_follows_the_envelope_rules(fleet_dir):
    entry = textwrap.indent(HOSTILE.removeprefix("---\n"), "    ")
    messages = errors(make_fleet(fleet_dir, ENVELOPE + entry))
    assert any("wraps objects of its own namespace 'app' only" in m for m in messages), messages
    assert any("wraps namespaced objects only" in m for m in messages), messages


def test_a_list_inside_an_envelope_delivers_its_items(fleet_dir):
    items = HOSTILE.split("items:\n", 1)[1].split("  - apiVersion: v1\n    kind: ConfigMap\n")
    good = "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n"
    entry = textwrap.indent(good + items[-1].replace("settings", "wrapped"), "    ")
    result = make_fleet(fleet_dir, ENVELOPE + entry)
    assert result.ok, errors(result)
    wrapped = ObjectKey("", "ConfigMap", "app", "wrapped")
    assert result.compilation.clusters["east-1"][wrapped].body["data"] == {"colour": "blue"}


def test_an_envelope_cannot_wrap_one_object_twice_through_a_list(fleet_dir):
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: twice, namespace: app}\n"
    entry = "    apiVersion: v1\n    kind: List\n    items:\n"
    entry += textwrap.indent("- " + cm.replace("\n", "\n  ").rstrip() + "\n", "      ") * 2
    messages = errors(make_fleet(fleet_dir, ENVELOPE + entry))
    assert any("wraps ConfigMap" in m and "twice" in m for m in messages), messages


# -- templates -------------------------------------------------------------------------------

PER_CLUSTER_LIST = """
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: info, namespace: app}
{% if cluster.labels.region == 'east' %}
  - apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRoleBinding
    metadata: {name: prod-admin}
    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
    subjects: [{kind: Group, name: "system:authenticated"}]
{% endif %}
"""

PER_CLUSTER_ENVELOPE = """
apiVersion: placement.kubernetes-fleet.io/v1beta1
kind: ClusterResourceEnvelope
metadata: {name: rbac}
data:
  binding.yaml:
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRoleBinding
    metadata: {name: {{ 'prod-admin' if cluster.labels.region == 'east' else 'viewer' }}}
    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
    subjects: [{kind: Group, name: "system:authenticated"}]
"""


def test_a_template_cannot_vary_identities_through_a_list(fleet_dir):
    result = make_fleet(fleet_dir, "", extra={"hub/bundle.yaml.j2": PER_CLUSTER_LIST})
    messages = errors(result)
    assert any("renders different objects for clusters" in m for m in messages), messages
    assert not result.files.get("east-1/_cluster/clusterrolebinding_prod-admin.yaml")


def test_a_template_cannot_vary_identities_through_an_envelope(fleet_dir):
    fleet = FLEET + (
        "        - {group: placement.kubernetes-fleet.io, version: v1beta1,\n"
        "           kind: ClusterResourceEnvelope, name: rbac}\n"
    )
    result = make_fleet(
        fleet_dir, "", fleet=fleet, extra={"hub/rbac.yaml.j2": PER_CLUSTER_ENVELOPE}
    )
    messages = errors(result)
    assert any("renders different objects for clusters" in m for m in messages), messages


def test_a_template_list_is_placed_item_by_item(fleet_dir):
    template = PER_CLUSTER_LIST.replace("{% if cluster.labels.region == 'east' %}", "{% if 0 %}")
    template = template.replace(
        "metadata: {name: info, namespace: app}",
        ("metadata: {name: info, namespace: app}\n    data: {at: '{{ cluster.name }}'}"),
    )
    result = make_fleet(fleet_dir, "", extra={"hub/bundle.yaml.j2": template})
    assert result.ok, errors(result)
    info = ObjectKey("", "ConfigMap", "app", "info")
    assert result.compilation.clusters["west-1"][info].body["data"] == {"at": "west-1"}


# -- Secrets in Lists in Lists (finding 7) ---------------------------------------------------

VALUE = "hunter2-TOP-SECRET"
NESTED_SECRET = f"""\
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: List
    items:
      - apiVersion: v1
        kind: Secret
        metadata: {{name: db, namespace: app}}
        stringData: {{password: {VALUE}}}
"""


def test_a_plain_secret_in_a_list_in_a_list_is_refused(fleet_dir):
    result = make_fleet(fleet_dir, NESTED_SECRET)
    assert not result.ok
    assert any(m.startswith("hub/app.yaml:10:") and "cannot itself be a List" in m
               for m in errors(result))  # fmt: skip
    assert not any(VALUE in m for m in errors(result))
    assert not any(VALUE.encode() in data for data in result.files.values())


def test_a_plain_secret_in_a_list_in_a_list_inside_an_envelope_is_refused(fleet_dir):
    entry = textwrap.indent(NESTED_SECRET.removeprefix("---\n"), "    ")
    result = make_fleet(fleet_dir, ENVELOPE + entry)
    assert not result.ok
    assert any("cannot itself be a List" in m for m in errors(result)), errors(result)
    assert not any(VALUE in m for m in errors(result))


def test_a_plain_secret_in_a_list_rendered_by_a_template_is_refused(fleet_dir):
    result = make_fleet(
        fleet_dir, "", extra={"hub/s.yaml.j2": NESTED_SECRET + "# {{ cluster.name }}\n"}
    )
    assert not result.ok
    assert not any(VALUE in m for m in errors(result))


def test_secret_values_in_nested_lists_are_redacted_in_diffs_and_explain():
    doc = yamlsource.parse(NESTED_SECRET, "f.yaml", Diagnostics())[0].data
    old, new = diff.redact_pair(doc, None)
    assert VALUE not in repr(old) and VALUE not in repr(new)
    assert old["items"][0]["items"][0]["stringData"] == {"password": diff.REDACTED_OLD}


def test_unwrap_lists_unit():
    diags = Diagnostics()
    text = NESTED_SECRET.replace(
        "    kind: List\n    items:", "    kind: ConfigMapList\n    items:"
    )
    [doc] = yamlsource.parse(text.replace("kind: ConfigMapList", "kind: Secret"), "f.yaml", diags)
    [item] = kube.unwrap_lists([doc], diags)
    assert item.data["kind"] == "Secret" and item.prefix == ("items", 0)
    assert item.pos(("kind",)).line == 6
    # Any ...List kind with items is a List; a kind that merely ends in List is not.
    cm_list = yamlsource.Document({"apiVersion": "v1", "kind": "ConfigMapList", "items": []}, "f")
    assert kube.unwrap_lists([cm_list], diags) == []
    allow = yamlsource.Document({"kind": "AllowList", "spec": {}}, "f")
    assert kube.unwrap_lists([allow], diags) == [allow]
    bad = yamlsource.Document({"apiVersion": "v1", "kind": "List", "items": 3}, "f")
    assert (
        kube.unwrap_lists([bad], diags) == []
        and "items must be a sequence" in diags.items[0].message
    )
