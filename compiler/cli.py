"""The command line: parse arguments, call the library, report. No compiler logic lives here."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .core import diagnostics_format
from .core.diagnostics import Diagnostics, suggest
from .core.escape import one_line
from .core.lock import LOCK_FILE
from .core.memo import NO_MEMO, Memo
from .core.options import Advance, Approve, Options
from .core.reporter import SILENT, Reporter
from .core.version import __version__
from .shell import prefetch, writer
from .shell import terminal as report
from .shell.cache import Cache, Hit, RecordingSource, vouched
from .shell.gitindex import IndexQuery
from .shell.prefetch import Prefetch
from .shell.sources import Source

if TYPE_CHECKING:
    from .pipeline import Result


class _Lazy:
    """A module imported on first use: a render or check answered from the cache does not
    import the compiler, git or the schemas."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


pipeline = _Lazy("fleetc.pipeline")
apply_safety = _Lazy("fleetc.shell.apply_safety")
gitloop = _Lazy("fleetc.shell.gitloop")
gitsource = _Lazy("fleetc.shell.gitsource")
validate_hub = _Lazy("fleetc.shell.validate_hub")
validate_rendered = _Lazy("fleetc.shell.validate_rendered")
compile_shell = _Lazy("fleetc.shell.compile")
loader = _Lazy("fleetc.shell.load")
diff_format = _Lazy("fleetc.views.diff_format")
status = _Lazy("fleetc.views.status")
provenance = _Lazy("fleetc.views.explain")
html_report = _Lazy("fleetc.shell.html_report")
report_view = _Lazy("fleetc.views.report")
rollout_view = _Lazy("fleetc.views.rollout")
store = _Lazy("fleetc.shell.store")
clock = _Lazy("fleetc.shell.clock")
scaffold = _Lazy("fleetc.shell.scaffold")
schema = _Lazy("fleetc.core.schema")
base_cache = _Lazy("fleetc.shell.base_cache")  # imports the pipeline

# render --include: gitloop.INCLUDES, named here so that starting the CLI does not import git.
INCLUDE_OUTPUT = "output"
INCLUDES = (INCLUDE_OUTPUT, "staged", "tracked")
# diff --format: diff_format.FORMATS, named here so that starting the CLI does not import the
# compiler (the diff's views read its results).
DIFF_FORMATS = ("json", "markdown", "text")

FILE_HELP = "fleet.yaml, or the folder that holds it (default: ./fleet.yaml)."


def _fleet_option(func):
    return click.option(
        "-f",
        "--file",
        "path",
        type=click.Path(path_type=Path),
        default=Path("."),
        show_default=False,
        help=FILE_HELP,
    )(func)


def _strict_option(func):
    return click.option(
        "--strict",
        is_flag=True,
        help="Treat warnings (such as an unfulfilled placement) as errors.",
    )(func)


def _reschedule_option(func):
    return click.option(
        "--reschedule",
        "reschedule",
        metavar="PLACEMENT",
        multiple=True,
        help="Schedule this placement afresh, ignoring what fleet.lock remembers (repeatable).",
    )(func)


def _format_option(func):
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="text for people, json for tools (see the README for the JSON contract).",
    )(func)


def _timings_option(func):
    return click.option(
        "--timings", is_flag=True, help="Print the time spent in each stage on stderr."
    )(func)


def _crds_option(func):
    return click.option(
        "--crds",
        "crd_folders",
        multiple=True,
        type=click.Path(exists=True, path_type=Path),
        metavar="DIR",
        help="Folder (or file) of CustomResourceDefinitions installed on the clusters; "
        "repeatable. CRDs in a cluster's own output count as installed there.",
    )(func)


def _store_style(ctx: click.Context, param: click.Parameter, value: str) -> str:
    style = ctx.meta.get(_STYLE, report.DiagnosticsStyle())
    field = "form" if param.name == "diagnostics_format" else "paths"
    ctx.meta[_STYLE] = dataclasses.replace(style, **{field: value})
    return value


_STYLE = "fleetc.diagnostics-style"
_ROOT = "fleetc.fleet-root"


def _diagnostics_options(func):
    func = click.option(
        "--paths",
        type=click.Choice(["cwd", "repo"]),
        default="cwd",
        show_default=True,
        expose_value=False,
        callback=_store_style,
        help="Diagnostic paths relative to the current folder, or to the git repository's top.",
    )(func)
    return click.option(
        "--diagnostics-format",
        type=click.Choice(list(diagnostics_format.FORMATS)),
        default="text",
        show_default=True,
        expose_value=False,
        callback=_store_style,
        help="text (stderr) for people; json, sarif (SARIF 2.1.0, for code scanning) or github "
        "(workflow commands: inline annotations on a pull request) on stdout for tools.",
    )(func)


def _style() -> report.DiagnosticsStyle:
    ctx = click.get_current_context()
    return ctx.meta.get(_STYLE, report.DiagnosticsStyle())


def _show(diags: Diagnostics, *, as_errors: bool = False) -> None:
    root = click.get_current_context().meta.get(_ROOT)
    report.show(diags, as_errors=as_errors, style=_style(), fleet_root=root)


def _say(message: str) -> None:
    """A command's own result line: stdout, or stderr when stdout carries diagnostics for tools."""
    click.echo(message, err=_style().machine)


def _reporter(timings: bool) -> report.TerminalReporter:
    return report.TerminalReporter(timings=timings, progress=report.interactive())


