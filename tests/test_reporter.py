"""--timings and progress: reporters the CLI passes to the pure stages."""

from __future__ import annotations

from conftest import REPO, run
from fleetc.core.reporter import STAGES
from fleetc.shell import terminal as report


def test_timings_name_every_stage_render_runs(cli, example):
    result = run(cli, "render", "--timings", "-f", str(example.root))
    assert result.exit_code == 0
    line = next(line for line in result.output.splitlines() if line.startswith("timings: "))
    stages = ("load", "schedule", "override", "rollout", "generate", "serialize", "validate")
    for stage in (*stages, "write"):
        assert f"{stage} " in line
    assert "; total " in line


def test_a_stage_missing_from_the_list_is_still_shown(capsys):
    reporter = report.TerminalReporter(timings=True)
    with reporter.stage("load"), reporter.stage("something new"):
        pass
    reporter.print_timings()
    line = capsys.readouterr().err
    assert line.startswith("timings: load ") and ", something new " in line


def test_check_times_its_comparison(cli):
    result = run(cli, "check", "--timings", "-f", str(REPO))
    assert result.exit_code == 0
    assert "compare " in result.output and "write " not in result.output


def test_no_timings_without_the_flag(cli, example):
    assert "timings:" not in run(cli, "render", "-f", str(example.root)).output


def test_progress_is_off_when_nobody_watches(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert not report.interactive()


def test_progress_bar_yields_every_item_in_order(monkeypatch):
    monkeypatch.setattr(report, "PROGRESS_DELAY_SECONDS", 0.0)
    reporter = report.TerminalReporter(progress=True)
    items = list(range(report.PROGRESS_MIN_ITEMS + 5))
    assert list(reporter.progress("serialize", items)) == items
    # Short work never gets a bar, and a reporter without progress passes items through.
    assert reporter.progress("serialize", [1, 2]) == [1, 2]
    assert report.TerminalReporter().progress("serialize", items) is items


def test_stages_are_listed_in_pipeline_order():
    assert (
        STAGES.index("load")
        < STAGES.index("schedule")
        < STAGES.index("serialize")
        < STAGES.index("write")
    )
