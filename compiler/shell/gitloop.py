"""The git side of the GitOps loop: compile a commit for ``fleetc diff``, and commit a render.

The base commit is read from git objects only (``gitsource``): the working tree, the index and
the stash are never touched. Committing stages exactly the output folder and fleet.lock, and
refuses when anything else is staged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import git
from fleetc.core.diagnostics import Diagnostics
from fleetc.core.inputs import Inputs
from fleetc.core.lock import LOCK_FILE
from fleetc.core.reporter import SILENT, Reporter
from fleetc.pipeline import Options, Result, compile_fleet
from fleetc.shell import gitsource, output_tree, writer
from fleetc.shell.gitsource import load_commit
from fleetc.shell.load import load
from fleetc.views import diff as fleetdiff
from fleetc.views import diff_format

# fleetc's own scratch files (the render lock, staging folders): never sources.
SCRATCH_PREFIXES = (writer.LOCK_FILE, writer.STAGING_PREFIX)


@dataclass
class Compared:
    diff: fleetdiff.FleetDiff | None
    base: Result
    head: Result
    head_inputs: Inputs


def _compile(
    inputs: Inputs, diags: Diagnostics, options: Options, reporter: Reporter = SILENT
) -> Result:
    result = compile_fleet(inputs, options, reporter)
    result.diagnostics.items[:0] = diags.items
    return result


def compare_with(
    fleet_file: Path, base_ref: str | None, options: Options, reporter: Reporter = SILENT
) -> Compared:
    """Compile ``base_ref`` (default: ``gitsource.default_base``) and the working tree."""
    head_diags = Diagnostics()
    with reporter.stage("load"):
        head_inputs = load(fleet_file, head_diags)
        repo = gitsource.open_repo(head_inputs.root)
        prefix = gitsource.fleet_prefix(repo, head_inputs.root)
        ref, how = (base_ref, base_ref) if base_ref else gitsource.default_base(repo)
        commit = gitsource.resolve_commit(repo, ref)
        base_diags = Diagnostics()
        base_inputs = load_commit(commit, prefix, head_inputs.root, base_diags)
    base = _compile(base_inputs, base_diags, options, reporter)
    head = _compile(head_inputs, head_diags, options, reporter)
    if not (base.ok and head.ok):
        return Compared(None, base, head, head_inputs)
    name = commit.hexsha[:12] if how == commit.hexsha else f"{how} ({commit.hexsha[:12]})"
    assert base.compilation is not None and head.compilation is not None
    with reporter.stage("compare"):
        found = fleetdiff.compare(base.compilation, head.compilation, name, "working tree")
    return Compared(found, base, head, head_inputs)


def unrelated_staged(repo: git.Repo, allowed: list[str]) -> list[str]:
    """Staged paths (index vs HEAD) outside ``allowed`` (repository-relative prefixes)."""
    try:
        staged = repo.index.diff("HEAD")
        paths = {d.a_path for d in staged} | {d.b_path for d in staged}
    except (git.BadName, ValueError):
        paths = {path for path, _stage in repo.index.entries}
    return sorted(p for p in paths if p and not _under(p, allowed))


def _under(path: str, prefixes: list[str]) -> bool:
    return any(path == a.rstrip("/") or path.startswith(a.rstrip("/") + "/") for a in prefixes)


# fleetc's own output, read back from a commit: bounded only against a corrupted repository.
COMMITTED_FILE_LIMIT = 1 << 30


def committed_output(commit: git.Commit, output_rel: str) -> dict[str, bytes | None]:
    """The output files in ``commit`` (repository-relative folder), as ``layout.files`` keys;
    ``<cluster>/flux-system/`` is not fleetc's and is left out. A symbolic link is not
    followed: it reads as None (it differs from any file a render writes)."""
    tree = output_tree.walk(gitsource.GitSource(commit), output_rel)
    return tree.read_all(COMMITTED_FILE_LIMIT)


def commit_message(repo: git.Repo, found: fleetdiff.FleetDiff, source_paths: list[str]) -> str:
    try:
        source = repo.head.commit.hexsha
    except ValueError:
        source = "(no commit yet)"
    lines = [f"fleetc render: {diff_format.headline(found)}", "", f"Source commit: {source}"]
    if source_paths:
        lines.append("Uncommitted source changes rendered: " + ", ".join(source_paths))
    lines += ["", *diff_format.summary_lines(found)]
    return "\n".join(lines) + "\n"


def uncommitted_sources(repo: git.Repo, allowed: list[str]) -> list[str]:
    """Changed files in the working tree (staged or not), other than ``allowed``."""
    changed = {d.a_path for d in repo.index.diff(None)} | set(repo.untracked_files)
    return sorted(
        p
        for p in changed
        if not _under(p, allowed) and not Path(p).name.startswith(SCRATCH_PREFIXES)
    )


@dataclass
class PendingCommit:
    repo: git.Repo
    # The output folder and fleet.lock, relative to the repository's top level.
    paths: list[str]


def prepare_commit(root: Path, output: Path) -> PendingCommit:
    """What ``render --commit`` will commit; GitError when it must not (other staged changes)."""
    repo = gitsource.open_repo(root)
    prefix = gitsource.fleet_prefix(repo, root)
    top = Path(repo.working_tree_dir or "").resolve()
    try:
        out_rel = output.resolve().relative_to(top).as_posix()
    except ValueError as exc:
        raise gitsource.GitError(f"the output {output} is not inside the repository") from exc
    paths = [out_rel, f"{prefix}/{LOCK_FILE}" if prefix else LOCK_FILE]
    unrelated = unrelated_staged(repo, paths)
    if unrelated:
        raise gitsource.GitError(
            "refusing to commit: other changes are staged: "
            + ", ".join(unrelated)
            + " (commit them, or unstage them with git restore --staged PATH)"
        )
    return PendingCommit(repo, paths)


def commit_render(
    pending: PendingCommit, fleet_file: Path, options: Options
) -> tuple[str | None, bool]:
    """Commit the written output. The message counts what the commit changes in the committed
    output, plus the placement moves since HEAD. Returns the new commit (None when nothing
    changed) and whether the placement summary could be made (HEAD exists and compiles)."""
    repo = pending.repo
    if not repo.head.is_valid():
        head = _compile(load(fleet_file, Diagnostics()), Diagnostics(), options)
        summary = fleetdiff.FleetDiff("(no commit)", "working tree")
        summary.clusters = fleetdiff.compare_files({}, head.files)
        message = commit_message(repo, summary, uncommitted_sources(repo, pending.paths))
        return commit(repo, pending.paths, message), False
    compared = compare_with(fleet_file, "HEAD", options)
    summary = compared.diff or fleetdiff.FleetDiff("HEAD", "working tree")
    previous = committed_output(repo.head.commit, pending.paths[0])
    summary.clusters = fleetdiff.compare_files(previous, compared.head.files)
    message = commit_message(repo, summary, uncommitted_sources(repo, pending.paths))
    return commit(repo, pending.paths, message), compared.diff is not None


def commit(repo: git.Repo, paths: list[str], message: str) -> str | None:
    """Stage ``paths`` (additions, changes and deletions) and commit; None if nothing changed."""
    repo.git.add("--all", "--", *paths)
    staged = repo.index.diff("HEAD") if repo.head.is_valid() else repo.index.entries
    if not staged:
        return None
    repo.git.commit("--quiet", "-m", message)
    return repo.head.commit.hexsha