def _compile(
    path: Path,
    options: Options,
    reporter: Reporter = SILENT,
    source: Source | None = None,
    cache: Cache | None = None,
    crd_folders: list[Path] | None = None,
) -> tuple[Path, Path, Result]:
    """Load and compile, then check the hub manifests (``_validate_hub``) unless
    ``crd_folders`` is None, recalling earlier work from ``cache`` and saving what this run
    did into it; returns the repository root, the output folder and the result."""
    fleet_file = loader.find_fleet_file(path)
    click.get_current_context().meta[_ROOT] = Path(os.path.abspath(fleet_file)).parent
    _recover(Path(os.path.abspath(fleet_file)).parent)
    memo = cache.memo() if cache is not None else NO_MEMO
    compiled = compile_shell.compile_file(fleet_file, options, reporter, source, memo)
    inputs = compiled.inputs
    if crd_folders is not None:
        with reporter.stage("validate"):
            _validate_hub(inputs.root, compiled.result, crd_folders, memo)
    if cache is not None:
        cache.save_memo(memo)
    return inputs.root, inputs.root / inputs.output, compiled.result


def _recover(root: Path) -> None:
    """Finish or undo a render that was killed halfway, before reading anything."""
    try:
        message = writer.recover(root)
    except (OSError, writer.WriteError) as exc:
        click.echo(f"error: cannot recover an interrupted render: {exc}", err=True)
        raise SystemExit(report.EXIT_ERRORS) from exc
    if message:
        click.echo(f"note: {message}", err=True)


def _no_cache_option(func):
    return click.option(
        "--no-cache",
        is_flag=True,
        help="Compile everything afresh: neither read nor write the cache in .git/fleetc/.",
    )(func)


@dataclass
class _Cached:
    """A cache lookup for one command: the cache, the entry's key and what it found."""

    cache: Cache
    key: str
    hit: Hit | None
    started_ns: int
    # git's index, asked while the fleet compiles when the cache cannot vouch for the output.
    index: IndexQuery | None = None


def _lookup(
    path: Path, options: Options, out: Path | None, no_cache: bool, reporter: Reporter
) -> _Cached:
    started = time.time_ns()
    fleet_file = loader.find_fleet_file(path)
    root = Path(os.path.abspath(fleet_file)).parent
    click.get_current_context().meta[_ROOT] = root
    _recover(root)
    cache = Cache(root, enabled=not no_cache)
    key = cache.key(options, out, fleet_file.name)
    with reporter.stage("load"):
        hit = cache.lookup(key)
    index = None
    if hit is None and not cache.may_vouch(key):
        index = IndexQuery(root)
        click.get_current_context().call_on_close(index.close)
    return _Cached(cache, key, hit, started, index)


def _up_to_date(cached: _Cached, out: Path | None, reporter: Reporter) -> Path | None:
    """The output folder when the cache shows it and fleet.lock are exactly what a compile
    would produce (nothing to write); None otherwise."""
    hit = cached.hit
    if hit is None:
        return None
    root = cached.cache.root
    output = out if out is not None else root / hit.output
    with reporter.stage("compare"):
        if writer.read_bytes(root / LOCK_FILE) != hit.lock:
            return None
        if not cached.cache.tree_holds(output, hit):
            return None
        files = cached.cache.digests(hit) if cached.cache.reread else None
        if files is not None:
            cached.cache.remember_tree(output, files, cached.started_ns)
    return output


def _remember(cached: _Cached, source: Source | None, output: Path, result: Result) -> None:
    """Record the output folder as now holding ``result``'s files (so the next comparison
    need not read them), and cache the compilation with its warnings (a hit shows them
    again). Not the compilation when the fleet names CRD folders (spec.crds): the hub is
    checked against files the load stage does not read."""
    comp = result.compilation
    if comp is None or not isinstance(source, RecordingSource):
        return
    root = cached.cache.root
    files = {k: cached.cache.output_digest(v) for k, v in result.files.items()}
    cached.cache.store_digests(cached.key, files)
    cached.cache.remember_tree(output, files, cached.started_ns)
    if result.diagnostics.has_errors or validate_hub.spec_crds(root, comp.fleet, Diagnostics()):
        return
    objects = sum(len(objs) for objs in comp.clusters.values())
    rel = os.path.relpath(output, root)
    cached.cache.store(
        cached.key,
        source,
        rel,
        result.lock,
        files,
        len(comp.clusters),
        objects,
        result.diagnostics.items,
    )


def _replay(hit: Hit, strict: bool) -> None:
    """Show the warnings of the cached compilation, as the compile would have (exits when
    ``strict`` makes them errors)."""
    code = _finish(Diagnostics(list(hit.diagnostics)), strict)
    if code != report.EXIT_OK:
        raise SystemExit(code)


def _finish(diags: Diagnostics, strict: bool) -> int:
    """Show ``diags``; the exit code they make (``strict``: warnings are errors)."""
    _show(diags, as_errors=strict)
    if strict and diags.warnings:
        return report.EXIT_ERRORS
    return report.exit_code(diags)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fleetc")
def main() -> None:
    """fleetc compiles a Kubernetes fleet offline.

    It reads fleet.yaml (placements and fleet settings), the cluster inventory
    (clusters/) and the hub manifests (hub/), evaluates every placement with
    KubeFleet's semantics, and writes one folder of plain manifests per cluster
    (rendered/<cluster>/) for Flux to apply.

    \b
    Typical use:
      fleetc validate          report every problem in the inputs
      fleetc render            write rendered/ (atomically)
      fleetc check             CI gate: fail if rendered/ is stale
      fleetc explain NAME      why each cluster was or was not selected
      fleetc explain --cluster C --object KIND[.GROUP]/NS/NAME
                               one object's source, overrides and final manifest
      fleetc diff              what a change does to each cluster, and why
      fleetc status            every placement's Scheduled condition
      fleetc report            the fleet as one self-contained HTML page
      fleetc rollout status    staged update runs: stages, clusters, blockers
      fleetc rollout advance   move a staged run one step (writes like render)
      fleetc init [DIR]        start a new fleet (scaffold)
      fleetc schema            write the JSON Schemas for editors

    Exit codes: 0 success, 1 errors in the inputs (or stale output), 2 usage errors.

    Inputs are treated as untrusted (paths, links, YAML limits, plain Secrets):
    see SECURITY.md.
    """


