"""Hostile YAML: exhaustion, object construction and bad text all end in a diagnostic."""

from __future__ import annotations

import contextlib
import importlib
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, FleetDir, run
from fleetc.core import yamlsource
from fleetc.core.diagnostics import Diagnostics
from security_fleet import NAMESPACE, messages, write_fleet


def parse(text: str) -> tuple[list, list[str]]:
    diags = Diagnostics()
    docs = yamlsource.parse(text, "f.yaml", diags)
    return docs, [d.format() for d in diags]


def billion_laughs(levels: int = 9) -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    previous = "a"
    for name in "bcdefghijk"[: levels - 1]:
        text += f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]\n"
        previous = name
    return text


@contextlib.contextmanager
def no_hang(seconds: int = 60):
    """Fail instead of hanging: a guard against unbounded work, not a speed target (speed is
    the benchmark suite's to measure; a loaded CI machine must not make this flaky)."""

    def expired(signum, frame):
        raise AssertionError(f"still parsing after {seconds} s: unbounded work?")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# -- exhaustion -----------------------------------------------------------------------------


def test_alias_bomb_is_a_diagnostic_not_a_memory_blow_up():
    with no_hang():
        docs, errors = parse(billion_laughs())
    assert docs == []
    assert errors == [
        f"f.yaml:1:56: error: YAML: document expands to more than "
        f"{yamlsource.MAX_NODES_PER_DOCUMENT} nodes (aliases are expanded; is this an alias bomb?)"
    ]


def test_alias_expansion_is_bounded_across_files(monkeypatch):
    """Many small bombs, each under the per-document limit, share one budget per run."""
    monkeypatch.setattr(yamlsource, "MAX_ALIAS_NODES_PER_RUN", 1000)
    budget = yamlsource.Budget()
    diags = Diagnostics()
    for index in range(5):
        yamlsource.parse(billion_laughs(3), f"f{index}.yaml", diags, budget)
    assert [d.position.file for d in diags] == ["f1.yaml", "f2.yaml", "f3.yaml", "f4.yaml"]
    assert "aliases expand to more than 1000 nodes in this run" in diags.items[0].message


def test_aliases_within_limits_are_expanded():
    docs, errors = parse("base: &b {x: 1}\ncopy: *b\n")
    assert errors == [] and docs[0].data == {"base": {"x": 1}, "copy": {"x": 1}}


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        "a: " + "[" * 100_000,
        "{a: " * 100_000,
        "- " * 100_000 + "x",
        "".join("  " * i + f"k{i}:\n" for i in range(1500)) + "  " * 1500 + "v\n",
    ],
    ids=["flow-sequences", "unclosed", "flow-mappings", "block-sequences", "block-mappings"],
)
def test_deep_nesting_is_a_quick_diagnostic(text):
    with no_hang():
        docs, errors = parse(text)
    assert docs == []
    assert len(errors) == 1 and f"nested deeper than {yamlsource.MAX_DEPTH} levels" in errors[0]
    assert errors[0].startswith("f.yaml:1:") or errors[0].startswith("f.yaml:6")


def test_nesting_up_to_the_limit_is_accepted():
    depth = yamlsource.MAX_DEPTH
    docs, errors = parse("[" * depth + "]" * depth)
    assert errors == [] and docs


def test_too_many_documents_in_one_file(monkeypatch):
    monkeypatch.setattr(yamlsource, "MAX_DOCUMENTS_PER_FILE", 10)
    docs, errors = parse("---\na: 1\n" * 12)
    assert len(docs) == 10
    assert errors == ["f.yaml:22:1: error: file holds more than 10 YAML documents"]


def test_a_file_over_the_size_limit_is_refused(memory_fleet, monkeypatch):
    monkeypatch.setattr(yamlsource, "MAX_FILE_BYTES", 1000)
    write_fleet(memory_fleet)
    memory_fleet.write("hub/big.yaml", "# " + "x" * 2000 + "\n")
    result = memory_fleet.compile()
    assert any(
        d.message == "file is larger than the limit of 0 MiB" and d.position.file == "hub/big.yaml"
        for d in result.diagnostics.errors
    ), messages(result)


