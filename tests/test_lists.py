"""kubectl's ``List`` in hub/ and clusters/: each item is an object of its own, at its own line."""

from __future__ import annotations

import textwrap

from fleetc.core.model import ObjectKey

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
"""

HUB_LIST = """
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: v1
  kind: Namespace
  metadata:
    name: app
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: settings
    namespace: app
  data:
    colour: blue
"""

CLUSTERS_LIST = """
apiVersion: v1
kind: List
items:
- apiVersion: fleetc.io/v1alpha1
  kind: Cluster
  metadata:
    name: east-1
- apiVersion: fleetc.io/v1alpha1
  kind: Cluster
  metadata:
    name: west-1
"""


def make(fleet_dir, hub: str = HUB_LIST, clusters: str = CLUSTERS_LIST):
    fleet_dir.write("fleet.yaml", textwrap.dedent(FLEET).lstrip("\n"))
    fleet_dir.write("hub/list.yaml", hub)
    fleet_dir.write("clusters/all.yaml", clusters)
    return fleet_dir.compile()


def test_list_items_in_hub_and_clusters_are_placed_like_single_documents(fleet_dir):
    result = make(fleet_dir)
    assert result.ok, [d.format() for d in result.diagnostics]
    assert sorted(result.compilation.fleet.clusters) == ["east-1", "west-1"]
    config = ObjectKey("", "ConfigMap", "app", "settings")
    for cluster in ("east-1", "west-1"):
        placed = result.compilation.clusters[cluster]
        assert placed[config].body["data"] == {"colour": "blue"}
        assert ObjectKey("", "Namespace", "", "app") in placed
    # The List itself is not an object: nothing is rendered for it.
    assert not any("list" in path.lower().rsplit("/", 1)[-1] for path in result.files)
    hub_object = result.compilation.fleet.objects[config]
    assert str(hub_object.pos("metadata", "name")) == "hub/list.yaml:13:5"


def test_a_list_item_error_points_at_the_item(fleet_dir):
    hub = HUB_LIST.replace("    name: settings\n    namespace: app\n", "    name: settings\n")
    result = make(fleet_dir, hub=hub)
    [error] = result.diagnostics.errors
    assert "ConfigMap 'settings' is namespaced but has no metadata.namespace" in error.message
    assert str(error.position) == "hub/list.yaml:12:3"


def test_a_malformed_list_item_is_an_error_at_its_line(fleet_dir):
    hub = HUB_LIST + "- just a string\n- apiVersion: v1\n  kind: List\n  items: []\n"
    result = make(fleet_dir, hub=hub)
    messages = [(str(d.position), d.message) for d in result.diagnostics.errors]
    assert messages == [
        ("hub/list.yaml:17:3", "a List item must be a Kubernetes object (a mapping)"),
        ("hub/list.yaml:19:3", "a List item cannot itself be a List"),
    ]


def test_inventory_list_items_are_checked_at_their_own_line(fleet_dir):
    clusters = CLUSTERS_LIST.replace("    name: west-1", "    name: east-1")
    result = make(fleet_dir, clusters=clusters)
    [error] = result.diagnostics.errors
    assert "cluster 'east-1' is defined twice (first at clusters/all.yaml:7:5)" in error.message
    assert str(error.position) == "clusters/all.yaml:11:5"