@main.command()
@_diagnostics_options
@_fleet_option
@_strict_option
@_reschedule_option
@click.option(
    "--rendered",
    is_flag=True,
    help="Also check every object in the output folder (as committed) against the "
    "Kubernetes schema of its cluster's kubernetesVersion and the CRDs.",
)
@_crds_option
def validate(
    path: Path,
    strict: bool,
    reschedule: tuple[str, ...],
    rendered: bool,
    crd_folders: tuple[Path, ...],
) -> None:
    """Check the inputs and report every problem at once; writes nothing.

    Diagnostics go to stderr as FILE:LINE:COL: error: MESSAGE, with the field
    path and, where one helps, a hint.

    With --rendered, every object file in rendered/<cluster>/ (bundles and
    flux-system/ included) is also checked: built-in kinds against the
    Kubernetes OpenAPI schema of the cluster's version (the nearest version
    kubernetes-validate ships), custom resources against their CRD's
    openAPIV3Schema. A kind that is neither is "CRD not installed on <cluster>".
    A symbolic link in the output is an error: it is never followed.
    """
    options = Options(strict=strict, reschedule=frozenset(reschedule))
    root, output, result = _compile(path, options, crd_folders=list(crd_folders))
    if rendered and result.compilation is not None:
        _validate_output(root, output, result, list(crd_folders))
    raise SystemExit(_finish(result.diagnostics, strict))


def _validate_hub(root: Path, result: Result, crd_folders: list[Path], memo: Memo) -> None:
    """Hub manifests against the schemas of the clusters they reach (``spec.crds``, --crds)."""
    comp = result.compilation
    if comp is None:
        return
    diags = result.diagnostics
    folders = [*validate_hub.spec_crds(root, comp.fleet, diags), *crd_folders]
    crds = validate_rendered.read_crds(folders, diags)
    validate_hub.validate_hub(comp, crds, diags, memo)


def _validate_output(root: Path, output: Path, result: Result, crd_folders: list[Path]) -> None:
    comp = result.compilation
    assert comp is not None
    diags = result.diagnostics
    crds = validate_rendered.read_crds(crd_folders, diags)
    versions = {name: c.kubernetes_version for name, c in comp.fleet.clusters.items()}
    rel = output.relative_to(root).as_posix()
    clusters = validate_rendered.read_output(root, rel, versions, diags)
    checked = validate_rendered.validate(clusters, crds, diags)
    click.echo(f"checked {checked} object(s) in {len(clusters)} cluster folder(s)", err=True)


@main.command()
@_diagnostics_options
@_fleet_option
@_strict_option
@_reschedule_option
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Write here instead of the fleet's spec.output (default rendered/).",
)
@click.option(
    "--commit",
    "make_commit",
    is_flag=True,
    help="Commit the output folder and fleet.lock (git); the message names the source "
    "commit and summarises the changes. Refused when other changes are staged, unless "
    "--include says to commit them too.",
)
@click.option(
    "--include",
    type=click.Choice(INCLUDES),
    default=INCLUDE_OUTPUT,
    show_default=True,
    help="With --commit: also commit the staged changes (staged), or every change to a "
    "tracked file below the fleet's folder (tracked), in the same commit as the output; "
    "refused when the render reads changes that commit would leave out.",
)
@click.option(
    "--remove-bootstrapped",
    "remove_bootstrapped",
    metavar="CLUSTER",
    multiple=True,
    help="Allow removing the folder of CLUSTER, gone from the inventory, although it holds "
    "flux-system/ from 'flux bootstrap' (repeatable). Without it such a render is refused.",
)
@_timings_option
@_no_cache_option
def render(
    path: Path,
    strict: bool,
    reschedule: tuple[str, ...],
    out: Path | None,
    make_commit: bool,
    include: str,
    remove_bootstrapped: tuple[str, ...],
    timings: bool,
    no_cache: bool,
) -> None:
    """Compile the fleet and write one folder of manifests per cluster.

    Nothing is written unless every input is valid; the new output and
    fleet.lock replace the old ones in one atomic, journaled step, so an error
    or a crash leaves the previous output exactly as it was (the next fleetc
    command finishes or rolls back a render that was killed halfway). A second
    render of the same repository is refused while one runs.
    <cluster>/flux-system/ folders (flux bootstrap's) are never written; the
    folder of a cluster removed from the inventory that holds one is deleted
    only with --remove-bootstrapped CLUSTER.

    fleet.lock remembers every placement's selected clusters, so the next
    render keeps them (KubeFleet's stickiness). --reschedule PLACEMENT
    forgets one placement's selection on purpose.
    """
    if include != INCLUDE_OUTPUT and not make_commit:
        raise click.UsageError("--include needs --commit")
    options = Options(strict=strict, reschedule=frozenset(reschedule))
    reporter = _reporter(timings)
    bypass = no_cache or make_commit or bool(remove_bootstrapped)
    cached = _lookup(path, options, out, bypass, reporter)
    done = _up_to_date(cached, out, reporter)
    if done is not None and cached.hit is not None:
        hit = cached.hit
        _replay(hit, strict)
        _say(
            f"rendered {hit.clusters} cluster(s), {hit.objects} object(s) into {done}: "
            f"0 file(s) written, {hit.count} unchanged, 0 removed"
        )
        reporter.print_timings()
        return
    source = cached.cache.source()
    with contextlib.ExitStack() as held:
        looking = _start_prefetch(cached, held)
        root, output, result = _compile(path, options, reporter, source, cached.cache, [])
        code = _finish(result.diagnostics, strict)
        if code != report.EXIT_OK:
            raise SystemExit(code)
        comp = result.compilation
        assert comp is not None
        if out is None:
            _refuse_bootstrapped_removal(comp, remove_bootstrapped)
        output = out if out is not None else output
        pending = _prepare_commit(root, output, include) if make_commit else None
        try:
            if looking is None:
                held.enter_context(writer.repository_lock(root))
            with reporter.stage("write"):
                found = looking.result(output) if looking is not None else None
                looked = (found.steady, found.listing) if found is not None else None
                known, listed = vouched(cached.cache, cached.key, output, cached.index, looked)
                changes = store.commit(
                    root,
                    output,
                    result.files,
                    result.lock,
                    result.store,
                    known,
                    listed,
                    found.shadow_scan if found is not None else None,
                )
        except writer.WriteError as exc:
            click.echo(f"error: {exc}", err=True)
            raise SystemExit(report.EXIT_ERRORS) from exc
    objects = sum(len(objs) for objs in comp.clusters.values())
    written = len(changes.added) + len(changes.changed)
    _say(
        f"rendered {len(comp.clusters)} cluster(s), {objects} object(s) into {output}: "
        f"{written} file(s) written, {changes.unchanged} unchanged, {len(changes.removed)} removed"
    )
    _remember(cached, source, output, result)
    reporter.print_timings()
    if pending is not None:
        _commit(pending, loader.find_fleet_file(path), options, result)


