"""The quick reader of plain block YAML (core/block_yaml: template output, inventory and hub
files) against the reference reader, core/yamlsource: where the quick reader answers, it answers
exactly as yamlsource does, data, document indexes and positions alike."""

from __future__ import annotations

from typing import Any

from fleetc.core import block_yaml, yamlsource
from fleetc.core.diagnostics import Diagnostics
from hypothesis import given, settings
from hypothesis import strategies as st

# Scalars that look alike but resolve differently, or need quoting, or are no YAML at all.
TRICKY = [
    "true", "True", "TRUE", "yes", "on", "false", "null", "Null", "~", "", "1", "01", "-1", "+1",
    "0", "1_0", "0x1f", "0o7", "1.5", "1.", ".5", "-1.25", "1e3", ".inf", ".nan", "2020-01-01",
    "2001-12-14t21:59:43.10-05:00", "a: b", "a #b", "a#b", "x:y", "x:", "-x", "- x", "=", "<<",
    "*a", "&a", "!t", "|", ">", "%x", "@x", "`x", "a  b", "a b ", " a", "caf\u00e9", "t\tb",
    "it's", 'say "hi"', "back\\slash", "{}", "[]", "{a: 1}", "[1]", "(x)", "/p", "./p", "?x",
    "v1.31.2", "nginx:1.25", "http://x/y", "a,b", "a - b", "--x", "---", "-- x", "+-1", "12345678901234567890",
    "[a, b]", "[a,b]", "[ a ]", "[a, 'b', \"c\"]", "[1, true, null, 1.5, 0x1f]", "[-]", "[-x, .5]",
    "[a: b]", "[a, [b]]", "[a, {b: 1}]", "[1, 2", "[a, ]", "{a: 1, b: x}", "{a: 1,b: 2}",
    "{a: b, a: c}", "{null: 1}", "{1: a, true: b}", "{a: [1]}", "{a: {b: 1}}", "{ a: 1 }",
    "{a: 'x', b: \"y\"}", "{a.b/c: d-e}", "{a: }", "{a}",
]  # fmt: skip
KEYS = ["a", "name", "app.kubernetes.io/name", "1", "true", "null", "<<", "a b", "k:", "-k", "x"]


def _quoted(value: str, style: str) -> str:
    if style == "single":
        return f"'{value}'"
    if style == "double":
        return f'"{value}"'
    return value


@st.composite
def _scalar(draw: Any, tricky: bool) -> str:
    if tricky:
        value = draw(st.sampled_from(TRICKY) | st.text(alphabet=" -:#'\"ab1.{}[]&*!~", max_size=6))
        return _quoted(value, draw(st.sampled_from(["plain", "single", "double"])))
    plain = st.from_regex(r"[a-z][a-z0-9.-]{0,8}", fullmatch=True)
    number = st.integers(-1000, 10**6).map(str)
    flow = st.sampled_from(["[a, b]", '[1, "x", true]', "[10.0.0.0/16]", "{cpu: 100m, memory: 1Gi}",
                            "{a: 1}", "[x-1.y_2]"])  # fmt: skip
    return draw(
        plain | number | flow | st.sampled_from(["true", "1.5", '"3"', "'x y'", "{}", "[]"])
    )


def _tree(tricky: bool) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(KEYS) if tricky else st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True)
    leaves = _scalar(tricky)

    def extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        mappings = st.lists(st.tuples(keys, inner), min_size=1, max_size=4).map(dict)
        # The subset has no sequence directly inside a sequence.
        items = inner if tricky else leaves | mappings
        return mappings | st.lists(items, min_size=1, max_size=3)

    return st.recursive(leaves, extend, max_leaves=12)


def _emit(node: Any, indent: int, step: int, compact: bool, tricky_layout: Any) -> list[str]:
    """Block YAML lines for ``node`` (scalars are already text)."""
    pad = " " * indent
    if isinstance(node, dict):
        lines = []
        for key, value in node.items():
            if isinstance(value, str):
                lines.append(f"{pad}{key}: {value}" if value else f"{pad}{key}:")
            else:
                lines.append(f"{pad}{key}:")
                inner = indent if tricky_layout() else indent + step
                lines += _emit(value, inner, step, compact, tricky_layout)
        return lines
    if isinstance(node, list):
        lines = []
        for item in node:
            if isinstance(item, str):
                lines.append(f"{pad}- {item}")
            elif isinstance(item, dict) and compact:
                inner = _emit(item, indent + 2, step, compact, tricky_layout)
                lines += [f"{pad}- {inner[0].lstrip()}", *inner[1:]]
            else:
                lines.append(f"{pad}-")
                lines += _emit(item, indent + step, step, compact, tricky_layout)
        return lines
    return [f"{pad}{node}"]


@st.composite
def _text(draw: Any, tricky: bool) -> str:
    """One to three documents, separated by '---' lines (and opened by one, sometimes)."""
    documents = draw(st.lists(_document(tricky), min_size=1, max_size=3))
    opened = draw(st.booleans())
    return ("---\n" if opened else "") + "---\n".join(documents)


