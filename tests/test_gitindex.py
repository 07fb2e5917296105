"""What git vouches for in the output folder (shell/gitindex.py), in real repositories."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from fleetc.shell.gitindex import IndexQuery, blob_id


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "rendered" / "c1").mkdir(parents=True)
    (root / "rendered" / "c1" / "a.yaml").write_bytes(b"a: 1\n")
    (root / "rendered" / "c1" / "b.yaml").write_bytes(b"b: 1\n")
    (root / "fleet.yaml").write_text("kind: Fleet\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    return root


def clean_blobs(root: Path, output: Path) -> dict[str, str]:
    return IndexQuery(root).clean_blobs(output)


def test_blob_id_is_gits(repo: Path) -> None:
    assert blob_id(b"a: 1\n") == git(repo, "hash-object", "rendered/c1/a.yaml").strip()


def test_clean_tracked_files_have_their_blob_ids(repo: Path) -> None:
    assert clean_blobs(repo, repo / "rendered") == {
        "c1/a.yaml": blob_id(b"a: 1\n"),
        "c1/b.yaml": blob_id(b"b: 1\n"),
    }


def test_a_changed_or_untracked_file_is_not_vouched_for(repo: Path) -> None:
    (repo / "rendered" / "c1" / "a.yaml").write_bytes(b"a: 2\n")
    (repo / "rendered" / "c1" / "new.yaml").write_bytes(b"new: 1\n")
    assert clean_blobs(repo, repo / "rendered") == {"c1/b.yaml": blob_id(b"b: 1\n")}


def test_a_file_of_the_same_size_and_time_changed_is_still_caught(repo: Path) -> None:
    """git's racily-clean rule: a rewrite within the index's timestamp is compared by content."""
    path = repo / "rendered" / "c1" / "a.yaml"
    info = path.stat()
    path.write_bytes(b"a: 9\n")
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert "c1/a.yaml" not in clean_blobs(repo, repo / "rendered")


def test_files_checkout_may_convert_are_left_out(repo: Path) -> None:
    (repo / ".gitattributes").write_text("*.yaml text eol=crlf\nc1/b.yaml -text\n")
    assert clean_blobs(repo, repo / "rendered") == {}
    (repo / ".gitattributes").write_text("rendered/c1/a.yaml filter=lfs\n")
    assert clean_blobs(repo, repo / "rendered") == {"c1/b.yaml": blob_id(b"b: 1\n")}


def test_autocrlf_turns_it_off(repo: Path) -> None:
    git(repo, "config", "core.autocrlf", "true")
    assert clean_blobs(repo, repo / "rendered") == {}


def test_an_output_in_a_subfolder_fleet_is_relative_to_the_output(tmp_path: Path) -> None:
    top = tmp_path / "top"
    out = top / "fleets" / "one" / "rendered" / "c1"
    out.mkdir(parents=True)
    (out / "a.yaml").write_bytes(b"x\n")
    git(top, "init", "-q", "-b", "main")
    git(top, "add", "-A")
    git(top, "commit", "-qm", "base")
    fleet = top / "fleets" / "one"
    assert clean_blobs(fleet, fleet / "rendered") == {"c1/a.yaml": blob_id(b"x\n")}


def test_outside_git_or_without_the_folder_nothing_is_known(tmp_path: Path, repo: Path) -> None:
    plain = tmp_path / "plain"
    (plain / "rendered").mkdir(parents=True)
    (plain / "rendered" / "a.yaml").write_bytes(b"a\n")
    assert clean_blobs(plain, plain / "rendered") == {}
    assert clean_blobs(repo, repo / "missing") == {}


def test_a_query_asked_early_answers_for_the_output_as_it_was_when_asked(repo: Path) -> None:
    """IndexQuery runs git while the fleet compiles: made for the fleet's folder, it answers
    for any output folder below it, as often as asked; an output outside it is asked afresh."""
    query = IndexQuery(repo)
    both = {"c1/a.yaml": blob_id(b"a: 1\n"), "c1/b.yaml": blob_id(b"b: 1\n")}
    assert query.clean_blobs(repo / "rendered") == both
    assert query.clean_blobs(repo / "rendered" / "c1") == {
        "a.yaml": blob_id(b"a: 1\n"),
        "b.yaml": blob_id(b"b: 1\n"),
    }
    assert query.clean_blobs(repo / "rendered") == both
    assert IndexQuery(repo / "rendered" / "c1").clean_blobs(repo / "rendered") == both


def test_an_early_query_still_leaves_out_files_checkout_may_convert(repo: Path) -> None:
    (repo / ".gitattributes").write_text("rendered/c1/a.yaml filter=lfs\n")
    assert IndexQuery(repo).clean_blobs(repo / "rendered") == {"c1/b.yaml": blob_id(b"b: 1\n")}