def test_the_inputs_together_have_a_size_limit(memory_fleet, monkeypatch):
    monkeypatch.setattr(yamlsource, "MAX_TOTAL_BYTES", 3000)
    write_fleet(memory_fleet)
    for index in range(4):
        memory_fleet.write(f"hub/pad{index}.yaml", "# " + "x" * 900 + "\n")
    result = memory_fleet.compile()
    assert any("larger than the limit of 0 MiB in total" in m for m in messages(result))


def test_an_enormous_file_is_not_read_into_memory(fleet_dir: FleetDir):
    """A 4 GiB sparse file under a 1 GiB address-space limit: only its head is read."""
    write_fleet(fleet_dir)
    with open(fleet_dir.root / "hub" / "huge.yaml", "wb") as handle:
        handle.truncate(4 * 1024**3)
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1024**3, 1024**3))\n"
        "from fleetc.cli import main\n"
        "main(['validate', '-f', sys.argv[1]])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(fleet_dir.root)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert "hub/huge.yaml: error: file is larger than the limit of 8 MiB" in proc.stderr
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr


def test_huge_numbers_are_a_diagnostic_not_a_crash():
    docs, errors = parse("a: " + "9" * 5000 + "\nb: 1\n")
    assert docs == []
    assert errors == ["f.yaml:1:4: error: YAML: cannot read this int value (unsupported notation)"]


# -- code execution -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tagged",
    [
        "!!python/object/apply:os.mkdir [{marker}]",
        "!!python/object/new:os.mkdir [{marker}]",
        "!!python/name:os.system",
        "!!python/object:builtins.object {{}}",
        '!custom "{marker}"',
        "!!binary aGVsbG8=",
        "!!set {{a, b}}",
    ],
)
def test_tags_that_construct_objects_are_refused(tmp_path: Path, tagged: str):
    marker = tmp_path / "pwned"
    docs, errors = parse("value: " + tagged.format(marker=str(marker)) + "\n")
    assert docs == []
    assert len(errors) == 1 and "is not allowed (only plain data is accepted)" in errors[0]
    assert errors[0].startswith("f.yaml:1:8:")
    assert not marker.exists()


def test_a_hub_manifest_with_an_object_tag_fails_the_render(fleet_dir: FleetDir, cli, tmp_path):
    marker = tmp_path / "pwned"
    write_fleet(fleet_dir, hub=NAMESPACE + f"  evil: !!python/object/apply:os.mkdir [{marker}]\n")
    result = run(cli, "render", "-f", str(fleet_dir.root))
    assert result.exit_code == 1
    assert "hub/app.yaml:13:9: error: YAML: YAML tag" in result.output
    assert not marker.exists() and not (fleet_dir.root / "rendered").exists()


# -- bad text -------------------------------------------------------------------------------

CLUSTER = "apiVersion: fleetc.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: c2\n"


def _compile_with_cluster_file(fleet_dir: FleetDir, raw: bytes):
    write_fleet(fleet_dir)
    fleet_dir.write_bytes("clusters/c2.yaml", raw)
    return fleet_dir.compile()


@pytest.mark.parametrize(
    "raw",
    [
        b"\xef\xbb\xbf" + CLUSTER.encode(),
        CLUSTER.replace("\n", "\r\n").encode(),
        CLUSTER.encode() + b'  annotations:\n    note: "tab\there"\n',
        CLUSTER.encode() + b"# a comment with a tab:\there\n",
    ],
    ids=["bom", "crlf", "tab-in-quoted-string", "tab-in-comment"],
)
def test_text_that_yaml_accepts_is_accepted(memory_fleet, raw: bytes):
    result = _compile_with_cluster_file(memory_fleet, raw)
    assert result.ok, messages(result)
    assert "c2" in result.compilation.fleet.clusters


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (CLUSTER.encode() + b"  labels: {a: \xff}\n", "clusters/c2.yaml:5:15: error: file is not "),
        (CLUSTER.encode("utf-16"), "clusters/c2.yaml:1:1: error: file is not valid UTF-8"),
        (CLUSTER.encode() + b"\tlabels: {}\n", "clusters/c2.yaml:5:1: error: YAML syntax error"),
        (CLUSTER.encode() + b"  labels: {a: b\x00}\n", "clusters/c2.yaml:5:16: error: YAML does"),
    ],
    ids=["invalid-utf8", "utf16", "tab-indentation", "nul"],
)
def test_text_that_yaml_refuses_is_a_diagnostic_with_a_line(memory_fleet, raw, expected):
    result = _compile_with_cluster_file(memory_fleet, raw)
    assert any(m.startswith(expected) for m in messages(result)), messages(result)


