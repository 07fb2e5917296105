"""Will it apply? `fleetc diff` and `fleetc check --against REF` on a real git repository."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import require_crds, run
from gitrepo import GitFleet
from widget_crd import never_shrinking, spec_of, widget_crd

FLEET = """
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: demo
spec:
  placements:
    - name: app
      resourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: app}
        - {group: "", version: v1, kind: Namespace, name: web}
        - {group: apiextensions.k8s.io, version: v1, kind: CustomResourceDefinition, name: widgets.example.com}
      policy:
        placementType: PickAll
"""

WIDGET_CRD = widget_crd(
    spec_of({"size": never_shrinking("widgets never shrink")}),
    list_names=True,
)
HUB = (
    """
apiVersion: v1
kind: Namespace
metadata:
  name: app
---
apiVersion: v1
kind: Namespace
metadata:
  name: web
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: app
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - {name: web, image: "nginx:1"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: app
data:
  color: blue
---
"""
    + WIDGET_CRD
    + """---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  namespace: app
spec:
  size: 3
"""
)


@pytest.fixture
def fleet(tmp_path, cli) -> GitFleet:
    fleet = GitFleet(tmp_path)
    fleet.write("fleet.yaml", FLEET)
    fleet.write("hub/app.yaml", HUB)
    fleet.cluster("c1")
    fleet.cluster("c2")
    assert run(cli, "render", "-f", str(tmp_path)).exit_code == 0
    fleet.commit("fleet and its output")
    return fleet


def _edit(fleet: GitFleet, old: str, new: str) -> None:
    path = fleet.root / "hub/app.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def selector(fleet):
    _edit(fleet, "matchLabels: {app: web}", "matchLabels: {app: web2}")
    _edit(fleet, "labels: {app: web}", "labels: {app: web2}")


def move(fleet):
    _edit(fleet, "name: settings\n  namespace: app", "name: settings\n  namespace: web")


def crd_removed(fleet):
    path = fleet.root / "fleet.yaml"
    text = path.read_text()
    line = "        - {group: apiextensions.k8s.io, version: v1, kind: CustomResourceDefinition, name: widgets.example.com}\n"
    assert line in text
    path.write_text(text.replace(line, ""))


def shrink(fleet):
    _edit(fleet, "size: 3", "size: 2")


# mutation -> (file:line:col of the diagnostic in c1, the message's tail)
CASES = {
    "deployment selector": (
        selector,
        "rendered/c1/app/deployment.apps_web.yaml:10:3: error: c1: Deployment.apps/app/web: "
        "will not apply: field is immutable [at spec.selector]",
    ),
    "namespace move": (
        move,
        "rendered/c1/web/configmap_settings.yaml:5:3: error: c1: ConfigMap/web/settings: will not "
        "apply: moves from namespace app to web",
    ),
    "crd removed": (
        crd_removed,
        "rendered/c1/_cluster/customresourcedefinition.apiextensions.k8s.io_widgets.example.com"
        ".yaml: error: c1: CustomResourceDefinition.apiextensions.k8s.io/widgets.example.com: will not "
        "apply: the CRD of Widget.example.com is removed from the cluster while 1 of its resources",
    ),
    "cel transition rule": (
        shrink,
        "rendered/c1/app/widget.example.com_w.yaml:10:3: error: c1: Widget.example.com/app/w: will "
        "not apply: widgets never shrink (CRD transition rule: self >= oldSelf) [at spec.size]",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_diff_exit_code_and_check_against_catch_it(cli, fleet, case):
    mutate, expected = CASES[case]
    mutate(fleet)
    result = run(cli, "diff", "-f", str(fleet.root), "--base", "HEAD")
    assert result.exit_code == 0, result.output
    assert expected in result.output
    assert "hint: " in result.output
    assert run(cli, "diff", "-f", str(fleet.root), "--exit-code").exit_code == 1
    # check --against: the output must be current, and still apply over HEAD's.
    assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
    assert run(cli, "check", "-f", str(fleet.root)).exit_code == 0
    result = run(cli, "check", "-f", str(fleet.root), "--against", "HEAD")
    assert result.exit_code == 1
    assert expected in result.output


def test_a_safe_change_passes(cli, fleet):
    _edit(fleet, "color: blue", "color: green")
    _edit(fleet, "size: 3", "size: 4")
    assert run(cli, "render", "-f", str(fleet.root)).exit_code == 0
    result = run(cli, "check", "-f", str(fleet.root), "--against", "HEAD")
    assert result.exit_code == 0, result.output
    assert "the output applies over HEAD (" in result.output
    data = json.loads(run(cli, "diff", "-f", str(fleet.root), "--format", "json").stdout)
    assert data["transitions"] == []


def test_diff_json_and_markdown_list_the_findings(cli, fleet):
    selector(fleet)
    data = json.loads(run(cli, "diff", "-f", str(fleet.root), "--format", "json").stdout)
    assert [(t["cluster"], t["key"], t["field"], t["severity"]) for t in data["transitions"]] == [
        ("c1", "Deployment.apps/app/web", "spec.selector", "error"),
        ("c2", "Deployment.apps/app/web", "spec.selector", "error"),
    ]
    assert data["transitions"][0]["path"] == "c1/app/deployment.apps_web.yaml"
    markdown = run(cli, "diff", "-f", str(fleet.root), "--format", "markdown").stdout
    assert "### Will it apply?" in markdown
    assert "`c1` `Deployment.apps/app/web` `spec.selector`: field is immutable" in markdown


def test_check_against_an_unknown_revision_is_an_error(cli, fleet):
    result = run(cli, "check", "-f", str(fleet.root), "--against", "nope")
    assert result.exit_code == 1
    assert "unknown revision 'nope'" in result.output


def test_cel_rule_from_the_upstream_crds_via_crds_option(cli, tmp_path):
    crds = require_crds() / "metallb"
    if not (crds / "metallb.io_bgppeers.yaml").is_file():
        pytest.skip(f"the upstream MetalLB CRDs are not available (looked for {crds})")
    fleet = GitFleet(tmp_path)
    fleet.write(
        "fleet.yaml",
        FLEET.replace("name: app}\n", "name: metallb-system}\n", 1).replace(
            "spec:\n", "spec:\n  loadBalancers: {installProvided: true}\n", 1
        ),
    )
    peer = {
        "apiVersion": "metallb.io/v1beta2",
        "kind": "BGPPeer",
        "metadata": {"name": "tor", "namespace": "metallb-system"},
        "spec": {
            "myASN": 64500,
            "peerASN": 64501,
            "peerAddress": "10.0.0.1",
            "enableGracefulRestart": False,
        },
    }
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "metallb-system"}}
    fleet.write("hub/peer.yaml", yaml.safe_dump_all([namespace, peer]))
    fleet.cluster("c1")
    assert run(cli, "render", "-f", str(tmp_path)).exit_code == 0
    fleet.commit("peer")
    peer["spec"]["enableGracefulRestart"] = True
    fleet.write("hub/peer.yaml", yaml.safe_dump_all([namespace, peer]))
    assert run(cli, "render", "-f", str(tmp_path)).exit_code == 0
    without = run(cli, "check", "-f", str(tmp_path), "--against", "HEAD")
    assert without.exit_code == 0, without.output  # no CRD known: nothing to evaluate
    result = run(cli, "check", "-f", str(tmp_path), "--against", "HEAD", "--crds", str(crds))
    assert result.exit_code == 1
    assert (
        "c1: BGPPeer.metallb.io/metallb-system/tor: will not apply: EnableGracefulRestart "
        "cannot be changed after creation (CRD transition rule: self == oldSelf) "
        "[at spec.enableGracefulRestart]"
    ) in result.output


def test_committed_output_like_reads_only_what_differs_and_equals_the_full_read(cli, fleet):
    from fleetc.shell import gitloop

    fleet.write("rendered/c1/flux-system/gotk-sync.yaml", "kind: Bootstrap\n")  # bootstrap's
    fleet.commit("bootstrap")
    commit = fleet.repo.head.commit
    full = gitloop.committed_output(commit, "rendered")
    assert "c1/flux-system/gotk-sync.yaml" not in full
    same = dict(full)
    assert gitloop.committed_output_like(commit, "rendered", same) == full
    # A differing or missing file is read from git, never taken from the new output.
    changed = {**full, "c1/app/configmap_settings.yaml": b"other\n"}
    del changed["c2/app/configmap_settings.yaml"]
    assert gitloop.committed_output_like(commit, "rendered", changed) == full
    assert gitloop.committed_output_like(commit, "nowhere", full) == {}
