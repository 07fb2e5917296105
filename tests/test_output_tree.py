"""The one walker over an output tree: the same listing from the working tree and a commit."""

from __future__ import annotations

import os

from conftest import run
from fleetc.shell import output_tree
from fleetc.shell.gitloop import committed_output
from fleetc.shell.gitsource import GitSource
from fleetc.shell.sources import FILE, LINK, FileSource
from gitrepo import GitFleet

A = b"kind: ConfigMap\n"


def _tree(root) -> GitFleet:
    fleet = GitFleet(root)
    fleet.write("fleet.yaml", "kind: Fleet\n")
    fleet.write("rendered/c1/app/a.yaml", A.decode())
    fleet.write("rendered/c1/app/flux-system/nested.yaml", "x: 1\n")  # not bootstrap's
    fleet.write("rendered/c1/flux-system/gotk-sync.yaml", "bootstrap: 1\n")
    fleet.write("rendered/c1/.keep", "")
    fleet.write("rendered/flux-system/top.yaml", "x: 2\n")  # a cluster named flux-system
    fleet.write("elsewhere/b.yaml", "stolen: 1\n")
    os.symlink("app/a.yaml", root / "rendered/c1/link.yaml")
    os.symlink("c1", root / "rendered/c2")
    os.symlink("../../elsewhere", root / "rendered/c1/out")
    fleet.commit("tree")
    return fleet


EXPECTED_FILES = {
    "c1/.keep": FILE,
    "c1/app/a.yaml": FILE,
    "c1/app/flux-system/nested.yaml": FILE,
    "c1/link.yaml": LINK,
    "c1/out": LINK,
    "c2": LINK,
    "flux-system/top.yaml": FILE,
}
EXPECTED_FOLDERS = ["c1", "c1/app", "c1/app/flux-system", "flux-system"]


def test_working_tree_and_commit_list_the_same_and_never_follow_links(tmp_path):
    fleet = _tree(tmp_path)
    for source in (FileSource(tmp_path), GitSource(fleet.repo.head.commit)):
        tree = output_tree.walk(source, "rendered")
        assert tree.exists
        assert tree.files == EXPECTED_FILES
        assert tree.folders == EXPECTED_FOLDERS
        assert tree.read("c1/app/a.yaml") == A
        assert tree.read("c1/link.yaml") is None
        assert tree.read("c2/app/a.yaml") is None

        with_bootstrap = output_tree.walk(source, "rendered", bootstrap=True)
        assert with_bootstrap.files == {**EXPECTED_FILES, "c1/flux-system/gotk-sync.yaml": FILE}
        assert "c1/flux-system" in with_bootstrap.folders

        missing = output_tree.walk(source, "nothing")
        assert not missing.exists and missing.files == {} and missing.folders == []


def test_committed_output_reads_links_as_none(tmp_path):
    fleet = _tree(tmp_path)
    found = committed_output(fleet.repo.head.commit, "rendered")
    assert found["c1/app/a.yaml"] == A
    assert found["c1/link.yaml"] is None and found["c2"] is None
    assert not any(p.startswith(("c2/", "c1/out/", "c1/flux-system/")) for p in found)


def test_the_writer_counts_links_as_files_it_replaces_or_removes(tmp_path):
    from fleetc.shell import writer

    _tree(tmp_path)
    changes = writer.compare(tmp_path / "rendered", {"c1/app/a.yaml": A, "c1/link.yaml": A})
    assert changes.kept == {"c1/app/a.yaml"}
    assert changes.changed == ["c1/link.yaml"]
    assert changes.removed == sorted(set(EXPECTED_FILES) - {"c1/app/a.yaml", "c1/link.yaml"})


def test_validate_rendered_does_not_follow_a_linked_cluster_folder(cli, example, tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leak, namespace: default}\n"
        "data: {token: outside-value}\nbogus: 1\n"
    )
    (example.root / "rendered/evil").symlink_to(outside)
    (example.root / "rendered/aks-member-1/copy.yaml").symlink_to(
        "../aks-member-2/kuard-demo/service_kuard.yaml"
    )
    result = run(cli, "validate", "--rendered", "-f", str(example.root))
    assert result.exit_code == 1
    for path in ("rendered/evil", "rendered/aks-member-1/copy.yaml"):
        assert (
            f"{path}: error: symbolic link in the output: not followed, so its target is not "
            "checked"
        ) in result.output
    assert "bogus" not in result.output and "evil: ConfigMap" not in result.output
    assert "2 error(s), 0 warning(s)" in result.output
