"""Topology spread: one pick per round with rescoring, domains over all clusters."""

from __future__ import annotations

from ninefleet import decisions, nine_cluster_fleet, outcome, pick_n
from test_schedule_pickn import LEFT, NOT_READY, TAINTED, not_picked, picked

VIOLATED = (
    'ClusterUnschedulable, violated doNotSchedule topology spread constraint "region" (max skew 1)'
)


def spread(when: str) -> list[dict]:
    return [{"topologyKey": "region", "maxSkew": 1, "whenUnsatisfiable": when}]


def test_do_not_schedule_picks_one_per_round_and_counts_ineligible_domains(memory_fleet):
    # Round 1: every domain empty, so in-domain clusters score -1 and cluster-09 (no region,
    # outside the spread) scores 0. Round 2: ties go to cluster-05 (west). Round 3: west would
    # reach skew 2, east scores 0: cluster-03. Round 4: 'central' holds only ineligible clusters,
    # so its count stays 0 and both east and west would reach skew 2: unfulfilled.
    policy = pick_n(4, topologySpreadConstraints=spread("DoNotSchedule"))
    result = nine_cluster_fleet(memory_fleet, policy).compile()
    assert decisions(result) == [
        picked("cluster-09", 0, 0),
        picked("cluster-05", 0, -1),
        picked("cluster-03", 0, 0),
        ("cluster-01", VIOLATED),
        ("cluster-02", VIOLATED),
        ("cluster-04", VIOLATED),
        ("cluster-06", TAINTED),
        ("cluster-07", NOT_READY),
        ("cluster-08", LEFT),
    ]
    assert outcome(result).condition.status == "False"


def test_schedule_anyway_scores_violations_minus_1000(memory_fleet):
    policy = pick_n(4, topologySpreadConstraints=spread("ScheduleAnyway"))
    result = nine_cluster_fleet(memory_fleet, policy).compile()
    assert decisions(result)[:6] == [
        picked("cluster-09", 0, 0),
        picked("cluster-05", 0, -1),
        picked("cluster-03", 0, 0),
        picked("cluster-04", 0, -1000),
        not_picked("cluster-02", 0, -1000),
        not_picked("cluster-01", 0, -1000),
    ]
    assert outcome(result).condition.status == "True"


def test_topology_score_outranks_affinity(memory_fleet):
    affinity = {
        "clusterAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "preference": {"labelSelector": {"matchLabels": {"region": "west"}}},
                }
            ]
        }
    }
    policy = pick_n(2, affinity=affinity, topologySpreadConstraints=spread("ScheduleAnyway"))
    result = nine_cluster_fleet(memory_fleet, policy).compile()
    # Round 1: cluster-09 has topology 0 > -1 of the west clusters despite affinity 100.
    # Round 2: west (count 0 of 0,0,0 -> all equal) still -1, affinity 100 wins among -1.
    assert decisions(result)[:2] == [picked("cluster-09", 0, 0), picked("cluster-05", 100, -1)]
