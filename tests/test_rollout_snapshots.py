"""Resource snapshots of staged placements: numbered by content (overrides included), kept per
cluster, stored beside fleet.lock and pruned; the delete stage; what explain, status and diff
say about them."""

from __future__ import annotations

import json

import pytest
import stagedfleet as sf
import yaml
from conftest import FleetDir, run
from fleetc.core import yamlout
from fleetc.stages.rollout import snapshot
from gitrepo import GitFleet

T0 = "2026-12-01T09:00:00Z"


@pytest.fixture
def staged(cli, tmp_path) -> FleetDir:
    fleet = FleetDir(tmp_path)
    sf.build(fleet, cli)
    return fleet


def _lock(fleet: FleetDir) -> str:
    return (fleet.root / "fleet.lock").read_text()


def _store(fleet: FleetDir) -> list[str]:
    folder = fleet.root / "fleet.snapshots"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_switching_to_external_changes_no_byte_and_records_snapshot_0(cli, tmp_path):
    fleet = GitFleet(tmp_path)
    for name, labels in sf.CLUSTERS.items():
        fleet.cluster(name, labels)
    sf.write_hub(fleet)
    fleet.write("hub/rollout/strategy.yaml", sf.STRATEGY)
    fleet.write("fleet.yaml", sf.FLEET.replace("STRATEGY", "RollingUpdate"))
    sf.render(cli, fleet)
    fleet.commit("rolling")
    before = fleet.files()
    fleet.write("fleet.yaml", sf.FLEET.replace("STRATEGY", "External"))
    sf.render(cli, fleet)
    assert fleet.files() == before
    assert "latest: 0" in _lock(fleet) and len(_store(fleet)) == 1
    diff = json.loads(
        run(cli, "diff", "-f", str(fleet.root), "--base", "HEAD", "--format", "json").output
    )
    assert diff["clusters"] == []
    assert diff["rollouts"] == [
        "web: now staged (strategy External): 10 cluster(s) keep what they run, as snapshot 0"
    ]


def test_a_new_external_placement_reaches_no_cluster_before_a_run(cli, tmp_path):
    fleet = FleetDir(tmp_path)
    for name, labels in sf.CLUSTERS.items():
        fleet.cluster(name, labels)
    sf.write_hub(fleet)
    fleet.write("hub/rollout/strategy.yaml", sf.STRATEGY)
    fleet.write("fleet.yaml", sf.FLEET.replace("STRATEGY", "External"))
    sf.render(cli, fleet)
    assert not (fleet.root / "rendered" / "canary-1" / "web").exists()
    assert (fleet.root / "rendered" / "canary-1" / "_cluster").exists()  # platform is placed


def test_an_override_change_is_a_new_snapshot_and_clusters_keep_their_bytes(cli, staged):
    before = staged.files()
    sf.write_hub(staged, replicas=6)
    sf.render(cli, staged)
    assert staged.files() == before
    assert "latest: 1" in _lock(staged) and len(_store(staged)) == 2
    sf.write_run(staged)
    sf.render(cli, staged)
    sf.fleetc(cli, staged, "rollout", "advance", "--now", T0)
    sf.fleetc(cli, staged, "rollout", "advance", "--now", "2026-12-01T10:00:00Z")
    moved = (staged.root / "rendered/eastus-2/web/deployment.apps_web.yaml").read_text()
    kept = (staged.root / "rendered/eastus-1/web/deployment.apps_web.yaml").read_text()
    assert "replicas: 6" in moved and "replicas: 4" in kept


def test_a_cluster_on_an_old_snapshot_keeps_every_byte_across_hub_changes(cli, staged):
    sf.write_hub(staged, image="1.5.0")
    sf.write_run(staged)
    sf.render(cli, staged)
    sf.fleetc(cli, staged, "rollout", "advance", "--now", T0)
    before = staged.files()
    sf.write_hub(staged, image="1.6.0")
    sf.render(cli, staged)
    assert staged.files() == before  # canary-1 keeps 1.5.0, the others 1.4.0
    assert sf.image_on(staged, "canary-1") == "1.5.0" and sf.image_on(staged, "westus-1") == "1.4.0"
    assert "latest: 2" in _lock(staged) and len(_store(staged)) == 3