def _start_prefetch(cached: _Cached, held: contextlib.ExitStack) -> Prefetch | None:
    """A second process looking at the output while this one compiles (``shell.prefetch``),
    when the last compile wrote a large output; it takes the repository's lock, which
    ``held`` keeps until the render has written."""
    output = prefetch.planned(cached.cache)
    if output is None:
        return None
    with contextlib.ExitStack() as locked:
        try:
            locked.enter_context(writer.repository_lock(cached.cache.root))
        except writer.WriteError as exc:
            click.echo(f"error: {exc}", err=True)
            raise SystemExit(report.EXIT_ERRORS) from exc
        looking = prefetch.start(cached.cache, cached.key, output)
        if looking is None:
            return None  # no second process: the lock is taken again at the write
        held.enter_context(locked.pop_all())
        held.callback(looking.stop)
        return looking


def _refuse_bootstrapped_removal(comp, allowed: tuple[str, ...]) -> None:
    """A cluster gone from the inventory whose folder holds bootstrap's flux-system/ loses that
    folder only when the user names it (Flux on that cluster then stops syncing)."""
    doomed = sorted(comp.flux_system - set(comp.clusters) - set(allowed))
    if not doomed:
        return
    for cluster in doomed:
        click.echo(
            f"error: cluster {cluster} is no longer in the inventory, and its folder holds "
            f"flux-system/ written by 'flux bootstrap': rendering would delete it",
            err=True,
        )
    flags = " ".join(f"--remove-bootstrapped {cluster}" for cluster in doomed)
    click.echo(
        f"  hint: if the cluster is being decommissioned, render with {flags} (Flux on it then "
        "reports the path as missing and stops applying changes; it prunes nothing); see the "
        "README (Flux)",
        err=True,
    )
    raise SystemExit(report.EXIT_ERRORS)


def _prepare_commit(root: Path, output: Path, include: str) -> gitloop.PendingCommit:
    """Checked before anything is written: refuses when the commit would not pass check."""
    try:
        return gitloop.prepare_commit(root, output, include)
    except gitsource.GitError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(report.EXIT_ERRORS) from exc


def _commit(
    pending: gitloop.PendingCommit, fleet_file: Path, options: Options, result: Result
) -> None:
    """``result`` is the render's compile of the working tree: only HEAD is compiled again."""
    try:
        sha, summarised = gitloop.commit_render(pending, fleet_file, options, result)
    except gitsource.GitError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(report.EXIT_ERRORS) from exc
    if not summarised:
        click.echo("warning: HEAD does not compile; no placement summary", err=True)
    click.echo(f"committed {sha[:12]}" if sha else "nothing to commit: the output is unchanged")


@main.command()
@_diagnostics_options
@_fleet_option
@_strict_option
@click.option(
    "--against",
    metavar="REF",
    default=None,
    help="Also check that the output can replace the output committed at REF on the "
    "clusters: immutable fields, CRD transition rules, namespace moves, removed CRDs.",
)
@click.option(
    "--base",
    metavar="REF",
    default=None,
    help="Also check that fleet.lock is what the scheduler produces from the fleet.lock "
    "committed at REF and these inputs (a pull request cannot place objects by editing it).",
)
@_crds_option
@_timings_option
@_no_cache_option
def check(
    path: Path,
    strict: bool,
    against: str | None,
    base: str | None,
    crd_folders: tuple[Path, ...],
    timings: bool,
    no_cache: bool,
) -> None:
    """Fail (exit 1) unless the committed output is exactly what render would write.

    This is the CI gate: it lists every stale, missing or extra file.

    With --against REF, it also fails when the new output would not apply over
    the output committed at REF (what Flux applied): an immutable field changed
    (a Deployment's selector, a Service's clusterIP, ...), a CRD transition rule
    (oldSelf) violated, an object moving namespace, a CRD removed while its
    resources stay. A CEL rule fleetc cannot evaluate is a warning, "not checked".

    It writes nothing but the cache in .git/fleetc/: when the inputs, fleet.lock
    and the output are what an earlier render or check saw, it compares from
    there without compiling (not with --against or --crds).

    A cluster folder that gained flux-system/ from 'flux bootstrap' after it
    was rendered also passes (with a note): that output stays valid for Flux,
    and the next render adopts bootstrap's folder.

    With --base REF (pull requests: the target branch), fleet.lock must be what
    the scheduler produces from REF's fleet.lock and these inputs: a cluster added
    to a placement by editing fleet.lock fails. Clusters kept only because the
    lock remembers them (sticky) while they fail the filters are warnings.
    """
    reporter = _reporter(timings)
    options = Options(strict=strict)
    bypass = no_cache or against is not None or base is not None or bool(crd_folders)
    cached = _lookup(path, options, None, bypass, reporter)
    done = _up_to_date(cached, None, reporter)
    if done is not None and cached.hit is not None:
        _replay(cached.hit, strict)
        reporter.print_timings()
        _say(f"{done} is up to date ({cached.hit.count} file(s))")
        return
    source = cached.cache.source()
    root, output, result = _compile(
        path, options, reporter, source, cached.cache, list(crd_folders)
    )
    code = _finish(result.diagnostics, strict)
    if code != report.EXIT_OK:
        raise SystemExit(code)
    safe = True
    if base is not None:
        safe = _check_base(path, base, options, result, strict)
    if against is not None:
        safe = _check_against(root, output, result, against, list(crd_folders), strict) and safe
    exact = _report_stale(root, output, result, reporter, cached)  # exits 1 when stale
    if exact:  # not when the output passed as rendered before 'flux bootstrap'
        _remember(cached, source, output, result)
    if not safe:
        raise SystemExit(report.EXIT_ERRORS)


