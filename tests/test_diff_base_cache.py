"""fleetc diff compiles a base commit once: its side of the diff is kept in .git/fleetc/ by
commit, fleet folder, options and fleetc's code (shell/base_cache.py, views/diff_side.py).

Every output is byte-identical with a cold cache, a warm one and --no-cache; a recalled base is
not compiled; a corrupt, truncated, foreign or misshapen entry is a miss; another commit,
other options or --no-cache never reuse an entry; the entries stay out of git status.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import replace

import pytest
import stagedfleet as sf
from conftest import run
from fleetc.pipeline import Options
from fleetc.shell import gitloop, writer
from fleetc.shell.base_cache import KEEP, BaseCache
from fleetc.shell.gitloop import compare_with
from fleetc.views import diff, diff_format, diff_side
from gitrepo import GitFleet, demo_fleet
from test_diff import add_cluster, change_policy, edit_resource, move_by_label, remove_cluster

FORMATS = ("text", "markdown", "json")


def edit_secret(fleet):
    path = fleet.root / "hub/app.yaml"
    path.write_text(path.read_text().replace("hunter2-old", "hunter2-new"))


def mention_secret(fleet):
    """A ConfigMap whose new text, not its old, has the word: only one side may be a Secret."""
    path = fleet.root / "hub/app.yaml"
    path.write_text(path.read_text().replace("color: blue", "color: Secret"))


def taint(fleet):
    fleet.cluster(
        "c2", {"env": "prod"}, spec="spec:\n  taints:\n    - {key: maint, effect: NoSchedule}\n"
    )


EDITS = {
    "labels": move_by_label,
    "policy": change_policy,
    "hub object": edit_resource,
    "secret": edit_secret,
    "the word Secret": mention_secret,
    "cluster added": add_cluster,
    "cluster removed": remove_cluster,
    "taint": taint,
}


def entries(fleet) -> list:
    return sorted((writer.scratch_dir(fleet.root) / "cache").glob("base-*"))


def clear(fleet) -> None:
    for path in entries(fleet):
        path.unlink()


@pytest.fixture
def loads(monkeypatch) -> list:
    """Every base commit read from git (a base recalled from the cache is not)."""
    calls: list = []
    real = gitloop.load_commit

    def spy(commit, *args, **kwargs):
        calls.append(commit.hexsha)
        return real(commit, *args, **kwargs)

    monkeypatch.setattr(gitloop, "load_commit", spy)
    return calls


def outputs(cli, fleet, *args: str) -> dict[str, str]:
    found = {}
    for form in FORMATS:
        result = run(cli, "diff", "-f", str(fleet.root), "--format", form, *args)
        assert result.exit_code == 0, result.output
        found[form] = result.output
    return found


@pytest.mark.parametrize("kind", sorted(EDITS))
def test_cold_warm_and_no_cache_print_the_same_bytes(cli, tmp_path, loads, kind):
    fleet = demo_fleet(tmp_path)
    EDITS[kind](fleet)
    fresh = outputs(cli, fleet, "--no-cache")
    assert len(loads) == 3 and not entries(fleet)  # --no-cache neither reads nor writes
    cold = run(cli, "diff", "-f", str(fleet.root), "--format", "text").output
    assert len(loads) == 4 and len(entries(fleet)) == 1
    warm = outputs(cli, fleet)
    assert len(loads) == 4  # recalled three times, compiled never
    assert cold == fresh["text"]
    assert warm == fresh
    assert json.loads(warm["json"])["changed"] is True
    for text in warm.values():
        assert "hunter2" not in text and "admin" not in text


def test_a_recalled_base_still_redacts_secret_values(cli, tmp_path, loads):
    fleet = demo_fleet(tmp_path)
    edit_secret(fleet)
    run(cli, "diff", "-f", str(fleet.root))
    text = run(cli, "diff", "-f", str(fleet.root)).output
    assert len(loads) == 1
    assert "-  password: <redacted-old-value>" in text
    assert "+  password: <redacted-new-value>" in text
    assert "   user: <redacted>" in text
    assert "hunter2" not in text


def test_edits_in_sequence_against_one_base(cli, tmp_path, loads):
    fleet = demo_fleet(tmp_path)
    for mutate in (edit_resource, move_by_label, add_cluster, edit_secret, change_policy):
        mutate(fleet)
        assert outputs(cli, fleet) == outputs(cli, fleet, "--no-cache")
    assert len(loads) == 1 + 5 * 3  # the cached base once; --no-cache's every time


def test_a_staged_rollout_is_the_same_recalled(cli, tmp_path, loads):
    fleet = GitFleet(tmp_path / "repo")
    sf.build(fleet, cli)
    fleet.commit("web is staged")
    sf.write_hub(fleet, image="1.5.0")
    sf.write_run(fleet)
    sf.render(cli, fleet)
    fresh = outputs(cli, fleet, "--base", "HEAD", "--no-cache")
    cold = outputs(cli, fleet, "--base", "HEAD")
    warm = outputs(cli, fleet, "--base", "HEAD")
    assert cold == warm == fresh
    assert json.loads(warm["json"])["rollouts"] == [
        "web: snapshot 1 recorded, not rolled out: 10 cluster(s) in 3 stage(s) waiting"
    ]
    fleet.commit("web 1.5.0")
    sf.fleetc(cli, fleet, "rollout", "advance", "--now", "2026-12-01T09:00:00Z")
    moved = outputs(cli, fleet, "--base", "HEAD")
    assert moved == outputs(cli, fleet, "--base", "HEAD")
    assert moved == outputs(cli, fleet, "--base", "HEAD", "--no-cache")
    assert "web: stage canary: canary-1 0->1" in json.loads(moved["json"])["rollouts"]
    assert len(loads) == 3 + 1 + 1 + 3  # no-cache x3, cold, cold for the new HEAD, no-cache x3


@pytest.mark.parametrize(
    "damage",
    ["truncated", "altered", "empty", "foreign", "wrong shape", "not zlib", "not json"],
)
def test_a_damaged_entry_is_a_miss_and_is_rebuilt(cli, tmp_path, loads, damage):
    fleet = demo_fleet(tmp_path)
    edit_secret(fleet)
    move_by_label(fleet)
    expected = outputs(cli, fleet)
    (path,) = entries(fleet)
    raw = path.read_bytes()
    cache = BaseCache(fleet.root)
    payload = cache._read_raw(path.name)
    entry = json.loads(zlib.decompress(payload))
    if damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "altered":
        path.write_bytes(raw[:-10] + bytes(b ^ 1 for b in raw[-10:]))
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "foreign":
        entry["key"] = "0" * 64
        cache._write_raw(path.name, zlib.compress(json.dumps(entry).encode()))
    elif damage == "wrong shape":
        entry["side"]["objects"]["c1"] = [0, 0, 10**6]  # a text that is not there
        cache._write_raw(path.name, zlib.compress(json.dumps(entry).encode()))
    elif damage == "not zlib":
        cache._write_raw(path.name, json.dumps(entry).encode())
    else:
        cache._write_raw(path.name, zlib.compress(b"{not json"))
    assert outputs(cli, fleet) == expected
    assert len(loads) == 2  # compiled again once, then recalled from the rebuilt entry
    assert path.read_bytes() == raw


def test_another_commit_other_options_and_no_cache_never_reuse(cli, tmp_path, loads):
    fleet = demo_fleet(tmp_path)
    first = fleet.repo.head.commit.hexsha
    edit_resource(fleet)
    for args in ((), ("--strict",), ("--no-cache",), ()):
        assert run(cli, "diff", "-f", str(fleet.root), "--base", first, *args).exit_code == 0
    assert loads == [first, first, first]  # the last is the first's entry
    move_by_label(fleet)
    second = fleet.commit("second")
    assert run(cli, "diff", "-f", str(fleet.root), "--base", "HEAD").exit_code == 0
    assert loads[-1] == second
    assert len(entries(fleet)) == 3  # first, first --strict, second


def test_the_key_names_commit_folder_code_and_options(tmp_path):
    cache = BaseCache(tmp_path)
    key = cache.base_key("a" * 40, "", Options())
    assert key == cache.base_key("a" * 40, "", Options())
    others = {
        cache.base_key("b" * 40, "", Options()),
        cache.base_key("a" * 40, "fleets/prod", Options()),
        cache.base_key("a" * 40, "", Options(strict=True)),
        cache.base_key("a" * 40, "", Options(reschedule=frozenset({"app"}))),
    }
    assert key not in others and len(others) == 4


def test_entries_stay_in_the_git_directory_and_are_bounded(cli, tmp_path):
    fleet = demo_fleet(tmp_path)
    commits = [fleet.repo.head.commit.hexsha]
    for step in range(KEEP + 2):
        fleet.write(
            "hub/extra.yaml", f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x{step}\n"
        )
        commits.append(fleet.commit(f"step {step}"))
    for commit in commits:
        assert run(cli, "diff", "-f", str(fleet.root), "--base", commit).exit_code == 0
    found = entries(fleet)
    assert len(found) == KEEP
    assert all(path.relative_to(fleet.root).parts[0] == ".git" for path in found)
    assert fleet.repo.git.status("--porcelain", "--ignored") == ""


def test_a_base_that_does_not_compile_is_not_kept(cli, tmp_path, loads):
    fleet = demo_fleet(tmp_path)
    fleet.write("clusters/c9.yaml", "apiVersion: fleetc.io/v1alpha1\nkind: Cluster\n")
    fleet.commit("broken")
    (fleet.root / "clusters/c9.yaml").unlink()
    for _ in range(2):
        result = run(cli, "diff", "-f", str(fleet.root), "--base", "HEAD")
        assert result.exit_code == 1
        assert "the base does not compile" in result.output
    assert len(loads) == 2 and not entries(fleet)


def test_a_broken_working_tree_is_reported_with_a_recalled_base(cli, tmp_path, loads):
    fleet = demo_fleet(tmp_path)
    assert run(cli, "diff", "-f", str(fleet.root)).exit_code == 0
    fleet.write("clusters/c9.yaml", "apiVersion: fleetc.io/v1alpha1\nkind: Cluster\n")
    result = run(cli, "diff", "-f", str(fleet.root))
    assert result.exit_code == 1
    assert "the working tree does not compile" in result.output
    assert "the base does not compile" not in result.output
    assert len(loads) == 1


def test_report_recalls_the_base_too(cli, tmp_path, loads):
    fleet = demo_fleet(tmp_path)
    move_by_label(fleet)
    pages = []
    for args in ((), (), ("--no-cache",)):
        out = tmp_path / f"report-{len(pages)}.html"
        result = run(
            cli, "report", "-f", str(fleet.root), "--base", "HEAD", "--out", str(out), *args
        )
        assert result.exit_code == 0, result.output
        pages.append(out.read_bytes())
    assert pages[0] == pages[1] == pages[2]
    assert len(loads) == 2


# -- the side as data --------------------------------------------------------------------------


def _recalled(side: diff_side.Side) -> diff_side.Side:
    data = diff_side.to_data(side)
    assert data is not None
    back = diff_side.from_data(json.loads(json.dumps(data)))
    assert back is not None
    return back


def test_a_side_through_json_compares_as_the_compilation(tmp_path):
    fleet = demo_fleet(tmp_path)
    base = compare_with(fleet.root / "fleet.yaml", "HEAD", Options()).head
    for mutate in (edit_secret, move_by_label, remove_cluster, change_policy):
        mutate(fleet)
    head = compare_with(fleet.root / "fleet.yaml", "HEAD", Options()).head
    assert base.compilation is not None and head.compilation is not None
    side = _recalled(diff_side.of(base.compilation, "rendered"))
    assert side.output == "rendered"
    for form in diff_format.FORMATS.values():
        direct = diff.compare(base.compilation, head.compilation, "b", "h")
        assert form(diff.compare(side, head.compilation, "b", "h")) == form(direct)


def test_redaction_reads_a_list_of_secrets_back_from_its_text():
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "annotations": {diff.LAST_APPLIED: "{...hunter2...}"}},
        "stringData": {"password": "hunter2", "user": "admin", "n": 5},
    }
    old = {"apiVersion": "v1", "kind": "List", "items": [secret, {"kind": "ConfigMap"}]}
    new = {**old, "items": [{**secret, "stringData": {"password": "x", "user": "admin"}}]}

    def side(body) -> diff_side.Side:
        text = diff._yaml(body)
        data = {
            "format": diff_side.FORMAT,
            "output": "rendered",
            **{name: {} for name in ("clusters", "placements", "outcomes", "rollout")},
            "fluxSystem": [],
            "keys": [["", "List", "app", "l"]],
            "paths": ["app/list_l.yaml"],
            "texts": [text],
            "objects": {"c1": [0, 0, 0]},
        }
        found = diff_side.from_data(json.loads(json.dumps(data)))
        assert found is not None and found.bodies == {text: body}
        return found

    (change,) = diff._object_changes("c1", side(old), side(new))
    shown_old, shown_new = (diff._yaml(b) for b in diff.redact_pair(old, new))
    assert change.diff == "".join(
        diff.difflib.unified_diff(
            shown_old.splitlines(keepends=True),
            shown_new.splitlines(keepends=True),
            "a/c1/app/list_l.yaml",
            "b/c1/app/list_l.yaml",
        )
    )
    assert "hunter2" not in change.diff and "admin" not in change.diff


GOOD = {
    "format": diff_side.FORMAT,
    "output": "rendered",
    "clusters": {"c1": [{"env": "prod"}, [], "Ready", None]},
    "placements": {"app": ["", {"policy": {"placementType": "PickAll"}}]},
    "outcomes": {"app": [["c1", True, "picked", "", ""]]},
    "fluxSystem": [],
    "rollout": {"web": [1, {"c1": 0}]},
    "keys": [["", "Namespace", "", "app"]],
    "paths": ["_cluster/namespace_app.yaml"],
    "texts": ["apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n"],
    "objects": {"c1": [0, 0, 0]},
}


def _broken(path: tuple, value) -> dict:
    data = json.loads(json.dumps(GOOD))
    target = data
    for part in path[:-1]:
        target = target[part]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("format",), 99),
        (("output",), None),
        (("clusters",), []),
        (("clusters", "c1"), [{"env": 1}, [], "Ready", None]),
        (("clusters", "c1"), [{}, [], "Ready"]),
        (("placements", "app"), ["", []]),
        (("outcomes", "app"), [["c1", 1, "picked", "", ""]]),
        (("outcomes", "app"), [["c1", True, "picked", ""]]),
        (("outcomes", "app"), "c1"),
        (("fluxSystem",), [1]),
        (("rollout", "web"), [True, {"c1": 0}]),
        (("rollout", "web"), [1, {"c1": "0"}]),
        (("keys",), [["", "Namespace", "app"]]),
        (("texts",), [5]),
        (("objects", "c1"), [0, 0]),
        (("objects", "c1"), [0, 0, 1]),
        (("objects", "c1"), [0, 0, -1]),
        (("objects", "c1"), [0, 0, True]),
        (("objects", "c1"), [0, 0, 0, 0, 0, 0]),
        (("objects",), KeyError),
        (("texts",), ["kind: Secret\nvalue: &a [1]\nagain: *a\n"]),
        (("texts",), ["kind: Secret\n- not a mapping\n"]),
        (("texts",), ["- kind: Secret\n"]),
    ],
)
def test_data_of_another_shape_is_no_side(path, value):
    assert diff_side.from_data(GOOD) is not None
    assert diff_side.from_data(_broken(path, value)) is None


@pytest.mark.parametrize("data", [None, [], "side", 5, {"format": 1}])
def test_no_side_from_something_else(data):
    assert diff_side.from_data(data) is None


def test_a_side_that_would_not_come_back_the_same_is_not_kept(tmp_path):
    fleet = demo_fleet(tmp_path)
    base = compare_with(fleet.root / "fleet.yaml", "HEAD", Options()).head
    assert base.compilation is not None
    side = diff_side.of(base.compilation, "rendered")
    assert diff_side.to_data(side) is not None
    placement = next(iter(side.placements.values()))
    for odd in ({1: "x"}, {"x": ("a", "b")}, {"x": {1, 2}}):
        spec = diff_side.Spec(placement.namespace, odd)
        assert diff_side.to_data(replace(side, placements={"p": spec})) is None
    odd_facts = {**side.clusters["c1"], "labels": {"env": 5}}
    assert diff_side.to_data(replace(side, clusters={"c1": odd_facts})) is None
