"""validate --rendered: CRD CEL rules without oldSelf, and the fields every custom resource has."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import REPO, FleetDir, require_crds, run
from fleetc.core import crd_rules
from widget_crd import spec_of, widget_crd


def _shared() -> Path:
    flux = require_crds() / "flux"
    if not flux.is_dir():
        pytest.skip(f"the upstream Flux CRDs are not available (looked for {flux})")
    return flux


@pytest.fixture
def copy(tmp_path) -> FleetDir:
    for name in ("fleet.yaml", "fleet.lock"):
        shutil.copy(REPO / name, tmp_path / name)
    for name in ("clusters", "hub", "rendered"):
        shutil.copytree(REPO / name, tmp_path / name)
    return FleetDir(tmp_path)


GIT_REPOSITORY = """
    apiVersion: source.toolkit.fluxcd.io/v1
    kind: GitRepository
    metadata:
      name: apps
      namespace: flux-system
    spec:
      interval: 1m
      url: https://example.com/apps.git
      serviceAccountName: puller
    """


def test_a_violated_cel_rule_of_the_flux_crd_is_an_error(cli, copy):
    crds = _shared()
    copy.write("rendered/aks-member-1/_flux-system/gitrepository_apps.yaml", GIT_REPOSITORY)
    result = run(cli, "validate", "--rendered", "-f", str(copy.root), "--crds", str(crds))
    assert result.exit_code == 1
    assert (
        "rendered/aks-member-1/_flux-system/gitrepository_apps.yaml:6:1: error: aks-member-1: "
        "GitRepository (source.toolkit.fluxcd.io/v1): spec: serviceAccountName can only be set "
        "when provider is 'azure' or 'aws' (CRD "
    ) in result.output
    # The same object with the provider the rule asks for passes.
    fixed = GIT_REPOSITORY.replace(
        "serviceAccountName: puller", "serviceAccountName: puller\n      provider: azure"
    )
    copy.write("rendered/aks-member-1/_flux-system/gitrepository_apps.yaml", fixed)
    result = run(cli, "validate", "--rendered", "-f", str(copy.root), "--crds", str(crds))
    assert result.exit_code == 0, result.output


def _crd(spec_rules: list[dict[str, str]] | None = None) -> str:
    """The Widget CRD: a spec of a size and a url, with the CEL rules ``spec_rules``."""
    rules = {"x-kubernetes-validations": spec_rules} if spec_rules else {}
    return widget_crd(
        spec_of({"size": {"type": "integer"}, "url": {"type": "string"}}, **rules),
        list_names=True,
    )


WIDGET = """
    apiVersion: example.com/v1
    kind: Widget
    metadata:
      name: w
      namespace: platform
    spec:
      size: 3
      url: https://example.com
    """


def test_root_fields_need_not_be_declared_by_the_crd(cli, copy):
    copy.write("rendered/aks-member-1/_cluster/crd.yaml", _crd())
    copy.write("rendered/aks-member-1/platform/widget.example.com_w.yaml", WIDGET)
    result = run(cli, "validate", "--rendered", "-f", str(copy.root))
    assert result.exit_code == 0, result.output
    assert "unexpected" not in result.output
    # Declared root properties still reject unknown fields beside them.
    copy.write(
        "rendered/aks-member-1/platform/widget.example.com_w.yaml",
        WIDGET.rstrip(" ") + "    extra: 1\n",
    )
    result = run(cli, "validate", "--rendered", "-f", str(copy.root))
    assert result.exit_code == 1
    assert "'extra' was unexpected" in result.output


def _schema(rule: str, **extra) -> dict:
    return {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"size": {"type": "integer"}, "url": {"type": "string"}},
                "x-kubernetes-validations": [{"rule": rule, "message": "bad spec", **extra}],
            }
        },
    }


OBJ = {"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"size": 3, "url": "x"}}


def test_rules_pass_fail_and_are_not_checked_when_celpy_cannot():
    assert crd_rules.check(_schema("self.size < 5"), OBJ, transitions=False) == []
    (failed,) = crd_rules.check(_schema("self.size > 5"), OBJ, transitions=False)
    assert (failed.outcome, failed.path, failed.message) == (
        crd_rules.VIOLATED,
        ("spec",),
        "bad spec",
    )
    # isURL is a Kubernetes CEL library function celpy does not implement: never "passed".
    (unknown,) = crd_rules.check(_schema("isURL(self.url)"), OBJ, transitions=False)
    assert unknown.outcome == crd_rules.NOT_CHECKED
    assert "isURL" in unknown.reason
    (syntax,) = crd_rules.check(_schema("self.size >"), OBJ, transitions=False)
    assert syntax.outcome == crd_rules.NOT_CHECKED


def test_transition_rules_are_left_to_the_transition_check():
    schema = _schema("self == oldSelf")
    assert crd_rules.check(schema, OBJ, transitions=False) == []
    new = {**OBJ, "spec": {"size": 4, "url": "x"}}
    (found,) = crd_rules.check(schema, new, OBJ, transitions=True)
    assert found.outcome == crd_rules.VIOLATED
    # A value without a previous version is not a transition.
    assert crd_rules.check(schema, new, {"apiVersion": "x"}, transitions=True) == []


def test_an_unevaluable_rule_is_a_warning_in_validate(cli, copy):
    crd = _crd(
        [
            {"rule": "isURL(self.url)", "message": "url must be a URL"},
            {"rule": "self.size < 2", "message": "too big"},
        ]
    )
    copy.write("rendered/aks-member-1/_cluster/crd.yaml", crd)
    copy.write("rendered/aks-member-1/platform/widget.example.com_w.yaml", WIDGET)
    result = run(cli, "validate", "--rendered", "-f", str(copy.root))
    assert "warning: aks-member-1: Widget (example.com/v1): spec: CEL rule not checked: isURL" in (
        result.output
    )
    assert "spec: too big (CRD widgets.example.com rule: self.size < 2)" in result.output
    assert result.exit_code == 1