def test_check_names_missing_stale_and_extra_snapshots_and_render_repairs(cli, staged):
    store = staged.root / "fleet.snapshots"
    (name,) = _store(staged)
    (store / "0123456789abcdef0123.yaml").write_text("kind: ResourceSnapshot\n")
    result = run(cli, "check", "-f", str(staged.root))
    assert (
        result.exit_code == 1
        and "extra:   fleet.snapshots/0123456789abcdef0123.yaml" in result.output
    )
    sf.render(cli, staged)
    assert _store(staged) == [name]
    # Once the hub moves on, snapshot 0 exists only in the store.
    sf.write_hub(staged, image="1.5.0")
    sf.render(cli, staged)
    (store / name).unlink()
    result = run(cli, "render", "-f", str(staged.root))
    assert result.exit_code == 1 and f"fleet.snapshots/{name}) is missing" in result.output


def test_a_snapshot_edited_by_hand_is_refused(cli, staged):
    sf.write_hub(staged, image="1.5.0")
    sf.render(cli, staged)  # every cluster still runs snapshot 0, read from the store
    (path,) = [p for p in (staged.root / "fleet.snapshots").iterdir() if "1.4.0" in p.read_text()]
    path.write_text(path.read_text().replace("1.4.0", "6.6.6"))
    result = run(cli, "check", "-f", str(staged.root))
    assert result.exit_code == 1 and "does not match its id" in result.output


def test_clusters_that_leave_keep_their_snapshot_until_the_delete_stage(cli, staged):
    affinity = """      policy:
        placementType: PickAll
        affinity:
          clusterAffinity:
            requiredDuringSchedulingIgnoredDuringExecution:
              clusterSelectorTerms:
                - labelSelector:
                    matchExpressions: [{key: region, operator: NotIn, values: [westus]}]
"""
    text = sf.FLEET.replace("STRATEGY", "External").replace(
        "      policy:\n        placementType: PickAll\n", affinity
    )
    staged.write("fleet.yaml", text)
    sf.render(cli, staged)
    assert sf.image_on(staged, "westus-1") == "1.4.0"  # de-selected, still on snapshot 0
    explained = sf.fleetc(cli, staged, "explain", "web").output
    staged_part = explained.split("staged (strategy External)")[1]
    line = next(x for x in staged_part.splitlines() if x.strip().startswith("westus-1 "))
    assert line.split(None, 1)[1] == (
        "runs snapshot 0 until an update run's delete stage removes it (no longer selected)"
    )
    sf.write_hub(staged, image="1.5.0")
    sf.write_run(staged)
    sf.render(cli, staged)
    for moment in (T0, "2026-12-01T10:00:00Z", "2026-12-01T10:10:00Z"):
        sf.fleetc(cli, staged, "rollout", "advance", "--now", moment)
    sf.fleetc(
        cli, staged, "rollout", "approve", "web-v2", "--stage", "rest", "--before", "--now", T0
    )
    out = sf.fleetc(cli, staged, "rollout", "advance", "--now", "2026-12-01T11:00:00Z").output
    assert "moved westeurope-1, westeurope-2, westeurope-3" in out
    assert (staged.root / "rendered/westus-1/web").exists()
    out = sf.fleetc(cli, staged, "rollout", "advance", "--now", "2026-12-01T11:10:00Z").output
    assert "delete stage: removed from westus-1, westus-2" in out and "Succeeded" in out
    assert not (staged.root / "rendered/westus-1/web").exists()
    assert (staged.root / "rendered/westus-1/platform").exists() or (
        staged.root / "rendered/westus-1/_cluster"
    ).exists()