def _check_base(path: Path, ref: str, options: Options, result: Result, strict: bool) -> bool:
    """fleet.lock recomputed from the base's (``gitloop.verify_lock``); False on errors."""
    diags = Diagnostics()
    try:
        gitloop.verify_lock(loader.find_fleet_file(path), ref, options, result, diags)
    except gitsource.GitError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(report.EXIT_ERRORS) from exc
    _show(diags, as_errors=strict)
    return not diags.has_errors and not (strict and diags.warnings)


def _check_against(
    root: Path, output: Path, result: Result, ref: str, crd_folders: list[Path], strict: bool
) -> bool:
    """The transition checks against the output committed at ``ref``; False on errors."""
    try:
        name, previous = gitloop.output_at(root, ref, result.files)
    except gitsource.GitError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(report.EXIT_ERRORS) from exc
    diags = Diagnostics()
    shown = output.relative_to(root).as_posix() if output.is_relative_to(root) else str(output)
    findings = apply_safety.check(previous, result.files, crd_folders, shown, diags)
    report.show(diags, as_errors=strict)
    if not findings:
        click.echo(f"the output applies over {name}: no refused or recreating change")
    return not (diags.has_errors or (strict and diags.warnings))


def _report_stale(
    root: Path, output: Path, result: Result, reporter: Reporter, cached: _Cached
) -> bool:
    """List every stale, missing or extra file and exit 1 when there is one. True when the
    output is exactly the compiled one, False when it passed as rendered before bootstrap."""
    adopted: list[str] = []
    with reporter.stage("compare"):
        known, listed = vouched(cached.cache, cached.key, output, cached.index)
        expected = result.files
        changes = writer.compare(output, expected, known, listed)
        comp = result.compilation
        if not changes.clean and comp is not None and comp.flux_system:
            expected, adopted = _before_bootstrap(root, output, result, comp.flux_system)
            if adopted:
                changes = writer.compare(output, expected, known, listed)
                for cluster in adopted:
                    click.echo(
                        f"note: {cluster}/flux-system/ (flux bootstrap) is newer than the "
                        f"committed output of {cluster}, which stays valid; the next render "
                        f"lists flux-system in {cluster}/kustomization.yaml",
                        err=True,
                    )
        lock_path = root / LOCK_FILE
        if writer.read_bytes(lock_path) != result.lock:
            changes.changed.append(str(lock_path.relative_to(root)))
        store.compare(root, result.store, changes)
    reporter.print_timings()
    if changes.clean:
        _say(f"{output} is up to date ({changes.unchanged} file(s))")
        return not adopted
    # File names under rendered/ can come from a pull request: no raw control characters.
    for rel in changes.added:
        click.echo(f"missing: {one_line(rel)}", err=True)
    for rel in changes.changed:
        click.echo(f"stale:   {one_line(rel)}", err=True)
    for rel in changes.removed:
        click.echo(f"extra:   {one_line(rel)}", err=True)
    click.echo(f"{output} is out of date: run 'fleetc render'", err=True)
    raise SystemExit(report.EXIT_ERRORS)


def _before_bootstrap(
    path: Path, output: Path, result: Result, bootstrapped: frozenset[str]
) -> tuple[dict[str, bytes], list[str]]:
    """What ``check`` accepts for clusters where 'flux bootstrap' added ``flux-system/`` after
    the output was rendered: the output rendered without it (valid for Flux: the root
    kustomization does not list bootstrap's folder, and fleetc's own sync objects have
    bootstrap's names). Returns the expected files and the clusters taken that way."""
    fleet_file = loader.find_fleet_file(path)

    def unbootstrapped(diags):
        inputs = loader.load(fleet_file, diags)
        inputs.flux_system = frozenset()
        return inputs

    before = compile_shell.compile_loaded(unbootstrapped, Options()).result
    if not before.ok:
        return result.files, []
    adopted: list[str] = []
    for cluster in sorted(bootstrapped):
        root_file = f"{cluster}/kustomization.yaml"
        if writer.read_regular(output / root_file) == before.files.get(root_file):
            adopted.append(cluster)
    prefixes = tuple(f"{cluster}/" for cluster in adopted)
    files = {rel: data for rel, data in result.files.items() if not rel.startswith(prefixes)}
    files.update({rel: data for rel, data in before.files.items() if rel.startswith(prefixes)})
    return files, adopted


def _compiled_or_exit(path: Path, reschedule: tuple[str, ...]) -> Result:
    """Compile for reading decisions; input errors are reported and end the command."""
    _root, _output, result = _compile(path, Options(reschedule=frozenset(reschedule)))
    code = _finish(result.diagnostics, strict=False)
    if code != report.EXIT_OK:
        raise SystemExit(code)
    return result


