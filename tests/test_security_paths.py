"""Escaping the repository: paths, symbolic links and names that would become path components."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import FleetDir, run
from fleetc.core.model import ObjectKey
from fleetc.shell import writer
from security_fleet import NAMESPACE, messages, write_fleet


@pytest.fixture
def repo(tmp_path: Path) -> FleetDir:
    return FleetDir(tmp_path / "repo")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the repository holding a valid manifest and a cluster file."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "stolen.yaml").write_text(NAMESPACE.replace("app", "stolen"), encoding="utf-8")
    (folder / "c9.yaml").write_text(
        "apiVersion: fleetc.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: c9\n", encoding="utf-8"
    )
    return folder


def _outside_files(tmp_path: Path) -> set[str]:
    return {
        p.relative_to(tmp_path).as_posix()
        for p in tmp_path.rglob("*")
        if "repo" not in p.relative_to(tmp_path).parts[:1]
    }


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("resources", "../outside/", "points outside the repository"),
        ("resources", "hub/../../outside/stolen.yaml", "points outside the repository"),
        ("resources", "/etc/", "is an absolute path"),
        ("resources", "~/hub", "is an absolute path"),
        ("inventory", "../outside/", "points outside the repository"),
        ("inventory", "/etc", "is an absolute path"),
        ("output", "../out/", "points outside the repository"),
        ("output", "/tmp/fleetc-out", "is an absolute path"),
        ("output", ".", "would replace the repository itself"),
        ("output", "hub/", "would replace the input 'hub/'"),
        ("output", "hub/rendered/", "would replace the input 'hub/'"),
        ("output", "clusters/", "would replace the input 'clusters/'"),
        ("output", ".git", "would replace the input '.git'"),
        ("inventory", "\0", "holds a NUL character"),
        ("resources", "hub/\0x.yaml", "holds a NUL character"),
        ("output", "out\0/", "holds a NUL character"),
    ],
)
def test_paths_outside_the_repository_are_refused(repo, outside, field, value, expected):
    kwargs = {"resources": (value,)} if field == "resources" else {field: value}
    write_fleet(repo, **kwargs)
    result = repo.compile()
    errors = [d for d in result.diagnostics.errors if expected in d.message]
    assert errors, messages(result)
    assert errors[0].position.file == "fleet.yaml" and errors[0].position.line > 0
    assert errors[0].path.startswith(f"spec.{field}")


def test_render_with_an_escaping_output_writes_nothing_outside(repo, outside, tmp_path, cli):
    write_fleet(repo, output="../out/")
    before = _outside_files(tmp_path)
    result = run(cli, "render", "-f", str(repo.root))
    assert result.exit_code == 1
    assert "points outside the repository" in result.output
    assert _outside_files(tmp_path) == before


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_symlinks_in_the_hub_folder_pointing_outside_are_refused(repo, outside, kind):
    write_fleet(repo)
    target = outside / "stolen.yaml" if kind == "file" else outside
    (repo.root / "hub" / "link.yaml" if kind == "file" else repo.root / "hub" / "link").symlink_to(
        target
    )
    result = repo.compile()
    assert any("symbolic link points outside" in m for m in messages(result)), messages(result)
    assert "stolen" not in str(list(result.compilation.fleet.objects))


def test_symlink_in_the_inventory_pointing_outside_is_refused(repo, outside):
    write_fleet(repo)
    (repo.root / "clusters" / "c9.yaml").symlink_to(outside / "c9.yaml")
    result = repo.compile()
    errors = [d for d in result.diagnostics.errors if "symbolic link" in d.message]
    assert errors and errors[0].position.file == "clusters/c9.yaml"
    assert "c9" not in result.compilation.fleet.clusters


def test_a_symlinked_file_named_in_resources_is_refused(repo, outside):
    write_fleet(repo, resources=("hub/", "extra.yaml"))
    (repo.root / "extra.yaml").symlink_to(outside / "stolen.yaml")
    result = repo.compile()
    assert any("'extra.yaml' points outside" in m for m in messages(result)), messages(result)


def test_symlinks_that_stay_inside_are_followed(repo):
    write_fleet(repo)
    (repo.root / "shared").mkdir()
    (repo.root / "shared" / "more.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: more\n  namespace: app\n",
        encoding="utf-8",
    )
    (repo.root / "hub" / "shared").symlink_to(repo.root / "shared")
    result = repo.compile()
    assert result.ok, messages(result)
    assert "c1/app/configmap_more.yaml" in result.files


def test_a_fleet_lock_linked_outside_is_not_read(repo, outside):
    write_fleet(repo)
    secret = outside / "secret.lock"
    secret.write_text("apiVersion: fleetc.io/v1alpha1\nkind: FleetLock\nx: 1\n", encoding="utf-8")
    (repo.root / "fleet.lock").symlink_to(secret)
    result = repo.compile()
    assert any("fleet.lock is a symbolic link" in m for m in messages(result)), messages(result)


@pytest.mark.parametrize("name", ["../x", "a/b", "x" * 64, "Upper", "a_b", "-a", "."])
def test_cluster_names_that_are_not_dns_labels_are_refused(repo, name):
    write_fleet(repo, clusters=())
    repo.write(
        "clusters/bad.yaml",
        f"apiVersion: fleetc.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: {name!r}\n",
    )
    result = repo.compile()
    errors = [d for d in result.diagnostics.errors if d.path == "metadata.name"]
    assert errors and errors[0].position.file == "clusters/bad.yaml", messages(result)
    assert result.compilation.fleet.clusters == {}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("namespace", "../x"),
        ("namespace", "a/b"),
        ("namespace", "_cluster"),
        ("namespace", "n" * 64),
        ("name", "../x"),
        ("name", "a/b"),
        ("name", ".."),
        ("name", "n" * 254),
        ("name", "a b"),
    ],
)
def test_object_names_that_would_become_path_components_are_refused(repo, field, value):
    fields = {"name": "x", "namespace": "app", field: value}
    hub = NAMESPACE + (
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        f"  name: {fields['name']!r}\n  namespace: {fields['namespace']!r}\n"
    )
    write_fleet(repo, hub=hub)
    result = repo.compile()
    errors = [d for d in result.diagnostics.errors if d.path == f"metadata.{field}"]
    assert errors and errors[0].position.file == "hub/app.yaml", messages(result)
    assert errors[0].position.line > 0


def test_a_kind_with_slashes_is_written_inside_the_cluster_folder(repo, tmp_path, cli):
    hub = NAMESPACE + (
        "---\napiVersion: evil.io/v1\nkind: ../../../../escape\nmetadata:\n"
        "  name: x\n  namespace: app\n"
    )
    write_fleet(repo, hub=hub)
    result = run(cli, "render", "-f", str(repo.root))
    assert result.exit_code == 0, result.output
    rendered = (repo.root / "rendered").resolve()
    for path in rendered.rglob("*"):
        assert rendered / "c1" in (path.resolve(), *path.resolve().parents)
    assert not (tmp_path / "escape").exists()
    assert not list(tmp_path.glob("*escape*"))


@pytest.mark.parametrize("rel", ["../x.yaml", "c1/../../x.yaml", "/tmp/x.yaml", "c1//x", "c1/./x"])
def test_the_writer_refuses_paths_that_climb_out(tmp_path, rel):
    output = tmp_path / "repo" / "rendered"
    with pytest.raises(writer.WriteError, match="not a plain path inside the output"):
        writer.commit(tmp_path / "repo", output, {rel: b"x"})
    assert not (tmp_path / "x.yaml").exists() and not output.exists()


def test_a_symlink_in_the_committed_output_is_replaced_not_followed(repo, outside, cli):
    write_fleet(repo)
    assert run(cli, "render", "-f", str(repo.root)).exit_code == 0
    committed = repo.root / "rendered" / "c1" / "app" / "configmap_settings.yaml"
    target = outside / "target.yaml"
    target.write_bytes(committed.read_bytes())  # same bytes: a naive writer would hard-link it
    committed.unlink()
    committed.symlink_to(target)
    stale = run(cli, "check", "-f", str(repo.root))
    assert stale.exit_code == 1 and "stale:   c1/app/configmap_settings.yaml" in stale.output
    assert run(cli, "render", "-f", str(repo.root)).exit_code == 0
    assert not committed.is_symlink()
    assert os.stat(committed).st_ino != os.stat(target).st_ino
    assert os.stat(target).st_nlink == 1


def test_a_cluster_folder_linked_outside_is_replaced_and_its_flux_system_ignored(
    repo, outside, cli
):
    write_fleet(repo)
    (outside / "c1" / "flux-system").mkdir(parents=True)
    (outside / "c1" / "flux-system" / "gotk-sync.yaml").write_text("outside\n")
    (repo.root / "rendered").mkdir()
    (repo.root / "rendered" / "c1").symlink_to(outside / "c1")
    result = run(cli, "render", "-f", str(repo.root))
    assert result.exit_code == 0, result.output
    cluster = repo.root / "rendered" / "c1"
    assert cluster.is_dir() and not cluster.is_symlink()
    assert not (cluster / "flux-system").exists()
    assert "flux-system" not in (cluster / "kustomization.yaml").read_text()
    assert (outside / "c1" / "flux-system" / "gotk-sync.yaml").read_text() == "outside\n"


def test_a_fleet_yaml_linked_outside_is_not_read(repo, outside, cli):
    """In CI, a linked fleet.yaml could otherwise echo another file into the check's log."""
    write_fleet(repo)
    secret = outside / "config.json"
    secret.write_text('{"auths": {"registry": {"auth": "c2VjcmV0LXRva2Vu"}}}')
    (repo.root / "fleet.yaml").unlink()
    (repo.root / "fleet.yaml").symlink_to(secret)
    result = run(cli, "check", "-f", str(repo.root))
    assert result.exit_code == 1
    assert "fleet.yaml: error: fleet.yaml is a symbolic link that points outside" in result.output
    assert "auths" not in result.output and "c2VjcmV0" not in result.output


