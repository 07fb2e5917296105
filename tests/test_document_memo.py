"""Parsed documents remembered across runs (yamlsource.parse_remembered, the "document" table):
a recalled file gives exactly what parsing it gives, and only changed files are parsed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fleetc.core import block_yaml, yamlsource
from fleetc.core.diagnostics import Diagnostics
from fleetc.core.memo import Memo
from fleetc.shell.load import load
from hypothesis import given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent

# YAML refuses control characters outside escapes, and surrogates.
words = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=10)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.sampled_from(["yes", "0x1F", "1e3", ".inf", "~", "2024-01-01", "a: b", "- x", "", "'q'"]),
    words,
)
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(words, inner, max_size=4)),
    max_leaves=20,
)


def _yaml(draw: st.DrawFn, value: object, indent: int) -> str:
    """``value`` as YAML in a mix of block and flow styles, sometimes anchored and aliased."""
    pad = " " * indent
    if isinstance(value, dict) and value and draw(st.booleans()):
        return "".join(
            f"\n{pad}{_quoted(k)}:{_yaml(draw, v, indent + 2)}" for k, v in value.items()
        )
    if isinstance(value, list) and value and draw(st.booleans()):
        return "".join(f"\n{pad}-{_yaml(draw, v, indent + 2)}" for v in value)
    return " " + _quoted(value)


def _quoted(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)  # flow YAML (non-BMP characters unescaped)


@st.composite
def documents(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        tree = draw(st.dictionaries(words, trees, min_size=1, max_size=4))
        text = "".join(f"{_quoted(k)}:{_yaml(draw, v, 2)}\n" for k, v in tree.items())
        if draw(st.booleans()):  # an anchor and its alias
            text = f"anchored: &a {_quoted(draw(trees))}\nagain: *a\n" + text
        parts.append(text)
    return "---\n".join(parts)


def _parse(text: str, memo: Memo, budget: yamlsource.Budget) -> tuple[list, Diagnostics]:
    diags = Diagnostics()
    return yamlsource.parse_remembered(text, "f.yaml", diags, budget, memo), diags


def _shape(docs: list[yamlsource.Document]) -> list:
    return [
        (json.dumps(d.data), d.file, d.index, list(d.positions.items()), d.prefix) for d in docs
    ]


@settings(max_examples=300, deadline=None)
@given(documents())
def test_a_recalled_file_is_what_parsing_gives(text):
    first_budget, memo = yamlsource.Budget(), Memo()
    parsed, diags = _parse(text, memo, first_budget)
    saved = json.loads(json.dumps(memo.used()))  # as the cache writes and reads it
    later, budget = Memo(saved), yamlsource.Budget()
    recalled, recalled_diags = _parse(text, later, budget)
    assert _shape(recalled) == _shape(parsed)
    assert recalled_diags.items == diags.items
    assert (budget.alias_nodes, budget.alias_chars) == (
        first_budget.alias_nodes,
        first_budget.alias_chars,
    )
    assert later.hits == (0 if diags.items else 1)


def test_files_with_diagnostics_are_not_remembered():
    memo = Memo()
    _, diags = _parse("a: 1\na: 2\n", memo, yamlsource.Budget())
    assert diags.items and not memo.used()


def test_a_recalled_file_over_the_alias_budget_is_parsed_for_its_diagnostic():
    text = "a: &x [1, 2, 3]\nb: *x\nc: *x\n"
    memo = Memo()
    _parse(text, memo, yamlsource.Budget())
    assert memo.used()
    nearly = yamlsource.MAX_ALIAS_NODES_PER_RUN - 1
    expected = Diagnostics()
    yamlsource.parse(text, "f.yaml", expected, yamlsource.Budget(alias_nodes=nearly))
    docs, diags = _parse(text, Memo(memo.used()), yamlsource.Budget(alias_nodes=nearly))
    assert diags.items == expected.items and "alias" in diags.items[0].message
    assert docs == []


def test_a_value_of_the_wrong_shape_is_a_miss():
    memo = Memo()
    _parse("a: 1\n", memo, yamlsource.Budget())
    (key,) = memo.used()[yamlsource.DOCUMENT_TABLE]
    for wrong in (
        "[",
        "[1, 2]",
        '[0, 0, [[0, {"a": 1}, [1]]]]',
        '[0, 0, [[0, {"a": 1}, ["1", 1, 1, 1]]]]',
    ):
        later = Memo({yamlsource.DOCUMENT_TABLE: {key: wrong}})
        docs, _ = _parse("a: 1\n", later, yamlsource.Budget())
        assert [d.data for d in docs] == [{"a": 1}]
        assert json.loads(later.used()[yamlsource.DOCUMENT_TABLE][key])[2][0][1] == {"a": 1}


def test_the_load_recalls_every_unchanged_file_and_parses_a_changed_one(tmp_path):
    root = tmp_path / "fleet"
    shutil.copytree(
        REPO / "examples" / "azure-fleet-l4", root, ignore=shutil.ignore_patterns("rendered")
    )
    cluster = sorted((root / "clusters").glob("*.yaml"))[0]
    # A comment after a value: outside the quick reader's subset, so yamlsource parses it.
    cluster.write_text(cluster.read_text().replace("kind: Cluster\n", "kind: Cluster  # c\n"))
    memo = Memo()
    first = load(root / "fleet.yaml", Diagnostics(), memo=memo)
    saved = json.loads(json.dumps(memo.used()))
    files = len(saved[yamlsource.DOCUMENT_TABLE])
    # Plain block YAML is read by the quick reader (core/block_yaml), never kept.
    quick = [p for p in (root / "clusters").glob("*.yaml") if p != cluster]
    assert quick and files == len(
        [p for p in root.rglob("*.yaml") if block_yaml.documents(p.read_text(), "x") is None]
    )

    again = Memo(saved)
    second = load(root / "fleet.yaml", Diagnostics(), memo=again)
    assert (again.hits, again.misses) == (files, 0)
    for a, b in (
        (first.fleet, second.fleet),
        *zip(first.inventory, second.inventory, strict=True),
        *zip(first.hub, second.hub, strict=True),
    ):
        assert _shape([a]) == _shape([b])

    cluster.write_text(cluster.read_text() + "# changed\n")
    changed = Memo(saved)
    load(root / "fleet.yaml", Diagnostics(), memo=changed)
    assert (changed.hits, changed.misses) == (files - 1, 1)
