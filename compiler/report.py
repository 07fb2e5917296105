"""The only module that prints diagnostics: compiler-style lines on stderr, and exit codes."""

from __future__ import annotations

import click

from .diagnostics import Diagnostics

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_USAGE = 2


def show(diags: Diagnostics, *, as_errors: bool = False) -> None:
    """Print every diagnostic, sorted by file and line; ``as_errors`` for --strict."""
    for diag in diags.sorted():
        text = diag.format()
        if as_errors:
            text = text.replace(": warning: ", ": error: ", 1)
        click.echo(text, err=True)
    errors, warnings = len(diags.errors), len(diags.warnings)
    if errors or warnings:
        click.echo(f"{errors} error(s), {warnings} warning(s)", err=True)


def exit_code(diags: Diagnostics) -> int:
    return EXIT_ERRORS if diags.has_errors else EXIT_OK
