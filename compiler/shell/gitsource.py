"""Read a fleet straight from git objects, never from the working tree, index or stash.

``GitSource`` is the ``sources.Source`` of one commit: the fleet's root is a folder of the
commit's tree (``prefix``, "" for the repository root). Symbolic links are blobs of mode 120000
whose content is the target; they are followed with the same rule as on disk: the result must
stay inside the fleet's root.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

import git

from ..core.diagnostics import Diagnostics
from ..core.inputs import FLEET_FILE, Inputs
from .load import load_source
from .sources import FILE, FOLDER, LINK, OTHER, Entry

LINK_MODE = 0o120000
MAX_LINK_HOPS = 40
DEFAULT_BRANCHES = ("origin/HEAD", "origin/main", "origin/master", "main", "master")


class GitError(Exception):
    """A repository or revision problem; the message is for the user."""


class GitSource:
    """The tree of one commit, below ``prefix``."""

    def __init__(self, commit: git.Commit, prefix: str = "") -> None:
        self.commit = commit
        self.tree = commit.tree
        self.prefix = prefix.strip("/")
        self._folders: dict[str, dict[str, git.Object]] = {}
        self._objects: dict[str, git.Object | None] = {}

    def _lookup(self, repo_path: str) -> git.Object | None:
        """The object at ``repo_path`` (links not followed); folders are listed once each.

        Iterative from the nearest path looked up before, so a path of any depth is no
        recursion error, and walking down a deep path costs one step per component."""
        missing: list[str] = []
        path = repo_path
        while path and path not in self._objects:
            missing.append(path)
            path = path.rpartition("/")[0]
        obj = self._objects[path] if path else self.tree
        for full in reversed(missing):
            parent, _, name = full.rpartition("/")
            if obj is None or obj.type != "tree":
                obj = None
            else:
                children = self._folders.get(parent)
                if children is None:
                    children = self._folders[parent] = {_name(item): item for item in obj}
                obj = children.get(name)
            self._objects[full] = obj
        return obj

    def _resolve_repo(self, repo_path: str) -> str | None:
        """Follow links component by component; None when a path leaves the repository."""
        pending = [p for p in repo_path.split("/") if p not in ("", ".")]
        resolved: list[str] = []
        hops = 0
        while pending:
            part = pending.pop(0)
            if part == "..":
                if not resolved:
                    return None
                resolved.pop()
                continue
            obj = self._lookup("/".join([*resolved, part]))
            if obj is not None and obj.type == "blob" and obj.mode == LINK_MODE:
                hops += 1
                target = obj.data_stream.read().decode("utf-8", "replace")
                if hops > MAX_LINK_HOPS or target.startswith("/"):
                    return None
                pending[:0] = target.split("/")
                continue
            resolved.append(part)
        return "/".join(resolved)

    def resolve(self, rel: str) -> str | None:
        if posixpath.isabs(rel):
            return None
        real = self._resolve_repo(posixpath.join(self.prefix, rel) if self.prefix else rel)
        if real is None:
            return None
        if not self.prefix:
            return real
        if real == self.prefix:
            return ""
        if real.startswith(self.prefix + "/"):
            return real[len(self.prefix) + 1 :]
        return None

    def _object(self, rel: str) -> git.Object | None:
        real = self.resolve(rel)
        if real is None:
            return None
        return self._lookup(posixpath.join(self.prefix, real) if self.prefix else real)

    def is_dir(self, rel: str) -> bool:
        obj = self._object(rel)
        return obj is not None and obj.type == "tree"

    def is_file(self, rel: str) -> bool:
        obj = self._object(rel)
        return obj is not None and obj.type == "blob" and obj.mode != LINK_MODE

    def list_dir(self, rel: str) -> list[Entry]:
        obj = self._object(rel)
        if obj is None or obj.type != "tree":
            raise NotADirectoryError(20, "Not a directory", rel)
        entries = [Entry(_name(item), _kind(item)) for item in obj]
        return sorted(entries, key=lambda e: e.name)

    def read_bytes(self, rel: str, limit: int) -> bytes:
        obj = self._object(rel)
        if obj is None or obj.type != "blob":
            raise FileNotFoundError(2, "No such file in the commit", rel)
        return obj.data_stream.read(limit)

    def read_regular(self, rel: str, limit: int = -1) -> bytes | None:
        path = posixpath.join(self.prefix, rel) if self.prefix else rel
        obj = self._lookup(path)  # no link followed, in the folders or at the end
        if obj is None or _kind(obj) != FILE:
            return None
        return obj.data_stream.read(limit) if limit >= 0 else obj.data_stream.read()


def _name(obj: git.Object) -> str:
    """A tree entry's name. A submodule (gitlink) has no ``name`` GitPython can read without
    its .gitmodules entry (AttributeError), but every entry has its path."""
    return obj.path.rpartition("/")[2]


def _kind(obj: git.Object) -> str:
    """What a tree entry is itself: a folder, a link (mode 120000), a file or a submodule."""
    if obj.type == "tree":
        return FOLDER
    if obj.type == "blob":
        return LINK if obj.mode == LINK_MODE else FILE
    return OTHER


def open_repo(path: Path) -> git.Repo:
    """The repository that holds ``path``."""
    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise GitError(f"{path} is not inside a git repository") from exc


def fleet_prefix(repo: git.Repo, fleet_root: Path) -> str:
    """The fleet's folder relative to the repository's top level ("" at the top)."""
    top = Path(repo.working_tree_dir or "").resolve()
    try:
        rel = fleet_root.resolve().relative_to(top)
    except ValueError as exc:
        raise GitError(f"{fleet_root} is not inside the repository at {top}") from exc
    return "" if rel == Path(".") else rel.as_posix()


SHALLOW_HINT = (
    "this is a shallow clone and that history was not fetched: fetch it with "
    "'git fetch --deepen=<n>' (or 'git fetch --unshallow'); in GitHub Actions set "
    "'fetch-depth: 0' on actions/checkout"
)


def is_shallow(repo: git.Repo) -> bool:
    return (Path(repo.git_dir) / "shallow").is_file() or (
        Path(repo.common_dir) / "shallow"
    ).is_file()


def resolve_commit(repo: git.Repo, ref: str) -> git.Commit:
    """The commit ``ref`` names, with its tree readable; GitError (naming the fix for a
    shallow clone) when it is unknown or its objects are missing."""
    try:
        commit = repo.commit(ref)
        commit.tree  # noqa: B018 -- reads the commit object: a missing one fails here
    except (git.BadName, ValueError, git.GitCommandError) as exc:
        if is_shallow(repo):
            raise GitError(f"revision {ref!r} is not in this clone: {SHALLOW_HINT}") from exc
        raise GitError(f"unknown revision {ref!r}") from exc
    return commit


def default_base(repo: git.Repo) -> tuple[str, str]:
    """The merge base of HEAD with the default branch (origin/HEAD, main or master), else HEAD;
    as (commit, how it was chosen)."""
    try:
        head = repo.head.commit
    except ValueError as exc:
        raise GitError("the repository has no commits yet") from exc
    for name in DEFAULT_BRANCHES:
        try:
            branch = repo.commit(name)
        except (git.BadName, ValueError, git.GitCommandError):
            continue
        try:
            bases = repo.merge_base(head, branch)
        except (ValueError, git.GitCommandError) as exc:
            raise GitError(f"cannot find the merge base with {name}: {SHALLOW_HINT}") from exc
        if bases:
            return bases[0].hexsha, f"merge base with {name}"
        if is_shallow(repo):
            raise GitError(
                f"HEAD and {name} share no commit in this clone, so there is no base to "
                f"compare with: {SHALLOW_HINT}; or pass --base REF"
            )
    return head.hexsha, "HEAD"


# What a commit without fleet.yaml compiles as: a fleet with no clusters and no objects, so that
# the pull request adding fleet.yaml diffs as "everything is added".
EMPTY_FLEET = b"""apiVersion: fleetc.io/v1alpha1
kind: Fleet
metadata:
  name: empty
