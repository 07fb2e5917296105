"""fleetc init (a fleet that works at once) and fleetc schema (schemas usable outside fleetc)."""

from __future__ import annotations

import json
from pathlib import Path

import git
import jsonschema
import pytest
import referencing
import referencing.exceptions
import yaml
from conftest import REPO, run
from fleetc import __version__
from fleetc.shell import scaffold

SCHEMAS = REPO / "schemas"


def test_init_makes_a_fleet_that_validate_render_and_check_accept(cli, tmp_path):
    folder = tmp_path / "My Fleet"
    result = run(cli, "init", str(folder))
    assert result.exit_code == 0, result.output
    assert "created fleet 'my-fleet'" in result.output
    for path in (
        "fleet.yaml",
        "clusters/dev-1.yaml",
        "clusters/prod-1.yaml",
        "hub/web.yaml",
        ".github/workflows/fleetc.yaml",
        ".pre-commit-config.yaml",
        ".gitignore",
        ".fleetc/schemas/fleet.schema.json",
    ):
        assert (folder / path).is_file(), path
    repo = git.Repo.init(folder, initial_branch="main")
    assert run(cli, "validate", "-f", str(folder)).exit_code == 0
    rendered = run(cli, "render", "-f", str(folder))
    assert rendered.exit_code == 0, rendered.output
    assert "rendered 2 cluster(s), 8 object(s)" in rendered.output
    assert run(cli, "check", "-f", str(folder)).exit_code == 0
    valid = run(cli, "validate", "--rendered", "-f", str(folder))
    assert valid.exit_code == 0, valid.output
    # Nothing of fleetc's own shows in git status: only the fleet's files.
    status = repo.git.status("--porcelain", "--untracked-files=all").splitlines()
    assert not [line for line in status if ".fleetc-" in line]
    # The workflow is the shipped template; pre-commit is pinned to this release's tag.
    assert (folder / ".github/workflows/fleetc.yaml").read_bytes() == (
        REPO / "ci/github-actions/fleetc.yaml"
    ).read_bytes()
    config = yaml.safe_load((folder / ".pre-commit-config.yaml").read_text())
    assert config["repos"][0]["rev"] == f"v{__version__}"
    assert config["repos"][0]["repo"] == scaffold.SOURCE_REPOSITORY


def test_init_never_overwrites(cli, tmp_path):
    (tmp_path / "fleet.yaml").write_text("mine\n")
    result = run(cli, "init", str(tmp_path))
    assert result.exit_code == 1
    assert "already has fleet.yaml; nothing written" in result.output
    assert (tmp_path / "fleet.yaml").read_text() == "mine\n"
    assert not (tmp_path / "hub").exists()


def test_schema_writes_every_schema(cli, tmp_path):
    result = run(cli, "schema", "--out", str(tmp_path / "s"))
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert written == sorted(p.name for p in SCHEMAS.glob("*.schema.json"))
    for name in written:
        assert (tmp_path / "s" / name).read_bytes() == (SCHEMAS / name).read_bytes()


def _offline_validator(folder: Path, name: str):
    """A standard validator over the files in ``folder``: ``$ref``s resolve against the file's
    own URI; any other retrieval (a remote fetch) fails the test."""
    fetched: list[str] = []

    def retrieve(uri: str):
        fetched.append(uri)
        if not uri.startswith(folder.as_uri() + "/"):
            raise referencing.exceptions.NoSuchResource(uri)
        path = Path(uri.removeprefix("file://"))
        return referencing.Resource.from_contents(json.loads(path.read_text()))

    registry = referencing.Registry(retrieve=retrieve)
    schema = json.loads((folder / name).read_text())
    base = (folder / name).as_uri()
    resolver_schema = {"$ref": base}
    validator = jsonschema.Draft202012Validator(resolver_schema, registry=registry)
    return validator, fetched, schema


@pytest.mark.parametrize(
    ("name", "document"),
    [
        ("fleet.schema.json", scaffold.FLEET.format(name="demo")),
        ("cluster.schema.json", scaffold.CLUSTER.format(name="dev-1", env="dev")),
    ],
)
def test_schemas_validate_a_users_files_offline(cli, tmp_path, name, document):
    assert run(cli, "schema", "--out", str(tmp_path / "schemas")).exit_code == 0
    validator, fetched, schema = _offline_validator(tmp_path / "schemas", name)
    assert schema["$id"] == name
    data = yaml.safe_load(document)
    assert list(validator.iter_errors(data)) == []
    bad = {**data, "metadata": {"name": "Not_A_Name"}}
    assert list(validator.iter_errors(bad)) != []
    assert all(uri.startswith((tmp_path / "schemas").as_uri()) for uri in fetched)


def _missing_descriptions(node, path: str, out: list[str]) -> None:
    if isinstance(node, dict):
        for key, value in (node.get("properties") or {}).items():
            if isinstance(value, dict) and "description" not in value:
                out.append(f"{path}.{key}")
            _missing_descriptions(value, f"{path}.{key}", out)
        for key in ("items", "additionalProperties", "then", "else", "not"):
            _missing_descriptions(node.get(key), f"{path}/{key}", out)
        for key in ("$defs", "patternProperties"):
            for name, value in (node.get(key) or {}).items():
                _missing_descriptions(value, f"{path}/{key}/{name}", out)
        for key in ("allOf", "anyOf", "oneOf"):
            for index, value in enumerate(node.get(key) or []):
                _missing_descriptions(value, f"{path}/{key}[{index}]", out)


@pytest.mark.parametrize("name", sorted(p.name for p in SCHEMAS.glob("*.schema.json")))
def test_every_field_has_a_description(name):
    missing: list[str] = []
    _missing_descriptions(json.loads((SCHEMAS / name).read_text()), "", missing)
    assert missing == []
