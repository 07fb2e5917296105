"""strategy.applyStrategy / deleteStrategy / reportBackStrategy / rollingUpdate: KubeFleet's
schema and rules, and a warning naming every setting Flux cannot honour."""

from __future__ import annotations

import pytest
import yaml

FLEET = {
    "apiVersion": "fleetc.io/v1alpha1",
    "kind": "Fleet",
    "metadata": {"name": "test"},
    "spec": {
        "placements": [
            {
                "name": "app",
                "resourceSelectors": [
                    {"group": "", "version": "v1", "kind": "Namespace", "name": "app"}
                ],
            }
        ]
    },
}


def make(fleet_dir, strategy):
    fleet = yaml.safe_load(yaml.safe_dump(FLEET))
    fleet["spec"]["placements"][0]["strategy"] = strategy
    fleet_dir.write("fleet.yaml", yaml.safe_dump(fleet, sort_keys=False))
    fleet_dir.write("hub/app.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n")
    fleet_dir.cluster("east-1")
    return fleet_dir.compile()


def line_of(fleet_dir, needle: str) -> int:
    lines = (fleet_dir.root / "fleet.yaml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


@pytest.mark.parametrize(
    "strategy",
    [
        {"applyStrategy": {"type": "Bogus"}},
        {"applyStrategy": {"whenToApply": "Sometimes"}},
        {"applyStrategy": {"comparisonOption": "Partial"}},
        {"applyStrategy": {"whenToTakeOver": "Maybe"}},
        {"applyStrategy": {"allowCoOwnership": "yes"}},
        {"applyStrategy": {"unknownField": 1}},
        {"applyStrategy": {"type": "ServerSideApply", "serverSideApplyConfig": {"force": 1}}},
        {"deleteStrategy": {"propagationPolicy": "Orphan"}},
        {"reportBackStrategy": {"type": "Always"}},
    ],
)
def test_strategy_is_checked_against_kubefleets_schema(fleet_dir, strategy):
    result = make(fleet_dir, strategy)
    assert not result.ok
    assert all(d.position.file == "fleet.yaml" for d in result.diagnostics.errors)
    assert any("strategy" in d.path for d in result.diagnostics.errors)


def test_server_side_apply_config_needs_server_side_apply(fleet_dir):
    strategy = {"applyStrategy": {"type": "ClientSideApply", "serverSideApplyConfig": {}}}
    result = make(fleet_dir, strategy)
    [error] = result.diagnostics.errors
    assert error.message == "serverSideApplyConfig is only valid for ServerSideApply strategy type"
    assert error.position.line == line_of(fleet_dir, "serverSideApplyConfig:")
    assert result.compilation.outcomes["app"].valid is False


def test_report_diff_is_refused(fleet_dir):
    result = make(fleet_dir, {"applyStrategy": {"type": "ReportDiff"}})
    [error] = result.diagnostics.errors
    assert "ReportDiff cannot be honoured" in error.message
    assert error.position.line == line_of(fleet_dir, "type: ReportDiff")


def test_mirror_report_back_needs_a_destination(fleet_dir):
    result = make(fleet_dir, {"reportBackStrategy": {"type": "Mirror"}})
    [error] = result.diagnostics.errors
    assert "a destination must be specified" in error.message


@pytest.mark.parametrize(
    ("strategy", "field", "at"),
    [
        ({"applyStrategy": {"type": "ClientSideApply"}}, "applyStrategy.type", "ClientSideApply"),
        (
            {"applyStrategy": {"comparisonOption": "FullComparison"}},
            "applyStrategy.comparisonOption",
            "FullComparison",
        ),
        (
            {"applyStrategy": {"whenToApply": "IfNotDrifted"}},
            "applyStrategy.whenToApply",
            "IfNotDrifted",
        ),
        ({"applyStrategy": {"whenToTakeOver": "Never"}}, "applyStrategy.whenToTakeOver", "Never"),
        (
            {"applyStrategy": {"whenToTakeOver": "IfNoDiff"}},
            "applyStrategy.whenToTakeOver",
            "IfNoDiff",
        ),
        (
            {"applyStrategy": {"allowCoOwnership": False}},
            "applyStrategy.allowCoOwnership",
            "allowCoOwnership",
        ),
        ({"applyStrategy": {"type": "ServerSideApply"}}, "server-side apply without force", "type"),
        (
            {"deleteStrategy": {"propagationPolicy": "Abandon"}},
            "deleteStrategy.propagationPolicy",
            "Abandon",
        ),
        (
            {"reportBackStrategy": {"type": "Mirror", "destination": "WorkAPI"}},
            "reportBackStrategy",
            "type: Mirror",
        ),
        ({"rollingUpdate": {"maxUnavailable": 1}}, "rollingUpdate", "rollingUpdate"),
    ],
)
def test_settings_flux_cannot_honour_are_warnings_naming_the_field(fleet_dir, strategy, field, at):
    result = make(fleet_dir, strategy)
    assert result.ok, [d.format() for d in result.diagnostics]
    [warning] = [w for w in result.diagnostics.warnings if "strategy" in w.path]
    assert field in warning.message
    assert "has no effect" in warning.message or "cannot be honoured" in warning.message
    assert warning.position.line == line_of(fleet_dir, at)


def test_settings_flux_honours_are_quiet(fleet_dir):
    strategy = {
        "applyStrategy": {
            "type": "ServerSideApply",
            "serverSideApplyConfig": {"force": True},
            "comparisonOption": "PartialComparison",
            "whenToApply": "Always",
            "whenToTakeOver": "Always",
            "allowCoOwnership": True,
        },
        "deleteStrategy": {"propagationPolicy": "Delete"},
        "reportBackStrategy": {"type": "Disabled"},
    }
    result = make(fleet_dir, strategy)
    assert result.ok
    assert list(result.diagnostics) == []
