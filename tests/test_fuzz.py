"""Fuzzing the loaders and validators: whatever a pull request holds, fleetc answers with
diagnostics that name a file and a line, never with a traceback."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler import yamlsource
from compiler.diagnostics import Diagnostics
from compiler.load import load
from compiler.pipeline import compile_fleet

# A Python warning from the loaders would reach the user as noise on stderr: fail on it.
pytestmark = pytest.mark.filterwarnings("error")

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

EXAMPLE = {
    p.relative_to(REPO).as_posix(): p.read_bytes()
    for p in sorted(
        [
            REPO / "fleet.yaml",
            REPO / "fleet.lock",
            *(REPO / "clusters").glob("*.yaml"),
            *(REPO / "hub").glob("*.yaml"),
        ]
    )
}


def compile_tree(files: dict[str, bytes]):
    """Write ``files`` into a fresh folder and run load + compile (the whole pure pipeline)."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for rel, data in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        diags = Diagnostics()
        result = compile_fleet(load(root / "fleet.yaml", diags))
        result.diagnostics.items[:0] = diags.items
        return result


def assert_every_error_is_located(result, files: dict[str, bytes]) -> None:
    for diag in result.diagnostics:
        assert diag.position is not None, diag.format()
        assert diag.position.file in files or diag.position.file.rstrip("/") in {
            f.split("/")[0] for f in files
        }, diag.format()
        assert diag.position.line >= 1, diag.format()


# -- random text through the YAML reader ----------------------------------------------------

FRAGMENTS = [
    "a", "b", "name", "spec", "kind", ":", ": ", "- ", "  ", "\t", "\n", "\r\n", "\ufeff",
    "[", "]", "{", "}", ",", "&x ", "*x", "&y ", "*y", "<<: ", "!!python/object:os.system ",
    "!!str ", "!tag ", "'", '"', "\\", "#", "---\n", "...\n", "%YAML 1.1\n", "? ", "|", ">",
    "0x1F", "1e999", "-.inf", ".nan", "0o17", "1:20", "9" * 40, "~", "null", "yes", "\x00",
    "\x85", "é", "😀", "\ud800",
]  # fmt: skip


@FUZZ
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=60))
def test_random_yaml_text_never_crashes_the_reader(parts: list[str]):
    text = "".join(parts)
    diags = Diagnostics()
    docs = yamlsource.parse(text, "f.yaml", diags)
    for diag in diags:
        assert diag.position.file == "f.yaml" and diag.position.line >= 1, diag.format()
    for doc in docs:
        assert doc.pos(()).line >= 1


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_decoder(raw: bytes):
    diags = Diagnostics()
    text = yamlsource.decode(raw, "f.yaml", diags)
    if text is None:
        assert diags.errors and diags.errors[0].position.line >= 1
    else:
        yamlsource.parse(text, "f.yaml", diags)
    assert all(d.position.line >= 1 for d in diags), [d.format() for d in diags]


# -- random documents shaped like each input format -----------------------------------------

KEYS = [
    "apiVersion", "kind", "metadata", "name", "namespace", "labels", "annotations", "spec",
    "status", "resources", "inventory", "output", "placements", "resourceSelectors", "group",
    "version", "policy", "placementType", "numberOfClusters", "clusterNames", "affinity",
    "clusterAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "clusterSelectorTerms",
    "labelSelector", "matchLabels", "matchExpressions", "key", "operator", "values",
    "tolerations", "taints", "effect", "value", "state", "properties", "resourceUsage",
    "allocatable", "cpu", "data", "stringData", "sops", "mac", "items", "kubernetesVersion",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "fleetc.io/v1alpha1", "Fleet", "Cluster", "v1", "Namespace", "ConfigMap", "Secret",
            "PickAll", "PickN", "PickFixed", "In", "Exists", "NoSchedule", "eastus", "../x",
            "/etc", "hub/", "clusters/", "rendered/", "a/b", "", "placement.kubernetes-fleet.io/v1",
            "ClusterResourcePlacement", "MemberCluster", "cluster.kubernetes-fleet.io/v1",
        ]
    ),
    st.text(max_size=12),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)
    ),
    max_leaves=25,
)


