"""yamlout's own emitter writes exactly what PyYAML writes (``dump_with_pyyaml``), and hands
PyYAML whatever it is not sure of: random nested data and random strings, compared byte for
byte."""

from __future__ import annotations

import pytest
from fleetc.core import yamlout
from hypothesis import example, given, settings
from hypothesis import strategies as st

# Pieces that change how YAML writes a string: indicators, spaces around them, quotes, breaks
# of every kind, escapes, words and numbers a reader takes for something else.
FRAGMENTS = [
    ": ", ":", " #", "#", "- ", "-", "--- ", "...", "? ", "'", '"', "\\", "\n", "\n\n", " ",
    "  ", "\t", "\r", "\r\n", "\x85", "\u2028", "\u2029", "\ufeff", "\x00", "\x7f", "é", "ß",
    "中", "😀", "\ud800", "yes", "No", "null", "~", "true", "=", "<<", "1", "0x1F", "1e3",
    "08", ".5", "-1", "1:20", "2001-12-14", ".inf", "a", "b-c", "x.y/z", "|", ">", "&", "*",
    "!", "%", "@", "`", "{", "}", "[", "]", ",", "_",
]  # fmt: skip
STRINGS = st.one_of(
    st.lists(st.sampled_from(FRAGMENTS), max_size=6).map("".join),
    st.text(max_size=8),
    st.text(st.characters(codec="utf-8"), max_size=8),
    st.from_regex(r"\A[a-z0-9][a-z0-9./:-]{0,20}\Z"),
)
SCALARS = st.one_of(
    STRINGS,
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
)
KEYS = st.one_of(STRINGS, st.integers(), st.booleans(), st.none(), st.text(min_size=100))
DATA = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=20,
)


def same_as_pyyaml(data: object) -> None:
    try:
        expected = yamlout.dump_with_pyyaml(data)
    except Exception as exc:  # the fast path must fail the same way
        with pytest.raises(type(exc)):
            yamlout.dump(data)
        return
    assert yamlout.dump(data) == expected


@settings(max_examples=1000, deadline=None)
@given(st.dictionaries(KEYS, DATA, max_size=5))
@example({"k": "a\nb\n", "l": [" a\nb", {"m": "\na"}], "n": [["x\n\n"]]})
@example({"k": "a\u2028b", "l": ["a\u2028b"], "m": {"n": "x:"}})
@example({"k": [[], {}, [[]], [{}]], "e": {}, "f": []})
@example({"k": -0.0, "l": 0.0, "m": float("nan"), "n": 1e17, "o": float("-inf")})
@example({"a" * 129: 1, "b" * 128: 2})
def test_documents_are_written_as_pyyaml_writes_them(data):
    same_as_pyyaml(data)


@settings(max_examples=1000, deadline=None)
@given(STRINGS)
def test_strings_are_written_as_pyyaml_writes_them(value):
    same_as_pyyaml({value: value, "list": [value, [value], {value: [value]}], "map": {"k": value}})


@given(DATA)
def test_anything_else_is_written_by_pyyaml(data):
    same_as_pyyaml(data)


@pytest.mark.skipif(not yamlout._WITH_LIBYAML, reason="the fast emitter follows libyaml")
def test_kubernetes_objects_do_not_need_pyyaml(monkeypatch):
    """The fast path is taken: the usual strings, numbers, words and literal blocks."""
    monkeypatch.setattr(yamlout, "dump_with_pyyaml", None)
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web", "tier": "no"}},
        "spec": {
            "replicas": 3,
            "paused": False,
            "selector": {"matchLabels": {}},
            "template": {
                "spec": {
                    "containers": [
                        {
                            "image": "nginx:1.25",
                            "args": ["--port", "8080", "1.0", "a b"],
                            "command": ["sh", "-c", "echo hi\nsleep 1\n"],
                            "resources": None,
                            "ports": [],
                        }
                    ]
                }
            },
        },
    }
    assert yamlout.dump(body).startswith("apiVersion: apps/v1\nkind: Deployment\n")