def test_crlf_and_bom_give_the_same_output_as_plain_text(fleet_dir: FleetDir, tmp_path: Path):
    plain = _compile_with_cluster_file(fleet_dir, CLUSTER.encode())
    other = FleetDir(tmp_path / "other")
    crlf = CLUSTER.replace("\n", "\r\n").encode()
    odd = _compile_with_cluster_file(other, b"\xef\xbb\xbf" + crlf)
    assert plain.ok and odd.ok
    assert plain.files == odd.files


def test_a_reused_anchor_is_valid_yaml_and_raises_no_python_warning(recwarn):
    docs, errors = parse("a: &x 1\nb: &x 2\nc: *x\n")
    assert errors == [] and docs[0].data == {"a": 1, "b": 2, "c": 2}
    assert not recwarn.list


def test_the_number_of_input_files_has_a_limit(memory_fleet, monkeypatch):
    # fleetc/__init__ exports the function load(), which hides the module of that name.
    monkeypatch.setattr(importlib.import_module("fleetc.shell.load"), "MAX_INPUT_FILES", 3)
    write_fleet(memory_fleet, clusters=("c1", "c2", "c3", "c4"))
    result = memory_fleet.compile()
    assert any(d.message == "more than 3 input files" for d in result.diagnostics.errors)


# -- expanded bytes (issue 13, finding 3) ---------------------------------------------------


def scalar_bomb(aliases: int, size: int = 1024 * 1024) -> str:
    """A ConfigMap whose one large scalar is aliased ``aliases`` times: few nodes, but
    ``aliases * size`` characters once expanded."""
    refs = "\n".join(f"  k{i}: *big" for i in range(aliases))
    return (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb, namespace: app}\n"
        f"data:\n  big: &big {'x' * size}\n{refs}\n"
    )


@pytest.mark.parametrize("aliases", [1500, 4000])
def test_an_alias_to_a_large_scalar_counts_its_characters_each_time(aliases):
    with no_hang():
        docs, errors = parse(scalar_bomb(aliases))
    assert docs == []
    assert len(errors) == 1 and errors[0].startswith("f.yaml:")
    assert (
        f"document expands to more than {yamlsource.MAX_EXPANDED_CHARS_PER_DOCUMENT} characters"
        in errors[0]
    )


def test_a_scalar_alias_bomb_in_the_hub_is_a_diagnostic_for_validate_and_render(
    fleet_dir: FleetDir,
):
    write_fleet(fleet_dir, clusters=("c1", "c2"), hub=NAMESPACE + "---\n" + scalar_bomb(1500))
    with no_hang():
        result = fleet_dir.compile()
    assert not result.ok
    assert any("characters (aliases are expanded" in m for m in messages(result)), messages(result)


def test_characters_reached_through_aliases_share_one_budget_per_run(monkeypatch):
    monkeypatch.setattr(yamlsource, "MAX_ALIAS_CHARS_PER_RUN", 10_000)
    budget = yamlsource.Budget()
    diags = Diagnostics()
    for index in range(4):
        yamlsource.parse(scalar_bomb(4, size=1000), f"f{index}.yaml", diags, budget)
    assert [d.position.file for d in diags] == ["f2.yaml", "f3.yaml"]
    assert "aliases expand to more than 10000 characters in this run" in diags.items[0].message


def test_aliased_keys_count_too(monkeypatch):
    monkeypatch.setattr(yamlsource, "MAX_EXPANDED_CHARS_PER_DOCUMENT", 10_000)
    text = f"a: &k {'x' * 3000}\nb: {{*k : 1}}\nc: {{*k : 1}}\nd: {{*k : 1}}\n"
    docs, errors = parse(text)
    assert docs == [] and "more than 10000 characters" in errors[0]


def test_small_scalar_aliases_are_expanded():
    docs, errors = parse(scalar_bomb(3, size=100))
    assert errors == [] and docs[0].data["data"]["k2"] == "x" * 100