spec:
  resources: [hub/]
  inventory: clusters/
"""


class EmptyFleet:
    """A ``sources.Source`` holding only ``EMPTY_FLEET`` and its two empty folders."""

    _FOLDERS = ("", "hub", "clusters")

    def resolve(self, rel: str) -> str | None:
        return None if posixpath.isabs(rel) else posixpath.normpath(rel).strip(".").strip("/")

    def is_dir(self, rel: str) -> bool:
        return self.resolve(rel) in self._FOLDERS

    def is_file(self, rel: str) -> bool:
        return self.resolve(rel) == FLEET_FILE

    def list_dir(self, rel: str) -> list[Entry]:
        real = self.resolve(rel)
        if real not in self._FOLDERS:
            raise NotADirectoryError(20, "Not a directory", rel)
        if real:
            return []
        return [Entry("clusters"), Entry(FLEET_FILE), Entry("hub")]

    def read_bytes(self, rel: str, limit: int) -> bytes:
        if not self.is_file(rel):
            raise FileNotFoundError(2, "No such file", rel)
        return EMPTY_FLEET[:limit]


def load_commit(commit: git.Commit, prefix: str, root: Path, diags: Diagnostics) -> Inputs:
    """Load the fleet as it is in ``commit``, whose fleet.yaml lives in folder ``prefix`` of the
    repository; ``root`` is where that folder is checked out (used for messages only). A commit
    without that fleet.yaml (the base of the pull request that adds it) is an empty fleet."""
    source = GitSource(commit, prefix)
    if not source.is_file(FLEET_FILE):
        inputs = load_source(EmptyFleet(), root, diags)
        inputs.repo_prefix = prefix
        return inputs
    inputs = load_source(source, root, diags)
    inputs.repo_prefix = prefix
    return inputs
