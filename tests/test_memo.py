"""The stages' memo (core/memo.py): a compile that recalls earlier work gives the same bytes,
lock and diagnostics as one that recalls nothing, over random sequences of edits.

The fleet is the benchmark generator's (templates, per-region overrides substituting labels,
PickAll, PickN with spread and a property sorter, PickFixed, exported services, MetalLB
pools), small. The memo is carried from compile to compile through JSON, as the cache in
.git/fleetc/ carries it from run to run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from fleetc.core.diagnostics import Diagnostics
from fleetc.core.memo import NO_MEMO, Memo, fingerprint
from fleetc.pipeline import Result, compile_fleet
from fleetc.shell.load import load
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import fleetgen

CLUSTERS = 12


def compiled(root: Path, memo: Memo) -> Result:
    diags = Diagnostics()
    inputs = load(root / "fleet.yaml", diags)
    result = compile_fleet(inputs, memo=memo)
    result.diagnostics.items[:0] = diags.items
    return result


def outcome(result: Result) -> tuple:
    diagnostics = [(d.severity, d.message, str(d.position)) for d in result.diagnostics.items]
    return result.files, result.lock, diagnostics


def carried(memo: Memo) -> Memo:
    """What the next run starts from: the used entries, through JSON."""
    return Memo(json.loads(json.dumps(memo.used())))


def edit(root: Path, kind: str, step: int) -> None:
    clusters = sorted((root / "clusters").glob("*.yaml"))
    hub = sorted((root / "hub").glob("*.yaml"))
    cluster = clusters[step % len(clusters)]
    if kind == "relabel":
        text = cluster.read_text()
        cluster.write_text(text.replace("env: prod", "env: x").replace("env: dev", "env: prod"))
    elif kind == "region":
        text = cluster.read_text()
        cluster.write_text(text.replace("region: eastus", "region: westus", 1))
    elif kind == "unrelated-label":
        text = cluster.read_text()
        cluster.write_text(text.replace("  labels:\n", f"  labels:\n    team: t{step}\n", 1))
    elif kind == "property":
        text = cluster.read_text()
        cluster.write_text(text.replace('node-count: "', 'node-count: "1', 1))
    elif kind == "hub":
        path = hub[step % len(hub)]
        path.write_text(path.read_text().replace("LOG_LEVEL: info", f"LOG_LEVEL: l{step}"))
    elif kind == "image":
        path = hub[step % len(hub)]
        path.write_text(path.read_text().replace(":1.0.0", f":1.0.{step + 1}"))
    elif kind == "template":
        for path in sorted((root / "hub").glob("*.j2"))[:1]:
            path.write_text(path.read_text() + f"  step: '{step}'\n")
    elif kind == "override":
        for path in sorted((root / "hub").glob("*-overrides.yaml"))[:1]:
            path.write_text(path.read_text().replace("value: 2}", f"value: {step + 7}}}", 1))
    elif kind == "add-cluster":
        text = clusters[0].read_text().replace(clusters[0].stem, f"n{step:04d}")
        (root / "clusters" / f"n{step:04d}.yaml").write_text(text)
    elif kind == "remove-cluster" and len(clusters) > 2:
        clusters[-1].unlink()
    elif kind == "drop-lock":
        (root / "fleet.lock").unlink(missing_ok=True)


EDITS = st.sampled_from(
    [
        "relabel",
        "region",
        "unrelated-label",
        "property",
        "hub",
        "image",
        "template",
        "override",
        "add-cluster",
        "remove-cluster",
        "drop-lock",
    ]
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(edits=st.lists(EDITS, min_size=1, max_size=5))
def test_a_compile_recalling_earlier_work_gives_the_same_output(tmp_path_factory, edits):
    root = tmp_path_factory.mktemp("memo")
    fleetgen.generate(root, CLUSTERS)
    memo = Memo()
    for step, kind in enumerate(["nothing", *edits]):
        edit(root, kind, step)
        fresh = compiled(root, NO_MEMO)
        memo = carried(memo)
        recalled = compiled(root, memo)
        assert outcome(recalled) == outcome(fresh), (edits, step)
        if fresh.ok:  # the next step starts from this render's lock, as render leaves it
            (root / "fleet.lock").write_bytes(fresh.lock)


def test_an_unchanged_fleet_is_recalled_not_recomputed(tmp_path):
    fleetgen.generate(tmp_path, CLUSTERS)
    first = Memo()
    compiled(tmp_path, first)
    again = carried(first)
    compiled(tmp_path, again)
    assert again.hits > 0 and again.misses == 0


def test_a_memo_of_the_wrong_shape_is_not_trusted(tmp_path):
    """Every table's entries replaced by a value of another shape: a miss, never an error."""
    fleetgen.generate(tmp_path, CLUSTERS)
    first = Memo()
    expected = outcome(compiled(tmp_path, first))
    for junk in (17, "x", [], {"unexpected": True}):
        tables = {t: dict.fromkeys(entries, junk) for t, entries in first.used().items()}
        assert outcome(compiled(tmp_path, Memo(tables))) == expected, junk


def test_fingerprints_are_equal_for_equal_data_and_differ_otherwise():
    assert fingerprint("t", {"a": 1, "b": [1, 2]}) == fingerprint("t", {"b": [1, 2], "a": 1})
    assert fingerprint("t", {"a": 1}) != fingerprint("t", {"a": "1"})
    assert fingerprint("t", 1) != fingerprint("u", 1)


@pytest.mark.parametrize("memo", [NO_MEMO])
def test_no_memo_remembers_nothing(memo):
    memo.keep("t", "k", 1)
    assert memo.recall("t", "k") is None and memo.used() == {}