def _document(kind_values: dict[str, object]):
    """A mapping with the format's apiVersion/kind (mostly right) and random other fields."""
    return st.fixed_dictionaries(
        {k: st.one_of(st.just(v), SCALARS) for k, v in kind_values.items()},
        optional={
            "metadata": st.one_of(
                st.fixed_dictionaries(
                    {"name": st.one_of(st.sampled_from(["a", "b", "x-1"]), SCALARS)},
                    optional={"namespace": SCALARS, "labels": VALUES, "annotations": VALUES},
                ),
                VALUES,
            ),
            "spec": VALUES,
            "status": VALUES,
            "data": VALUES,
            "items": VALUES,
        },
    )


PLACEMENT_API = "placement.kubernetes-fleet.io/v1"


def _dump(data) -> bytes:
    return yaml.safe_dump(data, allow_unicode=True).encode("utf-8")


@FUZZ
@given(
    fleet=_document({"apiVersion": "fleetc.io/v1alpha1", "kind": "Fleet"}),
    clusters=st.lists(
        st.one_of(
            _document({"apiVersion": "fleetc.io/v1alpha1", "kind": "Cluster"}),
            _document({"apiVersion": "cluster.kubernetes-fleet.io/v1", "kind": "MemberCluster"}),
        ),
        max_size=3,
    ),
    hub=st.lists(
        st.one_of(
            _document({"apiVersion": "v1", "kind": "Namespace"}),
            _document({"apiVersion": "v1", "kind": "Secret"}),
            _document({"apiVersion": PLACEMENT_API, "kind": "ClusterResourcePlacement"}),
            VALUES,
        ),
        max_size=4,
    ),
)
def test_random_documents_shaped_like_the_inputs_never_crash(fleet, clusters, hub):
    files = {"fleet.yaml": _dump(fleet)}
    files.update({f"clusters/c{i}.yaml": _dump(c) for i, c in enumerate(clusters)})
    files["hub/all.yaml"] = b"---\n".join(_dump(doc) for doc in hub) if hub else b""
    assert_every_error_is_located(compile_tree(files), files)


# -- mutations of the example ---------------------------------------------------------------

TYPE_SWAPS = [b"[]", b"{}", b"1", b"null", b"true", b'"x"', b"-1.5", b"[a, b]", b"{a: 1}"]


@st.composite
def mutated_example(draw) -> dict[str, bytes]:
    files = dict(EXAMPLE)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        rel = draw(st.sampled_from(sorted(files)))
        data = files[rel]
        kind = draw(st.sampled_from(["flip", "truncate", "delete-line", "swap-type", "dup-line"]))
        lines = data.split(b"\n")
        if kind == "flip" and data:
            at = draw(st.integers(min_value=0, max_value=len(data) - 1))
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
        elif kind == "truncate":
            data = data[: draw(st.integers(min_value=0, max_value=len(data)))]
        elif kind == "delete-line":
            del lines[draw(st.integers(min_value=0, max_value=len(lines) - 1))]
            data = b"\n".join(lines)
        elif kind == "dup-line":
            at = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            lines.insert(at, lines[at])
            data = b"\n".join(lines)
        else:
            candidates = [i for i, line in enumerate(lines) if b": " in line]
            if candidates:
                at = draw(st.sampled_from(candidates))
                head = lines[at].split(b": ", 1)[0]
                lines[at] = head + b": " + draw(st.sampled_from(TYPE_SWAPS))
                data = b"\n".join(lines)
        files[rel] = data
    return files


@FUZZ
@given(mutated_example())
def test_mutations_of_the_example_never_crash(files: dict[str, bytes]):
    assert_every_error_is_located(compile_tree(files), files)
