"""The git side of the GitOps loop: compile a commit for ``fleetc diff``, and commit a render.

The base commit is read from git objects only (``gitsource``): the working tree, the index and
the stash are never touched. Committing stages exactly the output folder and fleet.lock, and
refuses when anything else is staged.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import git

from ..core.diagnostics import Diagnostics, Position
from ..core.inputs import FLEET_FILE
from ..core.lock import LOCK_FILE
from ..core.memo import NO_MEMO, Memo
from ..core.output_layout import FLUX_SYSTEM
from ..core.reporter import SILENT, Reporter
from ..core.snapshot_store import SNAPSHOT_STORE
from ..pipeline import Options, Result
from ..views import diff as fleetdiff
from ..views import diff_format, diff_side
from . import gitindex, gitsource, output_tree, writer
from .base_cache import BaseCache
from .compile import compile_file, compile_loaded
from .gitsource import load_commit
from .load import load
from .sources import join

# fleetc's own scratch files (the render lock, staging files, a shadow tree): never sources.
SCRATCH_PREFIXES = (writer.RENDER_LOCK, writer.STAGING_PREFIX, writer.SHADOW_PREFIX)


@dataclass
class Compared:
    diff: fleetdiff.FleetDiff | None
    # The base's compile; None when its side was recalled (only bases that compile are kept).
    base: Result | None
    head: Result
    # The output committed at the base (relative to its output folder), for the transition
    # checks: what Flux applied, which the new output replaces.
    base_output: dict[str, bytes] | None = None
    # The output folder the findings point into (relative to the fleet's folder).
    output: str = ""

    def failures(self) -> list[tuple[str, Result]]:
        """The trees that do not compile, as diff names them."""
        trees = (("base", self.base), ("working tree", self.head))
        return [(label, r) for label, r in trees if r is not None and not r.ok]


def compare_with(
    fleet_file: Path,
    base_ref: str | None,
    options: Options,
    reporter: Reporter = SILENT,
    head: Result | None = None,
    memo: Memo = NO_MEMO,
    bases: BaseCache | None = None,
) -> Compared:
    """Compile ``base_ref`` (default: ``gitsource.default_base``) and compare the working tree
    with it. ``head`` is the working tree already compiled with ``options`` (else it is
    compiled here): each tree is compiled once. A base whose side ``bases`` keeps is not
    compiled at all; one that compiles is kept there. Both compiles recall from ``memo``: what
    the change did not touch is not done again, and a base compiled before (the same commit,
    or one sharing its files) is mostly recalled."""
    root = Path(os.path.abspath(fleet_file)).parent
    with reporter.stage("load"):
        repo = gitsource.open_repo(root)
        prefix = gitsource.fleet_prefix(repo, root)
        ref, how = (base_ref, base_ref) if base_ref else gitsource.default_base(repo)
        commit = gitsource.resolve_commit(repo, ref)
        empty = not gitsource.GitSource(commit, prefix).is_file(FLEET_FILE)
        key = bases.base_key(commit.hexsha, prefix, options) if bases is not None else None
        side = bases.recall_base(key) if bases is not None else None
    base: Result | None = None
    if side is None:
        base, side = _compile_base(commit, prefix, root, options, reporter, memo)
        if side is not None and bases is not None:
            bases.store_base(key, side)
    output = side.output if side else ""
    if head is None:
        compiled = compile_file(fleet_file, options, reporter, memo=memo)
        head, output = compiled.result, compiled.inputs.output
    if side is None or not head.ok:
        return Compared(None, base, head)
    name = commit.hexsha[:12] if how == commit.hexsha else f"{how} ({commit.hexsha[:12]})"
    if empty:
        name += ", without fleet.yaml: an empty fleet"
    assert head.compilation is not None
    with reporter.stage("compare"):
        found = fleetdiff.compare(side, head.compilation, name, "working tree", head.serialised)
        output_rel = join(prefix, side.output.strip("/"))
        base_output = committed_output_like(commit, output_rel, head.files)
    return Compared(found, base, head, base_output, output)


def _compile_base(
    commit: git.Commit, prefix: str, root: Path, options: Options, reporter: Reporter, memo: Memo
) -> tuple[Result, diff_side.Side | None]:
    """The base compiled from git objects, and its side when it compiles."""
    try:
        compiled = compile_loaded(
            lambda diags: load_commit(commit, prefix, root, diags), options, reporter, memo
        )
    except (ValueError, git.GitCommandError) as exc:  # objects missing from a partial clone
        raise gitsource.GitError(
            f"cannot read commit {commit.hexsha[:12]}: {gitsource.SHALLOW_HINT}"
        ) from exc
    result = compiled.result
    if not result.ok:
        return result, None
    assert result.compilation is not None
    return result, diff_side.of(result.compilation, compiled.inputs.output, result.serialised)


def output_at(fleet_root: Path, ref: str, like: dict[str, bytes]) -> tuple[str, dict[str, bytes]]:
    """The output committed at ``ref`` (its fleet.yaml's spec.output, relative to that folder;
    see ``committed_output_like``), and how the commit is named; GitError for an unknown
    revision."""
    repo = gitsource.open_repo(fleet_root)
    prefix = gitsource.fleet_prefix(repo, fleet_root)
    commit = gitsource.resolve_commit(repo, ref)
    base_inputs = load_commit(commit, prefix, fleet_root, Diagnostics())
    name = f"{ref} ({commit.hexsha[:12]})"
    return name, committed_output_like(commit, join(prefix, base_inputs.output.strip("/")), like)


def committed_output_like(
    commit: git.Commit, output_rel: str, like: dict[str, bytes]
) -> dict[str, bytes]:
    """``committed_output(commit, output_rel)``, reading from git only the files whose blob
    differs from ``like``'s (the new output): an identical file is ``like``'s bytes. One
    ``git ls-tree`` lists the ids; at 45,000 files this is about a second, not a minute."""
    top = output_rel.strip("/")
    listing = commit.repo.git.ls_tree("-r", "-z", "--full-tree", commit.hexsha, "--", top + "/")
    found: dict[str, bytes] = {}
    for entry in listing.split("\0"):
        meta, _, path = entry.partition("\t")
        parts = meta.split(" ")
        if len(parts) != 3 or parts[1] != "blob" or parts[0] == "120000":
            continue  # symbolic links and submodules are not output files
        rel = path[len(top) + 1 :] if top else path
        cluster_level = rel.split("/")
        if len(cluster_level) > 2 and cluster_level[1] == FLUX_SYSTEM:
            continue  # bootstrap's, not fleetc's
        mine = like.get(rel)
        if mine is not None and gitindex.blob_id(mine) == parts[2]:
            found[rel] = mine
        else:
            blob = commit.repo.odb.stream(bytes.fromhex(parts[2]))
            if blob.size > COMMITTED_FILE_LIMIT:
                raise gitsource.GitError(f"{path} in {commit.hexsha[:12]} is too large")
            found[rel] = blob.read()
    return found


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


def commit_message(
    repo: git.Repo,
    found: fleetdiff.FleetDiff,
    source_paths: list[str],
    committed_sources: list[str] | None = None,
) -> str:
    try:
        source = repo.head.commit.hexsha
    except ValueError:
        source = "(no commit yet)"
    lines = [f"fleetc render: {diff_format.headline(found)}", "", f"Source commit: {source}"]
    if committed_sources:
        lines.append("Source changes in this commit: " + ", ".join(committed_sources))
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


# What `render --commit` commits besides the output and fleet.lock.
INCLUDE_OUTPUT = "output"  # nothing else; refused when other changes are staged
INCLUDE_STAGED = "staged"  # the staged changes
INCLUDE_TRACKED = "tracked"  # every change to a tracked file below the fleet's folder
INCLUDES = (INCLUDE_OUTPUT, INCLUDE_STAGED, INCLUDE_TRACKED)


@dataclass
class PendingCommit:
    repo: git.Repo
    # The output folder and fleet.lock, relative to the repository's top level.
    paths: list[str]
    include: str = INCLUDE_OUTPUT
    # The fleet's folder relative to the repository's top level ("" at the top).
    prefix: str = ""


def prepare_commit(root: Path, output: Path, include: str = INCLUDE_OUTPUT) -> PendingCommit:
    """What ``render --commit`` will commit; GitError when it must not: other staged changes
    (``output``), or source changes that the render would see but the commit would leave out
    (``staged``: unstaged or untracked files below the fleet's folder; ``tracked``: untracked
    ones), since that commit would fail ``fleetc check``."""
    repo = gitsource.open_repo(root)
    prefix = gitsource.fleet_prefix(repo, root)
    top = Path(repo.working_tree_dir or "").resolve()
    try:
        out_rel = output.resolve().relative_to(top).as_posix()
    except ValueError as exc:
        raise gitsource.GitError(f"the output {output} is not inside the repository") from exc
    paths = [
        out_rel,
        *(f"{prefix}/{name}" if prefix else name for name in (LOCK_FILE, SNAPSHOT_STORE)),
    ]
    if include == INCLUDE_OUTPUT:
        unrelated = unrelated_staged(repo, paths)
        if unrelated:
            raise gitsource.GitError(
                "refusing to commit: other changes are staged: "
                + ", ".join(unrelated)
                + " (commit them, unstage them with git restore --staged PATH, or commit them "
                "with the output: --include staged)"
            )
        return PendingCommit(repo, paths, include, prefix)
    fleet = [prefix] if prefix else []
    untracked = [
        p
        for p in repo.untracked_files
        if (not fleet or _under(p, fleet))
        and not _under(p, paths)
        and not Path(p).name.startswith(SCRATCH_PREFIXES)
    ]
    unstaged: list[str] = []
    if include == INCLUDE_STAGED:
        changed = {d.a_path for d in repo.index.diff(None)}
        unstaged = [p for p in changed if not _under(p, paths) and (not fleet or _under(p, fleet))]
    if untracked or unstaged:
        named = ", ".join(sorted(set(untracked) | set(unstaged)))
        hint = (
            "stage them (git add) or set them aside (git stash --keep-index --include-untracked)"
            if include == INCLUDE_STAGED
            else "add them (git add) or move them out of the fleet's folder"
        )
        raise gitsource.GitError(
            f"refusing to commit: the render would read changes the commit leaves out: {named} "
            f"(that commit would fail fleetc check); {hint}"
        )
    return PendingCommit(repo, paths, include, prefix)


def _stage_sources(pending: PendingCommit) -> list[str]:
    """Stage what ``include`` adds to the commit; the source paths staged (index vs HEAD)."""
    repo = pending.repo
    if pending.include == INCLUDE_TRACKED:
        repo.git.add("--update", "--", pending.prefix or ".")
    if pending.include == INCLUDE_OUTPUT:
        return []
    return unrelated_staged(repo, pending.paths)


def commit_render(
    pending: PendingCommit, fleet_file: Path, options: Options, head: Result
) -> tuple[str | None, bool]:
    """Commit the written output. ``head`` is the render's own compile of the working tree
    (with ``options``); only HEAD is compiled here. The message counts what the commit changes
    in the committed output, plus the placement moves since HEAD. Returns the new commit (None
    when nothing changed) and whether the placement summary could be made (HEAD exists and
    compiles)."""
    repo = pending.repo
    sources = _stage_sources(pending)
    if not repo.head.is_valid():
        summary = fleetdiff.FleetDiff("(no commit)", "working tree")
        summary.clusters = fleetdiff.compare_files({}, head.files)
        message = commit_message(repo, summary, uncommitted_sources(repo, pending.paths), sources)
        return commit(repo, pending.paths, message), False
    compared = compare_with(fleet_file, "HEAD", options, head=head)
    summary = compared.diff or fleetdiff.FleetDiff("HEAD", "working tree")
    previous = committed_output(repo.head.commit, pending.paths[0])
    summary.clusters = fleetdiff.compare_files(previous, head.files)
    message = commit_message(
        repo, summary, uncommitted_sources(repo, pending.paths + sources), sources
    )
    return commit(repo, pending.paths, message), compared.diff is not None


def commit(repo: git.Repo, paths: list[str], message: str) -> str | None:
    """Stage ``paths`` (additions, changes and deletions) and commit; None if nothing changed."""
    top = Path(repo.working_tree_dir or "")
    # The snapshot store exists only for staged rollouts (on disk, or in git when pruned).
    paths = [p for p in paths if (top / p).exists() or repo.git.ls_files("--", p)]
    repo.git.add("--all", "--", *paths)
    staged = repo.index.diff("HEAD") if repo.head.is_valid() else repo.index.entries
    if not staged:
        return None
    repo.git.commit("--quiet", "-m", message)
    return repo.head.commit.hexsha


def verify_lock(
    fleet_file: Path, ref: str, options: Options, result: Result, diags: Diagnostics
) -> None:
    """``check --base REF``: the pull request's fleet.lock must be what the scheduler produces
    from the base commit's fleet.lock and the pull request's inputs.

    fleet.lock is input a pull request can edit; only history tells a forged entry (a cluster
    the policy refuses, added by hand) from a sticky one (kept because it was picked before).
    Every difference is an error at fleet.lock; every cluster the recomputation keeps only
    because the base's lock remembers it (it fails the filters now) is a warning naming why.
    GitError for an unknown revision."""
    root = fleet_file.parent
    repo = gitsource.open_repo(root)
    commit = gitsource.resolve_commit(repo, ref)
    prefix = gitsource.fleet_prefix(repo, root)
    base_diags = Diagnostics()
    base = load_commit(commit, prefix, root, base_diags)
    where = f"{ref} ({commit.hexsha[:12]})"
    compiled = compile_loaded(
        lambda d: dataclasses.replace(load(fleet_file, d), lock=base.lock), options
    )
    recomputed = compiled.result
    if recomputed.compilation is None or result.compilation is None:
        diags.error(
            f"cannot recompute fleet.lock from the base's at {where}: the inputs have errors"
        )
        return
    ours = result.compilation.outcomes
    theirs = recomputed.compilation.outcomes
    for name in sorted(set(ours) | set(theirs)):
        have = ours[name].selected if name in ours else []
        want = theirs[name].selected if name in theirs else []
        extra = [c for c in have if c not in want]
        missing = [c for c in want if c not in have]
        if extra or missing:
            diags.error(
                f"fleet.lock: placement {name!r} selects "
                + (f"{', '.join(extra)}, which the scheduler would not pick" if extra else "")
                + ("; and " if extra and missing else "")
                + (f"not {', '.join(missing)}, which it would" if missing else "")
                + f" from the base's fleet.lock at {where} and these inputs",
                Position(LOCK_FILE),
                hint="fleet.lock is written by 'fleetc render' only: a hand edit or a stale "
                "lock is refused; render again from the base's fleet.lock",
            )
        for decision in theirs[name].decisions if name in theirs else []:
            if decision.selected and decision.kept_by_lock:
                diags.warning(
                    f"placement {name!r} keeps {decision.cluster} only because fleet.lock "
                    f"remembers it (sticky): it fails the filters now: {decision.kept_by_lock}",
                    Position(LOCK_FILE),
                )
    if recomputed.lock is not None and recomputed.lock != result.lock and not diags.has_errors:
        diags.error(
            f"fleet.lock is not what the scheduler writes from the base's fleet.lock at {where} "
            "and these inputs",
            Position(LOCK_FILE),
            hint="render again from the base's fleet.lock",
        )
