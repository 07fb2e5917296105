"""Parsing untrusted YAML: positions, plain data only, bounded work."""

from __future__ import annotations

import math

from fleetc.core import yamlsource
from fleetc.core.diagnostics import Diagnostics


def parse(text: str) -> tuple[list[yamlsource.Document], Diagnostics]:
    diags = Diagnostics()
    return yamlsource.parse(text, "f.yaml", diags), diags


def test_positions_point_at_keys_and_items():
    docs, diags = parse("a: 1\nb:\n  c:\n    - x\n    - y\n")
    assert not diags.items
    doc = docs[0]
    assert (doc.pos(("b", "c")).line, doc.pos(("b", "c")).column) == (3, 3)
    assert doc.pos(("b", "c", 1)).line == 5
    # A path that does not exist falls back to its nearest ancestor.
    assert doc.pos(("b", "c", 1, "missing")).line == 5


def test_scalars_follow_yaml_1_2():
    docs, _ = parse("i: 0x1F\no: 0o17\nf: 1.5\ninf: -.inf\nb: true\ny: yes\nn: ~\nt: 2024-01-01\n")
    data = docs[0].data
    assert data["i"] == 31 and data["o"] == 15 and data["f"] == 1.5
    assert data["inf"] == -math.inf and data["b"] is True
    assert data["y"] == "yes" and data["n"] is None and data["t"] == "2024-01-01"


def test_multi_document_files_skip_empty_documents():
    docs, _ = parse("---\na: 1\n---\n---\nb: 2\n")
    assert [d.data for d in docs] == [{"a": 1}, {"b": 2}]
    assert [d.index for d in docs] == [0, 2]


def test_duplicate_key_is_a_diagnostic_with_position():
    _, diags = parse("a: 1\nb: 2\na: 3\n")
    (diag,) = diags.items
    assert "duplicate key 'a'" in diag.message
    assert (diag.position.line, diag.position.column) == (3, 1)


def test_syntax_error_has_line_and_column():
    _, diags = parse("a: [1, 2\nb: 3\n")
    (diag,) = diags.items
    assert diag.message.startswith("YAML syntax error")
    assert diag.position.line >= 1


def test_tags_that_construct_objects_are_refused():
    _, diags = parse("a: !!python/object/apply:os.system ['true']\n")
    (diag,) = diags.items
    assert "is not allowed" in diag.message


def test_alias_bomb_is_bounded():
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        levels.append(f"a{i}: &a{i} [{refs}]")
    _, diags = parse("\n".join(levels) + "\n")
    assert any("alias bomb" in d.message for d in diags.items)


def test_merge_keys_are_refused():
    _, diags = parse("base: &b {x: 1}\nother:\n  <<: *b\n")
    assert any("merge keys" in d.message for d in diags.items)


def test_decode_accepts_bom_and_rejects_invalid_utf8():
    diags = Diagnostics()
    assert yamlsource.decode("\ufeffa: 1\n".encode(), "f", diags) == "a: 1\n"
    assert yamlsource.decode(b"a: 1\nb: \xff\n", "f", diags) is None
    (diag,) = diags.items
    assert "not valid UTF-8" in diag.message and diag.position.line == 2


def test_an_escaped_lone_surrogate_is_a_diagnostic_not_a_crash_when_writing():
    _, diags = parse('a: "\\ud800"\n"\\udfff": 1\n')
    assert [d.position.line for d in diags.items] == [1]
    assert "lone surrogate" in diags.items[0].message


def test_deep_nesting_is_refused_cleanly_even_past_the_c_composers_stack():
    depth = 100_000
    _, diags = parse("[" * depth + "]" * depth)
    (diag,) = diags.items
    assert "nested deeper than 64 levels" in diag.message


def test_fast_and_pure_composers_agree(monkeypatch):
    text = "a: &x [1, {b: yes}]\nc: *x\nd: 'q'\ne: 0o17\n"
    fast, _ = parse(text)
    monkeypatch.setattr(yamlsource, "C_COMPOSER_NESTING_BOUND", 0)
    pure, _ = parse(text)
    assert fast[0].data == pure[0].data and fast[0].positions == pure[0].positions
