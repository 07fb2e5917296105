"""MemorySource: the Source protocol over a dict, with the same rules as the file system."""

from __future__ import annotations

import pytest
from builder import ROOT, FleetBuilder, messages
from fleetc.core.diagnostics import Diagnostics
from fleetc.shell.load import load_source
from fleetc.shell.sources import FILE, FOLDER, Entry, FileSource, MemorySource

FILES = {
    "fleet.yaml": b"a",
    "hub/app.yaml": b"b",
    "hub/deep/x.yaml.j2": b"c",
    "clusters/c1.yaml": b"d",
}


def test_folders_are_implied_and_listed_sorted():
    source = MemorySource(FILES)
    assert source.list_dir("") == [
        Entry("clusters", FOLDER),
        Entry("fleet.yaml", FILE),
        Entry("hub", FOLDER),
    ]
    assert source.list_dir("hub") == [Entry("app.yaml", FILE), Entry("deep", FOLDER)]
    assert source.is_dir("hub/deep") and not source.is_file("hub/deep")
    assert source.is_file("hub/deep/x.yaml.j2") and not source.is_dir("hub/app.yaml")
    assert not source.is_file("missing.yaml") and not source.is_dir("missing")


def test_listing_or_reading_what_is_not_there_raises_oserror():
    source = MemorySource(FILES)
    with pytest.raises(OSError):
        source.list_dir("missing")
    with pytest.raises(OSError):
        source.list_dir("fleet.yaml")
    with pytest.raises(OSError):
        source.read_bytes("missing.yaml", 10)
    with pytest.raises(OSError):
        source.read_bytes("hub", 10)


def test_read_stops_at_the_limit():
    source = MemorySource({"f.yaml": b"0123456789"})
    assert source.read_bytes("f.yaml", 4) == b"0123"
    assert source.read_bytes("./f.yaml", 100) == b"0123456789"


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("", ""),
        (".", ""),
        ("hub", "hub"),
        ("hub/./app.yaml", "hub/app.yaml"),
        ("hub/../clusters", "clusters"),
        ("missing/../hub", "hub"),
        ("..", None),
        ("../fleet.yaml", None),
        ("hub/../../x", None),
        ("/etc/passwd", None),
    ],
)
def test_resolve_keeps_paths_inside_the_root_as_the_file_system_does(tmp_path, rel, expected):
    assert MemorySource(FILES).resolve(rel) == expected
    for path, data in FILES.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    assert FileSource(tmp_path).resolve(rel) == expected


@pytest.mark.parametrize("bad", ["", ".", "../x.yaml", "/abs.yaml", "a/../../x"])
def test_refuses_files_outside_the_root(bad):
    with pytest.raises(ValueError, match="not a path inside the root"):
        MemorySource({bad: b"x"})


def test_refuses_a_name_that_is_both_file_and_folder():
    with pytest.raises(ValueError, match="both a file and a folder: 'hub'"):
        MemorySource({"hub": b"x", "hub/a.yaml": b"y"})


def test_load_source_reads_a_fleet_from_memory_like_from_disk(tmp_path):
    fleet = FleetBuilder()
    fleet.write(
        "fleet.yaml",
        """
        apiVersion: fleetc.io/v1alpha1
        kind: Fleet
        metadata: {name: demo}
        spec:
          resources: [hub/, ../outside]
        """,
    )
    fleet.write("hub/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n")
    fleet.write("hub/info.yaml.j2", "x: {{ cluster.name }}\n")
    fleet.cluster("c1", {"env": "prod"})
    memory, disk = Diagnostics(), Diagnostics()
    from_memory = load_source(MemorySource(fleet.inputs), ROOT, memory)
    for rel, data in fleet.inputs.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    from_disk = load_source(FileSource(tmp_path), tmp_path, disk)
    assert [d.format() for d in memory] == [d.format() for d in disk]
    assert [d.format() for d in memory] == [
        "fleet.yaml:5:21: error: resource path '../outside' points outside the repository"
        " [at spec.resources[1]]\n"
        "  hint: fleetc reads and writes only below the folder that holds fleet.yaml"
    ]
    assert [d.data for d in from_memory.hub] == [d.data for d in from_disk.hub]
    assert [d.data for d in from_memory.inventory] == [d.data for d in from_disk.inventory]
    assert from_memory.templates == from_disk.templates
    assert from_memory.output == from_disk.output == "rendered/"


def test_builder_compiles_from_memory_without_touching_the_disk():
    fleet = FleetBuilder()
    fleet.write(
        "fleet.yaml", "apiVersion: fleetc.io/v1alpha1\nkind: Fleet\nmetadata: {name: m}\nspec: {}\n"
    )
    fleet.write("hub/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n")
    fleet.cluster("c1")
    result = fleet.compile()
    assert not ROOT.exists()
    assert messages(result) == []
    assert result.ok and result.lock
