"""fleet.lock's fast reader: what it accepts reads exactly as the positional parser reads it.

``lock.parse`` reads the YAML ``lock.dump`` writes without the general parser, and hands
anything it is not sure of to ``yamlsource.parse``. The reference is ``yamlsource.parse``
itself: same data, same positions, same diagnostics, for locks fleetc writes and for any
edit of one (the file arrives in pull requests).
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
from fleetc.core import lock as fleetlock
from fleetc.core import yamlsource
from fleetc.core.diagnostics import Diagnostics
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
WORDS = ["c00001", "app", "10.0.1.0/30", "PickN", "true", "1", "0x1F", "null", "~", "a b", "x: y"]
TEXT = st.sampled_from(WORDS) | st.text(
    st.sampled_from("ab1-_.:/ #'\"=~\n\t|{}[]&*!%@`é\u2028\x85"), max_size=8
)


def scalars():
    return TEXT | st.integers(-5, 10**20) | st.booleans() | st.none() | st.floats(-2, 2)


def data():
    return st.recursive(
        scalars(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
        max_leaves=12,
    )


def both(text: str) -> tuple[list, Diagnostics, list, Diagnostics]:
    fast_diags, full_diags = Diagnostics(), Diagnostics()
    fast = fleetlock.parse(text, "fleet.lock", fast_diags)
    full = yamlsource.parse(text, "fleet.lock", full_diags)
    return fast, fast_diags, full, full_diags


def assert_same(text: str) -> None:
    fast, fast_diags, full, full_diags = both(text)
    assert [d.data for d in fast] == [d.data for d in full]
    assert [d.positions for d in fast] == [d.positions for d in full]
    assert [d.index for d in fast] == [d.index for d in full]
    assert fast_diags.items == full_diags.items


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(TEXT, data(), max_size=4))
def test_a_written_lock_reads_as_the_positional_parser_reads_it(sections):
    assert_same(fleetlock.dump(fleetlock.Lock(sections)).decode())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(TEXT, data(), max_size=4), st.data())
def test_any_edit_of_a_lock_reads_as_the_positional_parser_reads_it(sections, draw):
    text = fleetlock.dump(fleetlock.Lock(sections)).decode()
    for _ in range(draw.draw(st.integers(1, 3))):
        at = draw.draw(st.integers(0, len(text)))
        cut = draw.draw(st.integers(0, 3))
        insert = draw.draw(st.sampled_from(["", " ", "\n", "- ", ": ", "#", "'", "|", "a", "  "]))
        text = text[:at] + insert + text[at + cut :]
    assert_same(text)


def picks_lock(clusters: int) -> str:
    lines = "".join(f"c{i:05d}\n" for i in range(clusters))
    section = {
        "addresses": {f"c{i:05d}": {"ingress": [f"10.0.{i % 250}.0/30"]} for i in range(50)},
        "placements": {
            "app": {"placementType": "PickAll", "policyHash": "0123456789", "clusters": lines},
            "spread": {
                "placementType": "PickN",
                "tolerations": ["Equal key=value:NoSchedule"],
                "external": True,
                "policyHash": "abcdef0123456789",
                "clusters": "c1 affinity=3 topologySpread=-1\nc2\n",
            },
            "none": {"placementType": "PickN", "policyHash": "x", "clusters": ""},
        },
    }
    return fleetlock.dump(fleetlock.Lock(section)).decode()


def test_a_lock_as_fleetc_writes_it_is_read_without_the_positional_parser():
    text = picks_lock(2000)
    assert_same(text)
    with mock.patch.object(yamlsource, "parse", side_effect=AssertionError("slow path")):
        (doc,) = fleetlock.parse(text, "fleet.lock", Diagnostics())
    assert doc.data["placements"]["app"]["clusters"].count("\n") == 2000


@pytest.mark.parametrize(
    "lock",
    sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("**/fleet.lock") if ".git" not in p.parts),
)
def test_every_committed_lock_reads_the_same(lock):
    assert_same((ROOT / lock).read_text(encoding="utf-8"))