def test_explain_status_and_diff_show_snapshots_and_runs(cli, tmp_path):
    fleet = GitFleet(tmp_path)
    sf.build(fleet, cli)
    fleet.commit("staged")
    sf.write_hub(fleet, image="1.5.0")
    sf.render(cli, fleet)
    diff = run(cli, "diff", "-f", str(fleet.root), "--base", "HEAD").output
    assert (
        "web: snapshot 1 recorded, not rolled out: 10 cluster(s) (no update run rolls it out "
        "yet) waiting" in diff
    )
    sf.write_run(fleet)
    sf.render(cli, fleet)
    sf.fleetc(cli, fleet, "rollout", "advance", "--now", T0)
    obj = sf.fleetc(
        cli, fleet, "explain", "--cluster", "canary-1", "--object", "Deployment.apps/web/web"
    ).output
    assert (
        "snapshot:   web: runs snapshot 1, the newest (rolled out by run web-v2, stage canary, "
        f"at {T0})" in obj
    )
    obj = sf.fleetc(
        cli, fleet, "explain", "--cluster", "eastus-1", "--object", "Deployment.apps/web/web"
    ).output
    assert (
        "snapshot:   web: runs snapshot 0; snapshot 1 is newer and not rolled out here yet" in obj
    )
    assert "web-replicas (hub/apps.yaml:" in obj
    data = json.loads(sf.fleetc(cli, fleet, "explain", "web", "--format", "json").output)
    assert data["snapshots"]["newest"] == 1
    assert {c["cluster"]: c["snapshot"] for c in data["snapshots"]["clusters"]}["canary-1"] == 1
    status = json.loads(sf.fleetc(cli, fleet, "status", "--format", "json").output)
    (item,) = status["updateRuns"]
    assert (item["name"], item["resourceSnapshotIndex"], item["clustersOnSnapshot"]) == (
        "web-v2", 1, 1,
    )  # fmt: skip
    text = sf.fleetc(cli, fleet, "status").output
    assert "run web-v2 (placement web, state Run): snapshot 1 on 1 cluster(s)" in text
    md = run(cli, "diff", "-f", str(fleet.root), "--base", "HEAD", "--format", "markdown").output
    assert "### Staged rollouts" in md and "- web: stage canary: canary-1 0-&gt;1" in md


def test_templates_cannot_be_staged_yet(cli, staged):
    staged.write(
        "hub/extra.yaml.j2",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: t\n  namespace: web\ndata:\n  c: '{{ cluster.name }}'\n",
    )
    result = run(cli, "render", "-f", str(staged.root))
    assert result.exit_code == 1 and "staged rollouts do not carry templates yet" in result.output


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (
            lambda spec: spec["overrides"][0].update(resourceSelectors=[{"kind": 3}]),
            "override 0 is malformed",
        ),
        (lambda spec: spec["objects"][0].update(object={"kind": "x"}), "object 0 is malformed"),
        (
            lambda spec: spec["objects"].append(
                {
                    "source": "hub/x.yaml",
                    "object": {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {"name": "s", "namespace": "web"},
                        "stringData": {"password": "hunter2"},
                    },
                }
            ),
            "holds stringData in clear text",
        ),
    ],
)
def test_a_forged_snapshot_with_a_matching_id_is_still_checked(cli, staged, mutate, words):
    sf.write_hub(staged, image="1.5.0")
    sf.render(cli, staged)
    lock = (staged.root / "fleet.lock").read_text()
    (old,) = [p for p in (staged.root / "fleet.snapshots").iterdir() if "1.4.0" in p.read_text()]
    doc = yaml.safe_load(old.read_text())
    mutate(doc["spec"])
    new_id = snapshot.digest(doc["spec"])
    doc["metadata"]["name"] = new_id
    old.unlink()
    (staged.root / "fleet.snapshots" / f"{new_id}.yaml").write_text(yamlout.dump(doc))
    (staged.root / "fleet.lock").write_text(lock.replace(old.stem, new_id))
    result = run(cli, "check", "-f", str(staged.root))
    assert result.exit_code == 1 and words in result.output, result.output
