"""Secrets that do not come straight from the hub: what templates render, envelopes wrap and
overrides change must not be a plain Secret either, overrides must leave SOPS-encrypted objects
alone, and neither ``fleetc diff``, ``fleetc explain`` nor ``validate --rendered`` prints a
secret value."""

from __future__ import annotations

import shutil

import pytest
import yaml
from conftest import REPO, SHARED_CRDS, FleetDir, needs_crds, run
from fake_sections import run_last
from fleetc.core.model import ObjectKey
from fleetc.core.placed import RenderedObject
from fleetc.views import diff
from security_fleet import NAMESPACE, messages, write_fleet
from test_security_secrets import SOPS, VALUE

ENCODED = "aHVudGVyMi1UT1AtU0VDUkVU"
SECRET_KEY = ObjectKey("", "Secret", "app", "db")

EMPTY_SECRET = """\
---
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: app
type: Opaque
"""

ALLOWED = f"""\
---
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: app
  annotations:
    fleetc.io/allow-plain-secret: "true"
stringData:
  password: {VALUE}
"""


def with_overrides(fleet_dir: FleetDir, hub: str, rules: str) -> None:
    """The attack fleet plus one ResourceOverride on Secret app/db with ``rules`` (YAML)."""
    write_fleet(fleet_dir, hub=NAMESPACE + hub)
    text = (fleet_dir.root / "fleet.yaml").read_text()
    text += (
        "  overrides:\n"
        "    - name: leak\n"
        "      kind: ResourceOverride\n"
        "      namespace: app\n"
        "      resourceSelectors:\n"
        "        - {group: '', version: v1, kind: Secret, name: db}\n"
        "      policy:\n"
        "        overrideRules:\n"
        "          - clusterSelector: {clusterSelectorTerms: []}\n"
        f"            jsonPatchOverrides: {rules}\n"
    )
    (fleet_dir.root / "fleet.yaml").write_text(text)


def leak_errors(result) -> list[str]:
    found = [m for m in messages(result) if "clear text" in m]
    assert all(VALUE not in m and ENCODED not in m for m in messages(result))
    return found


def test_an_override_that_adds_string_data_is_refused(fleet_dir: FleetDir):
    with_overrides(
        fleet_dir,
        EMPTY_SECRET,
        f"[{{op: add, path: /stringData, value: {{password: {VALUE}}}}}]",
    )
    result = fleet_dir.compile()
    found = leak_errors(result)
    assert len(found) == 1, messages(result)
    assert "fleet.yaml:" in found[0] and "ResourceOverride 'app/leak' rule 0" in found[0]
    assert "stringData" in found[0]
    assert not result.files


def test_an_override_that_removes_the_opt_out_annotation_is_refused(fleet_dir: FleetDir):
    with_overrides(
        fleet_dir,
        ALLOWED,
        "[{op: remove, path: /metadata/annotations/fleetc.io~1allow-plain-secret}]",
    )
    result = fleet_dir.compile()
    assert len(leak_errors(result)) == 1, messages(result)


def test_an_override_may_still_label_an_opted_out_secret(fleet_dir: FleetDir):
    with_overrides(fleet_dir, ALLOWED, "[{op: add, path: /metadata/labels, value: {tier: db}}]")
    result = fleet_dir.compile()
    assert result.ok, messages(result)
    assert result.compilation.clusters["c1"][SECRET_KEY].body["metadata"]["labels"]


def test_an_override_of_a_sops_encrypted_object_is_refused(fleet_dir: FleetDir):
    with_overrides(fleet_dir, SOPS, "[{op: add, path: /metadata/labels, value: {tier: db}}]")
    result = fleet_dir.compile()
    errors = [m for m in messages(result) if "SOPS-encrypted" in m]
    assert len(errors) == 1 and "fleet.yaml:" in errors[0], messages(result)
    assert not result.files


def test_a_delete_rule_may_drop_a_sops_encrypted_object(fleet_dir: FleetDir):
    write_fleet(fleet_dir, hub=NAMESPACE + SOPS)
    text = (fleet_dir.root / "fleet.yaml").read_text()
    text += (
        "  overrides:\n"
        "    - {name: drop, kind: ResourceOverride, namespace: app,\n"
        "       resourceSelectors: [{group: '', version: v1, kind: Secret, name: db}],\n"
        "       policy: {overrideRules: [{clusterSelector: {clusterSelectorTerms: []},\n"
        "                                 overrideType: Delete}]}}\n"
    )
    (fleet_dir.root / "fleet.yaml").write_text(text)
    result = fleet_dir.compile()
    assert result.ok, messages(result)
    assert SECRET_KEY not in result.compilation.clusters["c1"]


def test_a_template_that_renders_a_plain_secret_is_refused(fleet_dir: FleetDir):
    write_fleet(fleet_dir)
    fleet_dir.write(
        "hub/secret.yaml.j2",
        EMPTY_SECRET + "stringData:\n  password: {{ cluster.name }}-" + VALUE + "\n",
    )
    result = fleet_dir.compile()
    found = leak_errors(result)
    assert found and all(m.startswith("hub/secret.yaml.j2") for m in found), messages(result)
    assert "Secret 'db' holds stringData in clear text" in found[0]
    assert not result.files


