"""The markdown diff a reviewer reads: words, groups of identical changes, folds and a hard cap."""

from __future__ import annotations

import re

from conftest import run
from fleetc.views import diff_format
from fleetc.views.diff import ADDED, CHANGED, ClusterDiff, FleetDiff, ObjectChange, PlacementChange
from gitrepo import GitFleet

WEB = """
apiVersion: v1
kind: Namespace
metadata:
  name: web
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.example.com/web:1.0.0
"""

FLEET = """
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: big
spec:
  placements:
    - name: web
      resourceSelectors:
        - {group: "", version: v1, kind: Namespace, name: web}
"""


def _balanced(text: str) -> bool:
    return text.count("<details>") == text.count("</details>") and text.count("```") % 2 == 0


def test_a_one_line_image_bump_on_300_clusters_is_short_and_names_every_cluster(cli, tmp_path):
    fleet = GitFleet(tmp_path)
    fleet.write("fleet.yaml", FLEET)
    fleet.write("hub/web.yaml", WEB)
    names = [f"member-{index:03d}" for index in range(300)]
    for name in names:
        fleet.cluster(name, {"env": "prod"})
    fleet.commit("300 clusters")
    path = fleet.root / "hub/web.yaml"
    path.write_text(path.read_text().replace("web:1.0.0", "web:1.0.1"))

    result = run(cli, "diff", "-f", str(fleet.root), "--base", "HEAD", "--format", "markdown")
    assert result.exit_code == 0, result.output
    text = result.output
    assert len(text.encode()) < 20_000
    assert _balanced(text)
    # One group, its cluster list folded; the table folded too.
    assert "The same change on 300 clusters: 1 changed" in text
    assert text.count("```diff") == 1
    assert "-        image: registry.example.com/web:1.0.0" in text
    assert "+        image: registry.example.com/web:1.0.1" in text
    assert "<details><summary>the 300 clusters</summary>" in text
    assert "<details><summary>Clusters affected (300)</summary>" in text
    folded = text.split("<details><summary>the 300 clusters</summary>", 1)[1].split("</details>")[0]
    assert re.findall(r"`(member-\d{3})`", folded) == names
    # Words, never bare +/- list markers.
    assert "- changed `Deployment.apps/web/web` (`web/deployment.apps_web.yaml`)" in text
    assert not re.search(r"^- [-+~] ", text, re.MULTILINE)


def _many_distinct(count: int, lines: int) -> FleetDiff:
    """``count`` clusters, each with its own large change (nothing to group)."""
    found = FleetDiff("main (abc)", "working tree")
    for index in range(count):
        name = f"c{index:04d}"
        body = "".join(f"+  key{row}: value-{name}-{row}\n" for row in range(lines))
        diff = f"--- /dev/null\n+++ b/{name}/app/configmap_x.yaml\n@@ -0,0 +1,{lines} @@\n{body}"
        change = ObjectChange("ConfigMap/app/x", f"{name}/app/configmap_x.yaml", ADDED, diff)
        found.clusters.append(ClusterDiff(name, CHANGED, [change]))
        found.placements.append(PlacementChange("app", name, "gained", [f"cluster {name} added"]))
    return found


def test_markdown_never_exceeds_the_comment_limit_and_points_at_the_full_diff():
    text = diff_format.markdown(_many_distinct(1000, 40))
    assert len(text) <= diff_format.MARKDOWN_LIMIT < 65_536
    assert _balanced(text)
    assert "**Truncated:" in text
    assert diff_format.ARTIFACT_NOTE in text
    # The summary still comes whole: the folded table lists every cluster.
    assert "<details><summary>Clusters affected (1000)</summary>" in text
    assert "| `c0999` | changed | 1 | 0 | 0 |" in text


def test_identical_placement_moves_are_one_line():
    text = diff_format.markdown(_many_distinct(30, 1))
    # Each cluster's reason names the cluster itself, so the 30 moves read as one line.
    (line,) = [line for line in text.splitlines() if "now placed on" in line]
    assert line.startswith("- `app` now placed on 30 clusters (gained): cluster &lt;cluster&gt;")
    assert "<details><summary>30 clusters</summary>" in line
    assert "`c0029`" in line


def test_small_lists_are_not_folded():
    text = diff_format.markdown(_many_distinct(2, 1))
    assert "| `c0000` | changed | 1 | 0 | 0 |" in text
    assert "Clusters affected" not in text
    assert "<code>c0000</code>: 1 added" in text