@main.command()
@_diagnostics_options
@click.argument("placement", required=False)
@_fleet_option
@_format_option
@_reschedule_option
@click.option("--cluster", help="With --object: the cluster, as named in the inventory.")
@click.option(
    "--object",
    "ref",
    metavar="KIND[.GROUP]/[NAMESPACE/]NAME",
    help="Trace one object on --cluster, e.g. Deployment.apps/kuard-demo/kuard.",
)
def explain(
    placement: str | None,
    path: Path,
    output_format: str,
    reschedule: tuple[str, ...],
    cluster: str | None,
    ref: str | None,
) -> None:
    """Why each cluster was or was not selected by PLACEMENT, or where one object comes from.

    \b
    fleetc explain PLACEMENT
        For every inventory cluster: the verdict (selected, notPicked or
        filtered), the filter that rejected it with KubeFleet's reason text,
        its scores, and the eviction that evicted it, if any. Decisions start
        from fleet.lock, as render's would. A ResourcePlacement is named
        NAMESPACE/NAME.
    fleetc explain --cluster C --object KIND[.GROUP]/[NAMESPACE/]NAME
        The object's hub source (file:line), the placements that put it on C,
        the overrides applied in order (with where each is defined), a diff of
        what they changed, and the final manifest exactly as render writes it.
        Exit 1 if the object is not rendered there.
    """
    if ref is not None or cluster is not None:
        if placement is not None or ref is None or cluster is None:
            raise click.UsageError("give either PLACEMENT, or both --cluster and --object")
        _explain_object(path, reschedule, cluster, ref)
        return
    if placement is None:
        raise click.UsageError("give a PLACEMENT to explain, or --cluster and --object")
    result = _compiled_or_exit(path, reschedule)
    comp = result.compilation
    assert comp is not None
    names = [p.name for p in comp.fleet.placements]
    if placement not in names:
        hint = suggest(placement, names, "placements")
        raise click.UsageError(f"no placement named {placement!r}; {hint}")
    item = status.explain(comp, placement)
    if output_format == "json":
        click.echo(json.dumps(item, indent=2))
    else:
        click.echo(status.explain_text(item), nl=False)


def _explain_object(path: Path, reschedule: tuple[str, ...], cluster: str, ref: str) -> None:
    key = provenance.parse_object(ref)
    if key is None:
        raise click.BadParameter(
            "expected KIND[.GROUP]/NAMESPACE/NAME or KIND[.GROUP]/NAME", param_hint="--object"
        )
    comp = _compiled_or_exit(path, reschedule).compilation
    assert comp is not None
    found = provenance.trace(comp, cluster, key)
    if isinstance(found, str):
        click.echo(f"error: {found}", err=True)
        raise SystemExit(report.EXIT_ERRORS)
    click.echo(provenance.format_trace(found), nl=False)


@main.command(name="status")
@_diagnostics_options
@_fleet_option
@_format_option
@_reschedule_option
def status_command(path: Path, output_format: str, reschedule: tuple[str, ...]) -> None:
    """Every placement's outcome, as the CRP's Scheduled condition would read.

    SchedulingPolicyFulfilled or SchedulingPolicyUnfulfilled with KubeFleet's
    messages, and the selected clusters. --format json is a stable contract
    for CI tools (see the README).
    """
    result = _compiled_or_exit(path, reschedule)
    comp = result.compilation
    assert comp is not None
    data = status.status(comp)
    if output_format == "json":
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(status.status_text(data), nl=False)


@main.command()
@_diagnostics_options
@_fleet_option
@_strict_option
@click.option(
    "--base",
    default=None,
    metavar="REF",
    help="Compare with this commit (default: the merge base of HEAD with origin/HEAD, "
    "main or master; else HEAD).",
)
@click.option(
    "--format",
    "form",
    type=click.Choice(DIFF_FORMATS),
    default="text",
    show_default=True,
    help="text for terminals, markdown for pull requests, json for tools.",
)
@click.option("--exit-code", is_flag=True, help="Exit 1 when there are changes (as git diff does).")
@_crds_option
@click.option(
    "--save",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    metavar="DIR",
    help="Also write the diff in every form to DIR (diff.txt, diff.md, diff.json), "
    "e.g. for a CI artifact: the markdown form is capped in size, these files are not "
    "(diff.md is the capped markdown).",
)
@_timings_option
@_no_cache_option
def diff(
    path: Path,
    strict: bool,
    base: str | None,
    form: str,
    exit_code: bool,
    crd_folders: tuple[Path, ...],
    save: Path | None,
    timings: bool,
    no_cache: bool,
) -> None:
    """Show what changes on which cluster, and why, between REF and the working tree.

    The fleet at REF is compiled straight from git objects: the working tree,
    the index and the stash are never touched. The summary comes first
    (clusters affected, objects added/removed/changed per cluster, clusters
    gaining or losing a placement and the label, inventory or policy change
    behind it), then per-cluster object changes with unified YAML diffs.
    The markdown form groups clusters with identical changes, folds long
    lists and stays under 60,000 characters (GitHub's comment limit is
    65,536), pointing at the full diff past that. A base without fleet.yaml
    is an empty fleet. Secret values are never printed. Exit 0 with or
    without changes.

    Will it apply? Each changed object is compared with its version in the
    output committed at REF: a change the API server refuses or that recreates
    the object (an immutable field, a CRD transition rule, a namespace move, a
    CRD removed while its resources stay) is listed with the field and a hint,
    and printed as an error on stderr; with --exit-code it exits 1 (as any
    change does). A CEL rule fleetc cannot evaluate is "not checked", a warning.
    """
    try:
        reporter = _reporter(timings)
        compared = _compare_with(path, base, Options(strict=strict), reporter, no_cache)
    except gitsource.GitError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(report.EXIT_ERRORS) from exc
    if compared.diff is None:
        for label, result in compared.failures():
            click.echo(f"the {label} does not compile:", err=True)
            _show(result.diagnostics)
        raise SystemExit(report.EXIT_ERRORS)
    diags = Diagnostics()
    if compared.base_output is not None:
        compared.diff.transitions = apply_safety.check(
            compared.base_output, compared.head.files, list(crd_folders), compared.output, diags
        )
    if save is not None:
        try:
            save.mkdir(parents=True, exist_ok=True)
            for name, kind in (
                ("diff.txt", "text"),
                ("diff.md", "markdown"),
                ("diff.json", "json"),
            ):
                (save / name).write_text(diff_format.FORMATS[kind](compared.diff), encoding="utf-8")
        except OSError as exc:
            click.echo(f"error: cannot write the diff to {save}: {exc.strerror or exc}", err=True)
            raise SystemExit(report.EXIT_ERRORS) from exc
    click.echo(diff_format.FORMATS[form](compared.diff), nl=False)
    report.show(diags, as_errors=strict)
    reporter.print_timings()
    if exit_code and (compared.diff.changed or diags.has_errors):
        raise SystemExit(report.EXIT_ERRORS)


