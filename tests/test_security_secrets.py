"""Secrets in git: plain Secrets are refused unless SOPS-encrypted or explicitly allowed, and no
diagnostic ever prints a secret value."""

from __future__ import annotations

import pytest
from conftest import FleetDir, run
from fleetc.core import schema, yamlsource
from fleetc.core.diagnostics import Diagnostics
from security_fleet import NAMESPACE, messages, write_fleet

VALUE = "hunter2-TOP-SECRET"

PLAIN = f"""\
---
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: app
type: Opaque
stringData:
  password: {VALUE}
data:
  token: aHVudGVyMi1UT1AtU0VDUkVU
"""

SOPS = """\
---
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: app
type: Opaque
stringData:
  password: ENC[AES256_GCM,data:Zm9vYmFy,iv:aXZpdml2aXZpdml2,tag:dGFndGFndGFn,type:str]
sops:
  age:
    - recipient: age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq
      enc: |
        -----BEGIN AGE ENCRYPTED FILE-----
        YWdlLWVuY3J5cHRpb24ub3JnL3Yx
        -----END AGE ENCRYPTED FILE-----
  lastmodified: "2024-01-01T00:00:00Z"
  mac: ENC[AES256_GCM,data:bWFjbWFj,iv:aXZpdml2aXZpdml2,tag:dGFndGFndGFn,type:str]
  encrypted_regex: ^(data|stringData)$
  version: 3.8.1
"""


def test_a_plain_secret_is_refused_with_file_and_line_and_no_value(fleet_dir: FleetDir, cli):
    write_fleet(fleet_dir, hub=NAMESPACE + PLAIN)
    result = run(cli, "render", "-f", str(fleet_dir.root))
    assert result.exit_code == 1
    assert "hub/app.yaml:20:1: error: Secret 'db' holds stringData in clear text" in result.output
    assert "hub/app.yaml:22:1: error: Secret 'db' holds data in clear text" in result.output
    assert "fleetc.io/allow-plain-secret" in result.output
    assert VALUE not in result.output and "aHVudGVy" not in result.output
    assert not (fleet_dir.root / "rendered").exists()


def test_a_plain_secret_inside_a_list_is_refused(memory_fleet):
    items = "".join("    " + line + "\n" for line in PLAIN.splitlines()[1:])
    items = items.replace("    apiVersion: v1\n", "  - apiVersion: v1\n", 1)
    hub = NAMESPACE + "---\napiVersion: v1\nkind: List\nmetadata:\n  name: bundle\n"
    hub += "  namespace: app\nitems:\n" + items
    write_fleet(memory_fleet, hub=hub)
    result = memory_fleet.compile()
    errors = [d for d in result.diagnostics.errors if "clear text" in d.message]
    paths = sorted(d.path for d in errors)
    assert paths == ["items[0].data", "items[0].stringData"], messages(result)


def test_a_sops_encrypted_secret_is_accepted_and_written_unchanged(memory_fleet):
    write_fleet(memory_fleet, hub=NAMESPACE + SOPS)
    result = memory_fleet.compile()
    assert result.ok, messages(result)
    written = result.files["c1/app/secret_db.yaml"].decode()
    # No fleetc annotation is added: SOPS's MAC covers every value of the document.
    assert "fleetc.io" not in written
    assert (
        yamlsource.parse(written, "x", Diagnostics())[0].data
        == yamlsource.parse(SOPS, "x", Diagnostics())[0].data
    )


def test_a_sops_block_with_a_plain_value_is_still_refused(memory_fleet):
    leaky = SOPS.replace("stringData:\n", f"stringData:\n  forgot: {VALUE}\n")
    write_fleet(memory_fleet, hub=NAMESPACE + leaky)
    result = memory_fleet.compile()
    assert any("holds stringData in clear text" in m for m in messages(result))
    assert VALUE not in str(messages(result))


@pytest.mark.parametrize(
    ("annotation", "allowed"), [('"true"', True), ('"false"', False), ('"yes"', False)]
)
def test_the_opt_out_annotation(memory_fleet, annotation: str, allowed: bool):
    opted = PLAIN.replace(
        "  namespace: app\n",
        f"  namespace: app\n  annotations:\n    fleetc.io/allow-plain-secret: {annotation}\n",
    )
    write_fleet(memory_fleet, hub=NAMESPACE + opted)
    result = memory_fleet.compile()
    assert result.ok is allowed, messages(result)
    if allowed:
        assert VALUE in result.files["c1/app/secret_db.yaml"].decode()


def test_secrets_without_data_are_fine(memory_fleet):
    empty = "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: e\n  namespace: app\ndata: {}\n"
    write_fleet(memory_fleet, hub=NAMESPACE + empty)
    assert memory_fleet.compile().ok


def test_schema_messages_never_quote_a_secret_value():
    """Validators echo the offending value; inside a Secret they must not."""
    text = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {VALUE}\nstringData:\n  p: {VALUE}\n"
    doc = yamlsource.parse(text, "s.yaml", Diagnostics())[0]
    diags = Diagnostics()
    schema.validate(doc, "cluster", diags)
    assert diags.errors
    assert all(VALUE not in d.format() for d in diags), [d.format() for d in diags]


def test_schema_messages_still_quote_ordinary_values():
    doc = yamlsource.parse("apiVersion: nope\n", "f.yaml", Diagnostics())[0]
    diags = Diagnostics()
    schema.validate(doc, "cluster", diags)
    assert any('"nope" is not allowed here' in d.message for d in diags)