@st.composite
def _document(draw: Any, tricky: bool) -> str:
    root = draw(st.dictionaries(st.sampled_from(["apiVersion", "kind", "metadata", "data"]),
                                _tree(tricky), min_size=1))  # fmt: skip
    step = draw(st.sampled_from([2, 4] + ([1, 3] if tricky else [])))
    compact = draw(st.booleans()) if tricky else True
    layout = st.booleans() if tricky else st.just(False)
    lines = _emit(root, 0, step, compact, lambda: draw(layout))
    if tricky:
        extras = ["", "  ", "# c", "  # c", "---", "...", "a: b # c", "\t", "%YAML 1.2", "  x: 1"]
        for _ in range(draw(st.integers(0, 3))):
            where = draw(st.integers(0, len(lines)))
            lines.insert(where, draw(st.sampled_from(extras)))
    return "\n".join(lines) + "\n" + draw(st.sampled_from(["", "\n"]))


def _as_parsed(docs: list[yamlsource.Document]) -> list[tuple[Any, ...]]:
    # repr tells True from 1 and 1.0 from 1, and shows the order of keys.
    return [(d.file, d.index, repr(d.data), list(d.positions.items()), d.prefix) for d in docs]


def _check(text: str) -> bool:
    """The quick reader agrees with yamlsource where it answers; whether it answered."""
    quick = block_yaml.documents(text, "hub/t.yaml.j2")
    if quick is None:
        return False
    diags, budget = Diagnostics(), yamlsource.Budget()
    reference = yamlsource.parse(text, "hub/t.yaml.j2", diags, budget)
    assert not diags.items, (text, [d.message for d in diags.items])
    assert (budget.alias_nodes, budget.alias_chars) == (0, 0)
    assert _as_parsed(quick) == _as_parsed(reference), text
    return True


@settings(max_examples=300, deadline=None)
@given(_text(tricky=True))
def test_the_quick_reader_agrees_with_yamlsource_or_declines(text: str):
    _check(text)


@settings(max_examples=150, deadline=None)
@given(_text(tricky=False))
def test_plain_block_yaml_is_read_by_the_quick_reader(text: str):
    assert _check(text), text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=" -:#'\"ab1.{}[]&*!~\n", max_size=60))
def test_arbitrary_text_is_read_alike_or_declined(text: str):
    _check(text)


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: app
  labels:
    app.kubernetes.io/name: web
# the spec
spec:
  replicas: 3
  selector:
    matchLabels: {}
  template:
    spec:
      containers:
        - name: web
          image: nginx:1.25
          args:
            - --port=8080
            - "a b"
          env:
          ports: []
        - name: side
"""


def test_a_typical_manifest_takes_the_quick_path():
    assert _check(DEPLOYMENT)


def test_values_get_their_yaml_types():
    text = "a: true\nb: 3\nc: 1.5\nd: null\ne: '3'\nf: 2020-01-01\ng: yes\nh:\n"
    (doc,) = block_yaml.documents(text, "t") or []
    assert doc.data == {"a": True, "b": 3, "c": 1.5, "d": None, "e": "3", "f": "2020-01-01",
                        "g": "yes", "h": None}  # fmt: skip
    assert _check(text)


def test_empty_collections_are_not_shared_between_documents():
    first, second = (block_yaml.documents("a: {}\nb: []\n", "t") or [None]) * 2
    other = (block_yaml.documents("a: {}\nb: []\n", "t") or [None])[0]
    assert first is second and other is not None
    assert first.data["a"] is not other.data["a"] and first.data["b"] is not other.data["b"]


def test_documents_and_one_line_flow_collections_are_read_with_their_positions():
    text = "---\na: [x, 'y']\n---\nb:\n  - {c: 1, d: z}\n"
    first, second = block_yaml.documents(text, "t") or []
    assert (first.index, first.data, second.index, second.data) == (
        0, {"a": ["x", "y"]}, 1, {"b": [{"c": 1, "d": "z"}]})  # fmt: skip
    assert first.positions[("a", 1)] == (2, 8)
    assert second.positions[("b", 0, "d")] == (5, 12)
    assert _check(text)


def test_text_outside_the_subset_is_declined():
    for text in ("a: &x 1\nb: *x\n", "a: {b: {c: 1}}\n", "a: [[1]]\n", "a: |\n  x\n",
                 "a: 1\na: 2\n", "- a\n", "a:\n- b\n", "a: 'x\n  y'\n", "a: b # c\n",
                 "a: 1\n---\n", "---\n---\na: 1\n", "a: 1\n---\n# only a comment\n---\nb: 2\n",
                 "a: 1\n--- \nb: 2\n", "a: 1\n...\n", "a: {b: 1, b: 2}\n"):  # fmt: skip
        assert block_yaml.documents(text, "t") is None, text