def _compare_with(
    path: Path, base: str | None, options: Options, reporter: Reporter, no_cache: bool
) -> gitloop.Compared:
    """``gitloop.compare_with``, both trees recalling from the cache's memo and saving into it,
    the base recalled from the cache when it was compiled before."""
    fleet_file = loader.find_fleet_file(path)
    cache = base_cache.BaseCache(Path(os.path.abspath(fleet_file)).parent, enabled=not no_cache)
    memo = cache.memo()
    compared = gitloop.compare_with(fleet_file, base, options, reporter, memo=memo, bases=cache)
    cache.save_memo(memo)
    return compared


@main.command(name="report")
@_diagnostics_options
@_fleet_option
@click.option(
    "--base",
    default=None,
    metavar="REF",
    help="Highlight the change from this commit, as 'fleetc diff --base REF' counts it.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("fleetc-report.html"),
    show_default=True,
    help="The HTML file to write.",
)
@_reschedule_option
@_no_cache_option
def report_command(
    path: Path, base: str | None, out: Path, reschedule: tuple[str, ...], no_cache: bool
) -> None:
    """Write the fleet as one self-contained HTML page (no network at view time).

    \b
    The page shows: the placement matrix (clusters x placements, every cell
    the scheduler's verdict with explain's reason text; grouped, sorted and
    filtered by label or placement), each cluster's labels, taints,
    properties and rendered objects, the multi-cluster services, and the
    MetalLB address space per site. With --base, the change from REF is
    highlighted, with diff's numbers. Same inputs, same bytes.
    """
    options = Options(reschedule=frozenset(reschedule))
    found = None
    if base is None:
        result = _compiled_or_exit(path, reschedule)
    else:
        try:
            compared = _compare_with(path, base, options, SILENT, no_cache)
        except gitsource.GitError as exc:
            click.echo(f"error: {exc}", err=True)
            raise SystemExit(report.EXIT_ERRORS) from exc
        if compared.diff is None:
            for label, failed in compared.failures():
                click.echo(f"the {label} does not compile:", err=True)
                _show(failed.diagnostics)
            raise SystemExit(report.EXIT_ERRORS)
        result, found = compared.head, compared.diff
        _show(result.diagnostics)
    assert result.compilation is not None
    page = html_report.page(report_view.build(result.compilation, found))
    try:
        html_report.write(out, page)
    except writer.WriteError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(report.EXIT_ERRORS) from exc
    _say(f"wrote {out} ({len(page)} bytes)")


# -- staged rollouts -------------------------------------------------------------------------


def _now_option(func):
    return click.option(
        "--now",
        metavar="TIME",
        help="The time to act at (RFC 3339, e.g. 2026-03-01T09:30:00Z) instead of the clock: "
        "for tests and replays.",
    )(func)


def _now(given: str | None) -> str:
    try:
        return clock.now(given)
    except clock.BadTime as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from exc


@main.group()
def rollout() -> None:
    """Drive KubeFleet staged update runs (ClusterStagedUpdateRun) through pull requests.

    A placement with strategy.type External changes no cluster when hub/
    changes: render records a new resource snapshot, and each cluster keeps
    rendering the snapshot fleet.lock says it runs. These commands move a run
    explicitly; advance and approve write rendered/, fleet.lock and the
    snapshot store atomically, as render does, so their result is a reviewable
    commit. render and check never move a run and never read the clock.
    """


@rollout.command(name="status")
@click.argument("run", required=False)
@_fleet_option
@_format_option
@_now_option
def rollout_status(run: str | None, path: Path, output_format: str, now: str | None) -> None:
    """Each run's stages, their clusters in order, the snapshot each runs, what blocks the
    next step (a wait until a time, an approval, spec.state: Stop) and the run's conditions
    (Initialized, Progressing, Succeeded, with KubeFleet's reasons)."""
    moment = _now(now)
    comp = _compiled_or_exit(path, ()).compilation
    assert comp is not None
    items = rollout_view.status(comp, run, moment)
    if run is not None and not items:
        names = [v.name for v in rollout_view.runs(comp)]
        hint = suggest(run, names, "update runs")
        raise click.UsageError(f"no update run named {run!r}; {hint}")
    if output_format == "json":
        click.echo(json.dumps(items, indent=2))
    else:
        click.echo(rollout_view.status_text(items), nl=False)


@rollout.command()
@click.argument("run", required=False)
@_fleet_option
@_now_option
def advance(run: str | None, path: Path, now: str | None) -> None:
    """Move RUN (default: the one run in progress) one step, as KubeFleet's controller would.

    \b
    A step is the next maxConcurrency clusters of the current stage (in
    sortingLabelKey, then name order), or the delete stage; finished stages'
    TimedWait and Approval tasks are checked first. A TimedWait passes once
    waitTime has gone by since the stage's last batch (at --now, default the
    clock). Prints what moved, or what blocks the run (exit 0 either way; the
    files change only when something was recorded).
    """
    _act(path, Advance(run, _now(now)))