def test_a_planted_lock_file_link_is_not_followed(repo, outside, cli):
    write_fleet(repo)
    (repo.root / writer.RENDER_LOCK).symlink_to(outside / "created-by-fleetc")
    result = run(cli, "render", "-f", str(repo.root))
    assert result.exit_code == 1 and "cannot create lock file" in result.output
    assert not (outside / "created-by-fleetc").exists()
    assert not (repo.root / "rendered").exists()


def test_link_loops_dangling_links_and_pipes_in_the_hub_are_diagnostics(repo):
    write_fleet(repo)
    hub = repo.root / "hub"
    (hub / "loop.yaml").symlink_to("loop.yaml")
    (hub / "dangling.yaml").symlink_to("nowhere.yaml")
    (hub / "self").symlink_to("../hub")
    os.mkfifo(hub / "pipe.yaml")
    result = repo.compile()
    errors = [d.format() for d in result.diagnostics.errors]
    # A link that leads nowhere would silently drop manifests: both are errors; a pipe is skipped.
    assert errors == [
        "hub/dangling.yaml: error: cannot read: the symbolic link is dangling or loops",
        "hub/loop.yaml: error: cannot read: the symbolic link is dangling or loops",
    ]
    assert ObjectKey("", "ConfigMap", "app", "settings") in result.compilation.fleet.objects


