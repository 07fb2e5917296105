"""A full staged rollout in a real git repository, one commit per step, as pull requests would
carry it: fleetc rollout advance / approve, fleetc diff per step, fleetc check after each, and a
single-commit clone of every step rendering the committed bytes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import stagedfleet as sf
from conftest import run
from gitrepo import GitFleet

T0 = "2026-12-01T09:00:00Z"


def _diff(cli, fleet) -> dict:
    result = run(cli, "diff", "-f", str(fleet.root), "--base", "HEAD", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _moved(diff: dict) -> list[str]:
    return sorted(c["name"] for c in diff["clusters"])


def _check(cli, fleet) -> None:
    result = run(cli, "check", "-f", str(fleet.root))
    assert result.exit_code == 0, result.output


def _clone_renders_the_commit(fleet: GitFleet, tmp: Path) -> None:
    """A single-commit clone (no history) of HEAD: check passes and a render writes nothing."""
    clone = tmp / f"clone-{fleet.repo.head.commit.hexsha[:8]}"
    subprocess.run(
        ["git", "clone", "--quiet", "--depth", "1", f"file://{fleet.root}", str(clone)],
        check=True,
    )
    count = subprocess.run(
        ["git", "-C", str(clone), "rev-list", "--count", "HEAD"], capture_output=True, text=True
    )
    assert count.stdout.strip() == "1"
    fleetc = [sys.executable, "-m", "fleetc"]
    checked = subprocess.run([*fleetc, "check", "-f", str(clone)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    rendered = subprocess.run([*fleetc, "render", "-f", str(clone)], capture_output=True, text=True)
    assert rendered.returncode == 0, rendered.stderr
    status = subprocess.run(
        ["git", "-C", str(clone), "status", "--porcelain"], capture_output=True, text=True
    )
    assert status.stdout == ""  # identical bytes: output, fleet.lock and the snapshot store


def _step(cli, fleet: GitFleet, tmp: Path, message: str) -> None:
    _check(cli, fleet)
    fleet.commit(message)
    _clone_renders_the_commit(fleet, tmp)


def test_a_full_staged_rollout_one_commit_per_step(cli, tmp_path):
    fleet = GitFleet(tmp_path / "repo")
    sf.build(fleet, cli)
    assert set(sf.images(fleet).values()) == {"1.4.0"}
    _step(cli, fleet, tmp_path, "web is staged")

    # A hub change and a run: render records snapshot 1 and moves no cluster.
    sf.write_hub(fleet, image="1.5.0")
    sf.write_run(fleet)
    sf.render(cli, fleet)
    diff = _diff(cli, fleet)
    assert diff["clusters"] == []
    assert diff["rollouts"] == [
        "web: snapshot 1 recorded, not rolled out: 10 cluster(s) in 3 stage(s) waiting"
    ]
    assert set(sf.images(fleet).values()) == {"1.4.0"}
    lock = (fleet.root / "fleet.lock").read_text()
    assert "latest: 1" in lock and "web-v2:" in lock
    _step(cli, fleet, tmp_path, "web 1.5.0")

    # Canary only.
    out = sf.fleetc(cli, fleet, "rollout", "advance", "--now", T0).output
    assert "moved canary-1" in out and "TimedWait until 2026-12-01T10:00:00Z" in out
    diff = _diff(cli, fleet)
    assert _moved(diff) == ["canary-1"]
    assert diff["rollouts"] == ["web: stage canary: canary-1 0->1"]
    assert sf.image_on(fleet, "canary-1") == "1.5.0"
    _step(cli, fleet, tmp_path, "advance: canary")

    # The TimedWait blocks until --now passes it; nothing is written meanwhile.
    out = sf.fleetc(cli, fleet, "rollout", "advance", "--now", "2026-12-01T09:59:59Z").output
    assert "blocked: stage canary: TimedWait until 2026-12-01T10:00:00Z" in out
    assert fleet.repo.git.status("--porcelain") == ""

    # The eastus ring, two at a time in rollout-order (eastus-2=1, eastus-4=2, eastus-1=3, ...).
    sf.fleetc(cli, fleet, "rollout", "advance", "--now", "2026-12-01T10:00:00Z")
    diff = _diff(cli, fleet)
    assert _moved(diff) == ["eastus-2", "eastus-4"]
    assert diff["rollouts"] == ["web: stage eastus: eastus-2 0->1, eastus-4 0->1"]
    _step(cli, fleet, tmp_path, "advance: eastus 1/2")
    out = sf.fleetc(cli, fleet, "rollout", "advance", "--now", "2026-12-01T10:05:00Z").output
    assert "blocked: stage rest: before-stage Approval (web-v2-before-rest)" in out
    assert _moved(_diff(cli, fleet)) == ["eastus-1", "eastus-3"]
    _step(cli, fleet, tmp_path, "advance: eastus 2/2")

    # Blocked by the Approval until it is recorded.
    sf.fleetc(cli, fleet, "rollout", "advance", "--now", "2026-12-01T11:00:00Z")
    assert fleet.repo.git.status("--porcelain") == ""
    status = json.loads(sf.fleetc(cli, fleet, "rollout", "status", "--format", "json").output)
    progressing = next(c for c in status[0]["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "UpdateRunWaiting")
    assert (
        status[0]["next"]["blockedBy"] == "stage rest: before-stage Approval (web-v2-before-rest)"
    )
    sf.fleetc(
        cli, fleet, "rollout", "approve", "web-v2", "--stage", "rest", "--before",
        "--now", "2026-12-01T11:30:00Z",
    )  # fmt: skip
    diff = _diff(cli, fleet)
    assert diff["clusters"] == [] and diff["rollouts"] == []
    assert "approvedBefore: '2026-12-01T11:30:00Z'" in (fleet.root / "fleet.lock").read_text()
    _step(cli, fleet, tmp_path, "approve: rest")

    # The rest at once; the run succeeds.
    out = sf.fleetc(cli, fleet, "rollout", "advance", "--now", "2026-12-01T12:00:00Z").output
    assert "web-v2: Succeeded" in out
    diff = _diff(cli, fleet)
    assert _moved(diff) == sf.REST
    assert set(sf.images(fleet).values()) == {"1.5.0"}
    _step(cli, fleet, tmp_path, "advance: rest")
    status = json.loads(sf.fleetc(cli, fleet, "rollout", "status", "--format", "json").output)
    succeeded = next(c for c in status[0]["conditions"] if c["type"] == "Succeeded")
    assert (succeeded["status"], succeeded["reason"]) == ("True", "UpdateRunSucceeded")
    # Snapshot 0 is no longer used by any cluster or run: pruned from the lock and the store.
    assert len(list((fleet.root / "fleet.snapshots").iterdir())) == 1
    assert "\n      0:" not in (fleet.root / "fleet.lock").read_text()