@rollout.command()
@click.argument("run")
@_fleet_option
@click.option("--stage", "stage", required=True, help="The stage whose Approval task to approve.")
@click.option(
    "--before", is_flag=True, help="Approve the stage's beforeStageTasks Approval (default: after)."
)
@_now_option
def approve(run: str, path: Path, stage: str, before: bool, now: str | None) -> None:
    """Approve RUN's ClusterApprovalRequest <run>-after-<stage> (or -before- with --before).

    The approval is recorded in fleet.lock; the next advance goes past the task.
    """
    _act(path, Approve(run, stage, before, _now(now)))


def _act(path: Path, action: Any) -> None:
    options = Options(action=action)
    root, output, result = _compile(path, options)
    code = _finish(result.diagnostics, strict=False)
    if code != report.EXIT_OK:
        raise SystemExit(code)
    comp = result.compilation
    assert comp is not None
    outcome = comp.rollout.action
    if outcome is None or outcome.error is not None:
        message = outcome.error if outcome is not None else "nothing to do"
        click.echo(f"error: {message}", err=True)
        raise SystemExit(report.EXIT_ERRORS)
    try:
        with writer.repository_lock(root):
            store.commit(root, output, result.files, result.lock, result.store)
    except writer.WriteError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(report.EXIT_ERRORS) from exc
    if not isinstance(action, Advance):
        click.echo(
            f"approved: {action.run}-{'before' if action.before else 'after'}-{action.stage}"
        )
        return
    step = outcome.step
    assert step is not None
    if step.moved:
        click.echo(f"{outcome.run}: stage {step.stage}: moved {', '.join(step.moved)}")
    if step.deleted:
        click.echo(f"{outcome.run}: delete stage: removed from {', '.join(step.deleted)}")
    record = next(
        v.record for p in comp.rollout.placements.values() for v in p.runs if v.name == outcome.run
    )
    if step.blocker is not None:
        click.echo(f"{outcome.run}: blocked: {step.blocker.describe()}")
    elif record.result is not None:
        click.echo(f"{outcome.run}: {record.result}")
    elif not step.changed_clusters:
        click.echo(f"{outcome.run}: nothing moved")


DEFAULT_SCHEMA_DIR = Path(".fleetc/schemas")


@main.command(name="schema")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_SCHEMA_DIR,
    show_default=True,
    help="The folder to write the JSON Schemas into (created if needed).",
)
def schema_command(out: Path) -> None:
    """Write the JSON Schemas of fleet.yaml and the inventory files into a folder.

    Their $id and $ref are relative file names, so editors and standard validators
    (check-jsonschema, jsonschema) resolve them next to each other, offline. Point
    the editor at them with a first line such as

    \b
      # yaml-language-server: $schema=.fleetc/schemas/fleet.schema.json
      # yaml-language-server: $schema=../.fleetc/schemas/cluster.schema.json

    (relative to the YAML file). Run it again after upgrading fleetc.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        files = schema.schema_files()
        for name, data in files.items():
            writer.write_file(out / name, data)
    except (OSError, writer.WriteError) as exc:
        click.echo(f"error: cannot write the schemas to {out}: {exc}", err=True)
        raise SystemExit(report.EXIT_ERRORS) from exc
    click.echo(f"wrote {len(files)} schema(s) to {out}")


@main.command()
@click.argument(
    "folder", required=False, default=Path("."), type=click.Path(path_type=Path, file_okay=False)
)
@click.option("--name", default=None, help="The fleet's name (default: the folder's name).")
def init(folder: Path, name: str | None) -> None:
    """Start a new fleet in FOLDER (default: the current folder).

    \b
    Writes fleet.yaml, two clusters (clusters/dev-1.yaml, clusters/prod-1.yaml),
    a hub namespace with an app (hub/web.yaml) and a placement for it, the
    GitHub Actions workflow (.github/workflows/fleetc.yaml), a pre-commit
    configuration pinned to this release, .gitignore, and the JSON Schemas in
    .fleetc/schemas/ for the editor modelines. validate, render and check accept
    it as it is. Existing files are never overwritten: init refuses instead.
    """
    fleet_name = name or _fleet_name(Path(os.path.abspath(folder)).name)
    files = scaffold.files(fleet_name)
    taken = scaffold.existing(folder, files)
    if taken:
        click.echo(f"error: {folder} already has {', '.join(taken)}; nothing written", err=True)
        raise SystemExit(report.EXIT_ERRORS)
    try:
        scaffold.write(folder, files)
    except OSError as exc:
        click.echo(f"error: cannot write the fleet into {folder}: {exc}", err=True)
        raise SystemExit(report.EXIT_ERRORS) from exc
    where = "" if folder == Path(".") else f"cd {folder} && "
    click.echo(
        f"created fleet {fleet_name!r} in {folder} ({len(files)} files); next:\n"
        f"  {where}git init && fleetc render && git add -A && git commit -m 'New fleet'"
    )


def _fleet_name(folder: str) -> str:
    """A DNS-1123 label made from a folder name."""
    cleaned = "".join(ch if ch.isalnum() else "-" for ch in folder.lower())
    cleaned = "-".join(part for part in cleaned.split("-") if part)[:63].strip("-")
    return cleaned if cleaned and cleaned.isascii() else "fleet"


def run() -> None:
    """The ``fleetc`` command: ``main``, then leave at once. Tearing the interpreter down frees
    every object still alive one by one (0.1 s after a compile of 1,000 clusters) and runs no
    clean-up of fleetc's: each command closes what it opened before ``main`` returns. Under a
    profiler, debugger or coverage tool, which write their results at exit, it exits as usual."""
    try:
        main()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if _watched():
        sys.exit(code)
    if code is None:
        code = 0
    elif not isinstance(code, int):  # as the interpreter does with sys.exit("message")
        print(code, file=sys.stderr)
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: nothing more can be said
        code = code or 1
    os._exit(code)


def _watched() -> bool:
    """Whether a profiler, debugger or coverage tool watches this process."""
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)  # Python 3.12+
    return monitoring is not None and any(monitoring.get_tool(tool) for tool in range(6))
