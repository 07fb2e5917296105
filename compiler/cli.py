"""The command line: parse arguments, call the library, report. No compiler logic lives here."""

from __future__ import annotations

import os
from pathlib import Path

import click

from . import report, writer
from .diagnostics import Diagnostics
from .load import find_fleet_file, load
from .lock import LOCK_FILE
from .pipeline import Options, Result, compile_fleet

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


def _compile(path: Path, options: Options) -> tuple[Path, Path, Result]:
    """Load and compile; returns the repository root, the output folder and the result."""
    diags = Diagnostics()
    fleet_file = find_fleet_file(path)
    _recover(Path(os.path.abspath(fleet_file)).parent)
    inputs = load(fleet_file, diags)
    result = compile_fleet(inputs, options)
    result.diagnostics.items[:0] = diags.items
    return inputs.root, inputs.root / inputs.output, result


def _recover(root: Path) -> None:
    """Finish or undo a render that was killed halfway, before reading anything."""
    try:
        message = writer.recover(root)
    except (OSError, writer.WriteError) as exc:
        click.echo(f"error: cannot recover an interrupted render: {exc}", err=True)
        raise SystemExit(report.EXIT_ERRORS) from exc
    if message:
        click.echo(f"note: {message}", err=True)


def _finish(result: Result, strict: bool) -> int:
    diags = result.diagnostics
    report.show(diags, as_errors=strict)
    if strict and diags.warnings:
        return report.EXIT_ERRORS
    return report.exit_code(diags)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fleetc")
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

    Exit codes: 0 success, 1 errors in the inputs (or stale output), 2 usage errors.

    Inputs are treated as untrusted (paths, links, YAML limits, plain Secrets):
    see SECURITY.md.
    """


@main.command()
@_fleet_option
@_strict_option
def validate(path: Path, strict: bool) -> None:
    """Check the inputs and report every problem at once; writes nothing.

    Diagnostics go to stderr as FILE:LINE:COL: error: MESSAGE, with the field
    path and, where one helps, a hint.
    """
    _root, _output, result = _compile(path, Options(strict=strict))
    raise SystemExit(_finish(result, strict))


@main.command()
@_fleet_option
@_strict_option
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Write here instead of the fleet's spec.output (default rendered/).",
)
def render(path: Path, strict: bool, out: Path | None) -> None:
    """Compile the fleet and write one folder of manifests per cluster.

    Nothing is written unless every input is valid; the new output and
    fleet.lock replace the old ones in one atomic, journaled step, so an error
    or a crash leaves the previous output exactly as it was (the next fleetc
    command finishes or rolls back a render that was killed halfway). A second
    render of the same repository is refused while one runs.
    <cluster>/flux-system/ folders are never touched.
    """
    root, output, result = _compile(path, Options(strict=strict))
    code = _finish(result, strict)
    if code != report.EXIT_OK:
        raise SystemExit(code)
    output = out if out is not None else output
    try:
        with writer.repository_lock(root):
            changes = writer.commit(root, output, result.files, root / LOCK_FILE, result.lock)
    except writer.WriteError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(report.EXIT_ERRORS) from exc
    comp = result.compilation
    assert comp is not None
    objects = sum(len(objs) for objs in comp.clusters.values())
    written = len(changes.added) + len(changes.changed)
    click.echo(
        f"rendered {len(comp.clusters)} cluster(s), {objects} object(s) into {output}: "
        f"{written} file(s) written, {changes.unchanged} unchanged, {len(changes.removed)} removed"
    )


@main.command()
@_fleet_option
@_strict_option
def check(path: Path, strict: bool) -> None:
    """Fail (exit 1) unless the committed output is exactly what render would write.

    This is the CI gate: it lists every stale, missing or extra file.
    """
    root, output, result = _compile(path, Options(strict=strict))
    code = _finish(result, strict)
    if code != report.EXIT_OK:
        raise SystemExit(code)
    changes = writer.compare(output, result.files)
    lock_path = root / LOCK_FILE
    if writer.read_bytes(lock_path) != result.lock:
        changes.changed.append(str(lock_path.relative_to(root)))
    if changes.clean:
        click.echo(f"{output} is up to date ({changes.unchanged} file(s))")
        return
    for rel in changes.added:
        click.echo(f"missing: {rel}", err=True)
    for rel in changes.changed:
        click.echo(f"stale:   {rel}", err=True)
    for rel in changes.removed:
        click.echo(f"extra:   {rel}", err=True)
    click.echo(f"{output} is out of date: run 'fleetc render'", err=True)
    raise SystemExit(report.EXIT_ERRORS)