def test_a_template_may_render_an_opted_out_secret(fleet_dir: FleetDir):
    write_fleet(fleet_dir)
    fleet_dir.write("hub/secret.yaml.j2", ALLOWED)
    result = fleet_dir.compile()
    assert result.ok, messages(result)
    assert SECRET_KEY in result.compilation.clusters["c1"]


def test_an_envelope_that_wraps_a_plain_secret_is_refused(fleet_dir: FleetDir):
    wrapped = "".join(f"    {line}\n" for line in EMPTY_SECRET.splitlines()[1:])
    envelope = (
        "---\napiVersion: placement.kubernetes-fleet.io/v1beta1\nkind: ResourceEnvelope\n"
        "metadata:\n  name: wrap\n  namespace: app\ndata:\n  secret.yaml:\n"
        + wrapped
        + f"    data:\n      token: {ENCODED}\n"
    )
    write_fleet(fleet_dir, hub=NAMESPACE + envelope)
    result = fleet_dir.compile()
    found = leak_errors(result)
    assert len(found) == 1 and found[0].startswith("hub/app.yaml:"), messages(result)
    assert "Secret 'db' holds data in clear text" in found[0]
    assert not result.files


def test_no_stage_can_hand_a_plain_secret_to_the_writer(
    fleet_dir: FleetDir, monkeypatch: pytest.MonkeyPatch
):
    """The last check before layout catches a plain Secret from any stage (a section here)."""

    def leaky(given, out) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": "app"},
        }
        body["stringData"] = {"password": VALUE}
        source = "hub/app.yaml#spec.generated/db"  # how sections name their sources
        out.objects["c1"] = {SECRET_KEY: RenderedObject(SECRET_KEY, body, source)}

    run_last(monkeypatch, leaky)
    write_fleet(fleet_dir)
    result = fleet_dir.compile()
    found = leak_errors(result)
    assert len(found) == 1 and "Secret/app/db on cluster 'c1'" in found[0], messages(result)
    assert found[0].startswith("hub/app.yaml:1:1: error:"), found
    assert not result.files


def test_explain_never_prints_a_secret_value(fleet_dir: FleetDir, cli):
    """Hub manifest, override diff and final manifest all redact; the change is still shown."""
    with_overrides(fleet_dir, ALLOWED, "[{op: replace, path: /stringData/password, value: x2}]")
    result = run(cli, "explain", "--cluster", "c1", "--object", "Secret/app/db", "-f",
                 str(fleet_dir.root))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert VALUE not in result.output and "x2" not in result.output
    assert "-  password: <redacted-old-value>" in result.output
    assert "+  password: <redacted-new-value>" in result.output
    assert "overrides:  app/leak" in result.output


def test_explain_redacts_sops_values_too(fleet_dir: FleetDir, cli):
    write_fleet(fleet_dir, hub=NAMESPACE + SOPS)
    result = run(cli, "explain", "--cluster", "c1", "--object", "Secret/app/db", "-f",
                 str(fleet_dir.root))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ENC[AES256_GCM,data:Zm9vYmFy" not in result.output
    assert "password: <redacted>" in result.output


def test_diff_redacts_secrets_inside_a_list():
    secret = yaml.safe_load(ALLOWED)
    changed = {**secret, "stringData": {"password": "x2"}}
    old = {"apiVersion": "v1", "kind": "List", "items": [secret]}
    new = {"apiVersion": "v1", "kind": "List", "items": [changed]}
    shown_old, shown_new = diff.redact_pair(old, new)
    assert shown_old["items"][0]["stringData"] == {"password": diff.REDACTED_OLD}
    assert shown_new["items"][0]["stringData"] == {"password": diff.REDACTED_NEW}
    assert VALUE not in str(shown_old) and "x2" not in str(shown_new)


@needs_crds
def test_validate_rendered_never_quotes_a_secret_value(cli, tmp_path):
    """Files under rendered/ arrive by pull request too; schema messages quote values."""
    for name in ("fleet.yaml", "fleet.lock"):
        shutil.copy(REPO / name, tmp_path / name)
    for name in ("clusters", "hub", "rendered"):
        shutil.copytree(REPO / name, tmp_path / name)
    secret = tmp_path / "rendered/aks-member-1/kuard-demo/secret_db.yaml"
    secret.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: kuard-demo\n"
        f"stringData: {VALUE}\ndata:\n  token: 1234567\n"
    )
    result = run(cli, "validate", "--rendered", "-f", str(tmp_path), "--crds", str(SHARED_CRDS))
    assert result.exit_code == 1
    assert "secret_db.yaml:6:1: error: aks-member-1: Secret (v1): stringData: a value " in (
        result.output
    )
    assert "data.token: a value (not shown: this is a Secret)" in result.output
    assert VALUE not in result.output and "1234567" not in result.output
