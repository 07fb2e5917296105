"""fleet.lock stays small at any fleet size: one text block per placement, one line a pick."""

from __future__ import annotations

import pytest
import yaml
from conftest import FleetDir
from fleetc.core import lock as fleetlock
from fleetc.core import yamlsource
from fleetc.core.diagnostics import Diagnostics
from fleetc.core.model import Placement
from fleetc.stages.schedule import lock_section, schedule_fleet
from fleetc.stages.schedule.framework import Score
from fleetc.stages.schedule.lock_section import Pick
from ninefleet import labels, nine_cluster_fleet, outcome, pick_n, preferred, render


def test_scores_other_than_zero_are_written_and_read_back():
    picks = [Pick("c1", Score(0, 0)), Pick("c2", Score(-1, 30)), Pick("c3", Score(2, 0))]
    placement = Placement(None, (), name="app", spec={"policy": {"placementType": "PickN"}})
    entry = lock_section.entry("0123456789abcdef", picks, placement)
    assert entry["clusters"] == "c1\nc2 affinity=30 topologySpread=-1\nc3 topologySpread=2\n"
    diags = Diagnostics()
    text = fleetlock.dump(fleetlock.Lock({"placements": {"app": entry}})).decode()
    assert "    clusters: |\n      c1\n      c2 affinity=30 topologySpread=-1\n" in text
    (doc,) = yamlsource.parse(text, "fleet.lock", diags)
    remembered = lock_section.read(fleetlock.read(doc, diags), diags)
    assert not diags.has_errors
    assert remembered["app"].picks == tuple(picks)


def test_a_lock_in_the_older_list_form_is_still_read(fleet_dir: FleetDir):
    fleet = nine_cluster_fleet(fleet_dir, pick_n(2, affinity=preferred((10, labels(env="prod")))))
    first = render(fleet)
    chosen = outcome(first).selected
    new_form = yaml.safe_load(first.lock)
    entry = new_form["placements"]["app"]
    old_entry = {
        "policyHash": entry["policyHash"],
        "clusters": [
            {"name": line.split()[0], "affinityScore": 10, "topologySpreadScore": 0}
            for line in entry["clusters"].splitlines()
        ],
    }
    # Reversed: the older lock's order must win over what a fresh scheduling would pick.
    old_entry["clusters"].reverse()
    (fleet.root / "fleet.lock").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "fleetc.io/v1alpha1",
                "kind": "FleetLock",
                "placements": {"app": old_entry},
            }
        )
    )
    again = render(fleet)
    assert outcome(again).selected == list(reversed(chosen))
    assert yaml.safe_load(again.lock)["placements"]["app"]["clusters"] == "".join(
        f"{name} affinity=10\n" for name in reversed(chosen)
    )


@pytest.mark.parametrize(
    "clusters",
    [
        "cluster-01 affinity=x\n",
        "cluster-01 bogus=1\n",
        "cluster-01 affinity=1 affinity=2\n",
        "cluster-01 affinity=\n",
        " cluster-01\n",
        "cluster-01  affinity=1\n",
        "cluster-01 affinity=99999999999999999999\n",
        5,
        None,
    ],
)
def test_a_malformed_pick_line_is_an_error_at_fleet_lock(fleet_dir: FleetDir, clusters):
    fleet = nine_cluster_fleet(fleet_dir, pick_n(2))
    fleet.write(
        "fleet.lock",
        yaml.safe_dump(
            {
                "apiVersion": "fleetc.io/v1alpha1",
                "kind": "FleetLock",
                "placements": {"app": {"policyHash": "x", "clusters": clusters}},
            }
        ),
    )
    result = fleet.compile()
    (error,) = result.diagnostics.errors
    assert "the entry of placement 'app' is malformed" in error.message
    assert error.position.file.endswith("fleet.lock") and error.path == "placements.app"


CLUSTERS = 10_000
FLEET = """\
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: big
spec:
  placements:
{placements}"""
PLACEMENT = """\
    - name: {name}
      resourceSelectors:
        - {{group: "", version: v1, kind: Namespace, name: app}}
      policy:
{policy}"""


def test_the_lock_of_10000_clusters_with_pickn_placements_stays_within_the_input_limits(
    tmp_path,
):
    """Every PickN placement records thousands of picks, with scores; fleetc reads its own lock
    back well inside its input limits (the list form broke the 200,000-node limit)."""
    fleet = FleetDir(tmp_path / "fleet")
    regions = ["east", "west", "north", "south", "central"]
    for part in range(2):
        docs = [
            f"apiVersion: fleetc.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: c{i:05d}\n"
            f"  labels:\n    region: {regions[i % 5]}\n    tier: t{i % 3}\n"
            for i in range(part * CLUSTERS // 2, (part + 1) * CLUSTERS // 2)
        ]
        fleet.write(f"clusters/part{part}.yaml", "---\n".join(docs))
    policies = {
        f"pick-{n}": f"        placementType: PickN\n        numberOfClusters: {n}\n"
        "        affinity:\n          clusterAffinity:\n"
        "            preferredDuringSchedulingIgnoredDuringExecution:\n"
        "              - weight: 20\n                preference:\n"
        "                  labelSelector: {matchLabels: {tier: t1}}\n"
        for n in (4000, 6000, 9000)
    }
    policies.update({f"all-{i}": "        placementType: PickAll\n" for i in range(2)})
    fleet.write(
        "fleet.yaml",
        FLEET.format(
            placements="".join(
                PLACEMENT.format(name=name, policy=policy) for name, policy in policies.items()
            )
        ),
    )
    fleet.write("hub/app.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n")
    first = fleet.compile()
    assert first.ok, first.diagnostics.errors[:3]
    text = first.lock.decode()
    assert text.count("\n      c") == 4000 + 6000 + 9000 + 2 * CLUSTERS
    diags = Diagnostics()
    (doc,) = yamlsource.parse(text, "fleet.lock", diags)  # the limits fleetc reads inputs with
    previous = fleetlock.read(doc, diags)
    assert not diags.has_errors
    # The next render's scheduling starts from this lock and writes the same section.
    comp = first.compilation
    again = schedule_fleet(comp.fleet, previous, frozenset(), diags)
    assert not diags.has_errors
    assert again.lock_section == comp.lock.sections["placements"]
