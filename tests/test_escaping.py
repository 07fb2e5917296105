"""Untrusted names never become markdown syntax, HTML or terminal escape sequences: in diff's
markdown and text, explain and status text, check's file list and every diagnostic (issue 13,
finding 13)."""

from __future__ import annotations

import re

import pytest
from conftest import FleetDir, run
from fleetc.core.diagnostics import Diagnostic, Position, Severity
from fleetc.core.escape import md_code, md_text, printable
from fleetc.views import diff_format, status
from fleetc.views.diff import ClusterDiff, FleetDiff, ObjectChange, PlacementChange
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from security_fleet import write_fleet

ANSI = "\x1b[2J\x1b]8;;http://evil\x07click\x1b[0m\u202e"
HOSTILE = [
    "x`</code></summary></details>\n# Approved by security\n<details><summary>",
    "`` ` ``",
    "</details>",
    "# fake heading",
    "[click](http://evil.example/)",
    "![img](http://evil.example/a.png)",
    '<img src=x onerror="alert(1)">',
    "<script>alert(1)</script>",
    "| a | b |",
    "line\n\n## injected",
    "@security-team please approve",
    "see https://evil.example and www.evil.example",
    "**bold** _em_ ~~strike~~",
    ANSI,
]


def hostile_diff(text: str) -> FleetDiff:
    change = ObjectChange(f"ConfigMap/app/{text}", f"c1/app/{text}.yaml", "changed", "-a\n+b\n")
    return FleetDiff(
        base=f"main {text}",
        head=f"HEAD {text}",
        clusters=[ClusterDiff(f"c1{text}", "changed", [change])],
        placements=[PlacementChange(f"app{text}", f"c1{text}", "gained", [f"because {text}"])],
        inventory=[f"cluster c1: label {text} changed"],
        policies=[f"placement {text}: policy changed"],
    )


def rendered_html(markdown: str) -> str:
    return MarkdownIt("commonmark").enable("table").enable("strikethrough").render(markdown)


def assert_inert(markdown: str) -> None:
    page = rendered_html(markdown)
    assert not re.search(r"<(a|img|script|h1|h4|h5|h6|em|s|hr|blockquote|ol)\b", page), page
    # Only fleetc's own structure: one title, three sections, one table, one bold headline.
    assert page.count("<h2>") == 1 and page.startswith("<h2>fleetc diff <code>"), page
    assert page.count("<h3>") == 4  # Placement changes, Placement specs, Inventory, Object changes
    assert page.count("<table>") == 1 and page.count("<tr>") == 2 and page.count("<strong>") == 1
    assert page.count("<details>") == page.count("</details>") == 1
    assert page.count("<summary>") == 1 and page.count("<ul>") == 4
    # GitHub links bare URLs in text (not in code spans or HTML blocks).
    text = re.sub(r"<code>.*?</code>|(`+).*?(?<!`)\1(?!`)", "", markdown)
    assert "://" not in text and "www." not in text.lower(), text
    assert "\x1b" not in markdown and "\u202e" not in markdown


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_markdown_diff_shows_hostile_names_as_text(text):
    assert_inert(diff_format.markdown(hostile_diff(text)))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("`<>/#[]()!|*_~\n\\&@:.- abcdetails\x1b"), max_size=30))
def test_markdown_diff_shows_any_name_as_text(text):
    assert_inert(diff_format.markdown(hostile_diff(text)))


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_md_helpers_keep_the_text(text):
    """Escaping changes how the text is written, not what a reader sees."""
    shown = rendered_html(f"a {md_text(text)} b\n\nc {md_code(text)} d")
    visible = re.sub(r"<[^>]+>", "", shown).replace("&lt;", "<").replace("&gt;", ">")
    visible = visible.replace("&quot;", '"').replace("&amp;", "&")
    one_line = printable(text).replace("\n", "\\x0a")
    assert f"a {one_line} b" in visible.replace("\\u202e", "\u202e") or "\x1b" in text
    assert one_line in visible or "\x1b" in text


def test_text_diff_escapes_terminal_controls():
    out = diff_format.text(hostile_diff(ANSI))
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b[2J" in out


def test_diagnostics_escape_terminal_controls():
    diag = Diagnostic(Severity.ERROR, f"kind {ANSI} is unknown", Position(f"hub/{ANSI}.yaml", 1))
    text = diag.format()
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b[2J" in text


def test_status_and_explain_text_escape_terminal_controls():
    decision = {
        "cluster": f"c1{ANSI}",
        "selected": True,
        "verdict": "filtered",
        "filter": ANSI,
        "reason": ANSI,
        "keptByLock": None,
    }
    item = {
        "name": f"app{ANSI}",
        "placementType": "PickAll",
        "scheduled": {"status": "True", "reason": ANSI, "message": ANSI},
        "decisions": [decision],
    }
    for out in (status.status_text({"placements": [item]}), status.explain_text(item)):
        assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
        assert "app\\x1b[2J" in out


def test_check_lists_planted_file_names_without_escape_sequences(cli, fleet_dir: FleetDir):
    write_fleet(fleet_dir)
    assert run(cli, "render", "-f", str(fleet_dir.root / "fleet.yaml")).exit_code == 0
    # Inside a cluster's folder (a stray file beside the cluster folders is an error of its own).
    cluster = sorted(p.name for p in (fleet_dir.root / "rendered").iterdir() if p.is_dir())[0]
    planted = fleet_dir.root / "rendered" / cluster / "evil\x1b[2J\x1b[31m\u202e.yaml"
    planted.write_text("a: 1\n")
    result = run(cli, "check", "-f", str(fleet_dir.root / "fleet.yaml"))
    assert result.exit_code != 0
    assert "\x1b" not in result.output and "\x1b" not in (result.stderr or "")
    assert f"extra:   {cluster}/evil\\x1b[2J" in result.stderr


def test_github_annotations_escape_terminal_controls():
    from fleetc.core import diagnostics_format

    diag = Diagnostic(Severity.ERROR, f"kind {ANSI} is unknown", Position(f"hub/{ANSI}.yaml", 1))
    out = diagnostics_format.render("github", [diag], diagnostics_format.Where())
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