def test_names_that_differ_only_in_case_get_files_of_their_own(repo):
    hub = NAMESPACE + "".join(
        f"---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n  namespace: app\n"
        for name in ("Robot", "robot")
    )
    write_fleet(repo, hub=hub)
    result = repo.compile()
    assert result.ok, messages(result)
    accounts = sorted(rel for rel in result.files if "serviceaccount" in rel)
    assert len(accounts) == 2, accounts
    # Key order puts "Robot" first: it keeps the plain name.
    assert accounts[0] == "c1/app/serviceaccount_robot.yaml"
    assert re.fullmatch(r"c1/app/serviceaccount_robot~[0-9a-f]{16}\.yaml", accounts[1])
    assert b"name: Robot" in result.files[accounts[0]]
    assert b"name: robot" in result.files[accounts[1]]
    kustomization = result.files["c1/kustomization.yaml"].decode()
    assert all(rel.removeprefix("c1/") in kustomization for rel in accounts)


def test_very_long_names_get_file_names_the_file_system_accepts(repo, cli):
    long_name = ("a" * 60 + ".") * 4 + "b" * 8  # 252 characters, a valid name
    hub = NAMESPACE + (
        "---\napiVersion: example.com/v1\nkind: VeryLongKindNameForAnExampleResource\n"
        f"metadata:\n  name: {long_name}\n  namespace: app\n"
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        f"  name: {long_name.upper()}\n  namespace: app\n"
    )
    write_fleet(repo, hub=hub)
    result = run(cli, "render", "-f", str(repo.root))
    assert result.exit_code == 0, result.output
    names = [p.name for p in (repo.root / "rendered" / "c1" / "app").iterdir()]
    assert len(names) == 3 and all(len(name) <= 255 for name in names)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("fleet.yaml", "would replace the input 'fleet.yaml'"),
        ("fleet.lock", "would replace the input 'fleet.lock'"),
        ("README.md", "would replace the file 'README.md'"),
        ("README.md/out", "would replace the file 'README.md'"),
        (".github/workflows", "would replace the hidden folder or file '.github'"),
        (".fleetc-journal", "would replace the hidden folder or file '.fleetc-journal'"),
        (".fleetc-lock", "would replace the hidden folder or file '.fleetc-lock'"),
        ("docs", "would replace the folder 'docs', which is not fleetc's output: 'guide.md'"),
        ("docs/", "would replace the folder 'docs', which is not fleetc's output: 'guide.md'"),
        ("team", "would replace the folder 'team', which is not fleetc's output: 'notes'"),
    ],
)
def test_output_must_be_a_folder_of_fleetcs_own(repo, cli, value, expected):
    # Issue 13 (9): spec.output could name a file (replaced by a folder), another folder of the
    # repository (its files deleted) or fleetc's own lock or journal (every later run failed).
    repo.write("README.md", "# readme\n")
    repo.write(".github/workflows/ci.yaml", "on: push\n")
    repo.write("docs/guide.md", "guide\n")
    repo.write("team/notes/a.txt", "a\n")
    write_fleet(repo, output=value)
    if value == "fleet.lock":
        repo.write("fleet.lock", "apiVersion: fleetc.io/v1alpha1\nkind: FleetLock\n")
    result = run(cli, "render", "-f", str(repo.root))
    assert result.exit_code == 1
    assert expected in result.output, result.output
    assert (repo.root / "README.md").read_text() == "# readme\n"
    assert (repo.root / ".github/workflows/ci.yaml").read_text() == "on: push\n"
    assert (repo.root / "docs/guide.md").read_text() == "guide\n"


@pytest.mark.parametrize("value", ["out", "deploy/out", "rendered"])
def test_a_fresh_or_empty_or_fleetc_output_folder_is_accepted(repo, cli, value):
    write_fleet(repo, output=value)
    (repo.root / "deploy").mkdir()
    assert run(cli, "render", "-f", str(repo.root)).exit_code == 0
    assert run(cli, "render", "-f", str(repo.root)).exit_code == 0  # now it is fleetc's
    assert run(cli, "check", "-f", str(repo.root)).exit_code == 0
