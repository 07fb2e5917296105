"""Small pieces of the scheduler: quantities, Go rounding, sorter interpolation, skew."""

from __future__ import annotations

from fractions import Fraction

import pytest
from fleetc.core import quantity
from fleetc.stages.schedule.plugins.clusteraffinity import go_round, sorter_weight
from fleetc.stages.schedule.plugins.topologyspread import Spread


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("4", Fraction(4)),
        ("250m", Fraction(1, 4)),
        ("16Gi", Fraction(16 * 2**30)),
        ("48000Mi", Fraction(48000 * 2**20)),
        ("1.5k", Fraction(1500)),
        ("1.5e3", Fraction(1500)),
        ("2E-2", Fraction(1, 50)),
        ("-3", Fraction(-3)),
        (".5", Fraction(1, 2)),
        (7, Fraction(7)),
        (0.25, Fraction(1, 4)),
    ],
)
def test_quantities_parse_exactly(text, value):
    assert quantity.parse(text) == value


@pytest.mark.parametrize("text", ["", "v1.31.2", "4 Gi", "1Ki2", "abc", "1e999", True, None])
def test_non_quantities_are_none(text):
    assert quantity.parse(text) is None


@pytest.mark.parametrize(
    ("x", "rounded"), [(2.5, 3), (-2.5, -3), (0.5, 1), (1.49, 1), (-0.4, 0), (3.0, 3)]
)
def test_go_round_is_half_away_from_zero(x, rounded):
    assert go_round(x) == rounded


def test_each_sorter_term_is_rounded_on_its_own():
    bounds = (Fraction(1), Fraction(5))
    assert sorter_weight(Fraction(3), bounds, "Descending", 5) == 3  # 2.5 -> 3
    assert sorter_weight(Fraction(3), bounds, "Ascending", 5) == 3
    assert sorter_weight(Fraction(3), bounds, "Descending", -5) == -3
    assert sorter_weight(None, bounds, "Descending", 5) == 0
    assert sorter_weight(Fraction(3), (Fraction(3), Fraction(3)), "Descending", 5) == 0


@pytest.mark.parametrize(
    ("counts", "domain", "change"),
    [
        ({"a": 0, "b": 0}, "a", 1),  # all equal
        ({"a": 0, "b": 1, "c": 1}, "a", -1),  # the unique minimum
        ({"a": 0, "b": 0, "c": 1}, "a", 0),  # a tied minimum
        ({"a": 0, "b": 1, "c": 2}, "c", 1),  # the maximum
        ({"a": 0, "b": 1, "c": 2}, "b", 0),  # in between
    ],
)
def test_skew_change(counts, domain, change):
    assert Spread("k", 1, True, counts).skew_change(domain) == change
