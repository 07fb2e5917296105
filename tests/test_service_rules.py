"""Properties of the KEP-1645 merge, independent of any fleet."""

from __future__ import annotations

from fleetc.sections.services.rules import Exported, Port, merge, problem
from hypothesis import given, settings
from hypothesis import strategies as st

ports = st.builds(
    Port,
    name=st.sampled_from(["", "http", "grpc", "metrics"]),
    protocol=st.sampled_from(["TCP", "UDP"]),
    port=st.sampled_from([80, 443, 9090]),
)
exports = st.lists(
    st.builds(
        Exported,
        cluster=st.sampled_from(["a", "b", "c", "d"]),
        api=st.just("mcs-api"),
        type=st.sampled_from(["ClusterSetIP", "Headless"]),
        ports=st.lists(ports, max_size=3).map(tuple),
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda e: e.cluster,
)


@settings(max_examples=60, deadline=None)
@given(exports, st.randoms(use_true_random=False))
def test_merge_is_order_independent_and_never_duplicates(given_exports, rng):
    shuffled = list(given_exports)
    rng.shuffle(shuffled)
    merged = merge(given_exports)
    assert merge(shuffled) == merged
    names = [p.name for p in merged.ports]
    numbers = [(p.protocol, p.port) for p in merged.ports]
    assert len(set(names)) == len(names)
    assert len(set(numbers)) == len(numbers)
    assert merged.winner == min(e.cluster for e in given_exports)
    # Every port of the winner survives; a port that is left out is reported as a conflict.
    winner = next(e for e in given_exports if e.cluster == merged.winner)
    for port in winner.ports:
        assert port in merged.ports or merged.conflicts


def test_problem_rejects_unreadable_services():
    assert problem({"spec": "x"}) == "has no spec"
    assert problem({"spec": {"ports": [{"port": 0}]}}) == (
        "spec.ports[0].port is not a port number (1-65535)"
    )
    assert problem({"spec": {"ports": [{"port": 80, "protocol": "ICMP"}]}}) == (
        "spec.ports[0].protocol is not one of TCP, UDP, SCTP"
    )
    assert problem({"spec": {"sessionAffinityConfig": "x"}}) == (
        "spec.sessionAffinityConfig.clientIP is not a mapping"
    )
    assert problem({"spec": {"ports": [{"port": 80, "name": 1}]}}) == (
        "spec.ports[0].name is not a string"
    )
    assert problem({"spec": {"ports": [{"port": 80}, {"port": 81}]}}) == (
        "spec.ports repeats a port name or a (protocol, port)"
    )
    assert problem({"spec": {"ports": [{"port": 80}]}}) is None
