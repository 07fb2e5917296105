"""Fuzzing the loaders and validators: whatever a pull request holds, fleetc answers with
diagnostics that name a file and a line, never with a traceback."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from fleetc.core import yamlsource
from fleetc.core.diagnostics import Diagnostics
from fleetc.pipeline import compile_fleet
from fleetc.shell.load import load
from fleetc.views import diff, diff_format, status
from fleetc.views import explain as provenance
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# A Python warning from the loaders would reach the user as noise on stderr: fail on it. Not
# on the one hypothesis's own report of a failure raises (libcst importing mypy_extensions):
# as an error it would hide the failing example behind an internal error of pytest.
pytestmark = [
    pytest.mark.filterwarnings("error"),
    pytest.mark.filterwarnings("ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"),
]

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _repository(root: Path) -> dict[str, bytes]:
    """The input files of one example repository (templates, fleet.lock and the snapshot store
    of staged rollouts included)."""
    found = [root / "fleet.yaml", root / "fleet.lock", *root.glob("clusters/*.yaml")]
    found += [*root.glob("hub/**/*.yaml"), *root.glob("hub/**/*.yaml.j2")]
    found += root.glob("fleet.snapshots/*.yaml")
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(found) if p.is_file()}


EXAMPLE = _repository(REPO)
# Every example: their valid sections (services, MetalLB, Flux, overrides, templates...) are
# what mutations need to reach the later stages.
EXAMPLES = {
    "kuard": EXAMPLE,
    **{p.name: _repository(p) for p in sorted((REPO / "examples").iterdir()) if p.is_dir()},
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
        # A template's output has no line of its template (the error names the output line).
        assert diag.position.line >= 1 or diag.position.file.endswith(".j2"), diag.format()


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
    files = dict(EXAMPLES[draw(st.sampled_from(sorted(EXAMPLES)))])
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


# -- the sections added after the spine: overrides, values, services, load balancers, Flux,
# MetalLB and multi-cluster inventory fields, override and envelope documents, templates --------

SCHEMAS = REPO / "schemas"


def _schema_words() -> tuple[list[str], list[str]]:
    """Every property name, and every enum or const string, of fleetc's schemas."""
    keys: set[str] = set()
    words: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            keys.update(
                node.get("properties", {}) if isinstance(node.get("properties"), dict) else {}
            )
            words.update(v for v in node.get("enum", []) if isinstance(v, str))
            if isinstance(node.get("const"), str):
                words.add(node["const"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted(SCHEMAS.glob("*.json")):
        walk(json.loads(path.read_text()))
    return sorted(keys), sorted(words)


SCHEMA_KEYS, SCHEMA_WORDS = _schema_words()
ADDRESSES = [
    "10.0.0.0/24", "10.0.0.1", "10.0.0.5-10.0.0.9", "10.0.0.9-10.0.0.5", "10.0.0.1/24",
    "fd00::/120", "fd00::1-10.0.0.1", "::", "0.0.0.0/0", "256.1.1.1", "10.0.0.0/33", "-", "/",
    "64512", "90s", "1h", "${MEMBER-CLUSTER-NAME}", "${MEMBER-CLUSTER-LABEL-KEY-env}",
    "/metadata/labels/x", "/spec/replicas", "/metadata/name", "/kind", "/status", "/a/-",
    "/data/x~1y", "add", "remove", "replace", "Delete", "JSONPatch", "metallb", "c1", "app",
]  # fmt: skip
SHAPED_SCALARS = st.one_of(SCALARS, st.sampled_from(SCHEMA_WORDS), st.sampled_from(ADDRESSES))
SHAPED = st.recursive(
    SHAPED_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(SCHEMA_KEYS), inner, max_size=5),
    ),
    max_leaves=30,
)
SHAPED_ITEMS = st.one_of(
    st.lists(st.dictionaries(st.sampled_from(SCHEMA_KEYS), SHAPED, max_size=6), max_size=3),
    SHAPED,
)
FLEET_SECTIONS = ["overrides", "values", "services", "loadBalancers", "flux"]
CLUSTER_SECTIONS = ["metallb", "multicluster"]

BASE_FLEET = {
    "apiVersion": "fleetc.io/v1alpha1",
    "kind": "Fleet",
    "metadata": {"name": "fuzz"},
    "spec": {
        "placements": [
            {
                "name": "app",
                "resourceSelectors": [{"group": "", "version": "v1", "kind": "Namespace",
                                       "name": "app"}],
                "policy": {"placementType": "PickAll"},
            }
        ]
    },
}  # fmt: skip
ENVELOPE_AND_OVERRIDE_KINDS = [
    "ClusterResourceOverride", "ResourceOverride", "ClusterResourceEnvelope", "ResourceEnvelope",
]  # fmt: skip
JINJA = [
    "{{ cluster.name }}", "{{ values }}", "{{ values.x }}", "{{ cluster.labels.env }}",
    "{% for i in range(3) %}", "{% endfor %}", "{% if cluster %}", "{% endif %}", "{{", "}}",
    "{%", "%}", "{# c #}", "{{ ''.__class__ }}", "{{ cycler.__init__.__globals__ }}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "{{ 9 ** 9 ** 9 }}", "{{ 'x' * 99 }}",
    "{{ lipsum() }}", "{% include 'a' %}", "{{ cluster.properties }}", "{{ x | tojson }}",
    "apiVersion: v1\n", "kind: Secret\n", "kind: ConfigMap\n", "metadata:\n",
    "  name: a\n", "  namespace: app\n", "data:\n", "  k: v\n", "stringData: {a: b}\n",
    "---\n", "items: []\n", "kind: List\n", "\n", " ", ":", "- ",
]  # fmt: skip


def _hub_document(kind: str):
    return st.fixed_dictionaries(
        {
            "apiVersion": st.one_of(
                st.just("placement.kubernetes-fleet.io/v1beta1"),
                st.just("placement.kubernetes-fleet.io/v1alpha1"),
                SHAPED_SCALARS,
            ),
            "kind": st.just(kind),
            "metadata": st.one_of(
                st.fixed_dictionaries(
                    {"name": st.sampled_from(["a", "b"])},
                    optional={"namespace": st.sampled_from(["app", "", "x"])},
                ),
                SHAPED,
            ),
        },
        optional={"spec": SHAPED_ITEMS, "data": st.one_of(
            st.dictionaries(st.sampled_from(["a.yaml", "b"]), st.one_of(VALUES, SHAPED)), SHAPED
        )},
    )  # fmt: skip


@FUZZ
@given(
    sections=st.dictionaries(st.sampled_from(FLEET_SECTIONS), SHAPED_ITEMS, min_size=1),
    cluster_specs=st.lists(
        st.dictionaries(st.sampled_from(CLUSTER_SECTIONS), SHAPED, max_size=2), max_size=3
    ),
    hub=st.lists(st.sampled_from(ENVELOPE_AND_OVERRIDE_KINDS).flatmap(_hub_document), max_size=3),
    template=st.none() | st.lists(st.sampled_from(JINJA + FRAGMENTS[:20]), max_size=30),
)
def test_random_new_sections_never_crash(sections, cluster_specs, hub, template):
    fleet = {**BASE_FLEET, "spec": {**BASE_FLEET["spec"], **sections}}
    files = {"fleet.yaml": _dump(fleet)}
    for i, spec in enumerate(cluster_specs):
        cluster = {"apiVersion": "fleetc.io/v1alpha1", "kind": "Cluster",
                   "metadata": {"name": f"c{i}", "labels": {"env": "prod"}}, "spec": spec}  # fmt: skip
        files[f"clusters/c{i}.yaml"] = _dump(cluster)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}
    files["hub/all.yaml"] = b"---\n".join(_dump(doc) for doc in [namespace, *hub])
    if template is not None:
        files["hub/t.yaml.j2"] = "".join(template).encode("utf-8", "surrogatepass")
    assert_every_error_is_located(compile_tree(files), files)


# -- fleet.lock arrives by pull request too ---------------------------------------------------

LOCKED = {name: files for name, files in EXAMPLES.items() if "fleet.lock" in files}
LOCK_SECTIONS = ["placements", "addresses"]


@FUZZ
@given(
    example=st.sampled_from(sorted(LOCKED)),
    replaced=st.dictionaries(
        st.sampled_from(LOCK_SECTIONS),
        st.one_of(
            VALUES,
            SHAPED,
            # Shaped like each section, with random leaves.
            st.dictionaries(st.sampled_from(["c1", "east-1", "kuard-demo", "app"]), SHAPED),
            st.dictionaries(
                st.sampled_from(["east-1", "west-1", "arc-local-1", "aks-member-1"]),
                st.dictionaries(
                    st.sampled_from(["ingress", "apps", "lb1"]),
                    st.lists(SHAPED_SCALARS, max_size=3) | SHAPED_SCALARS,
                ),
            ),
        ),
        min_size=1,
    ),
)
def test_random_fleet_lock_sections_never_crash(example, replaced):
    files = dict(LOCKED[example])
    data = yaml.safe_load(files["fleet.lock"])
    data.update(replaced)
    files["fleet.lock"] = _dump(data)
    assert_every_error_is_located(compile_tree(files), files)


# -- tree mutations: one value of an example replaced, so most of it stays valid and the later
# stages (overrides, templates, services, MetalLB, Flux, fleet.lock) see it -----------------


def _paths(node: object, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside ``node``."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _get(node: object, path: tuple) -> object:
    for part in path:
        node = node[part]  # type: ignore[index]
    return node


def _replace(node: object, path: tuple, value: object, delete: bool) -> object:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        copy = dict(node)
        if delete and not rest:
            del copy[head]
        else:
            copy[head] = _replace(node[head], rest, value, delete)
        return copy
    copy_list = list(node)  # type: ignore[call-overload]
    if delete and not rest:
        del copy_list[head]
    else:
        copy_list[head] = _replace(copy_list[head], rest, value, delete)
    return copy_list


@st.composite
def tree_mutated_example(draw, name: str) -> dict[str, bytes]:
    files = dict(EXAMPLES[name])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        rel = draw(st.sampled_from(sorted(f for f in files if not f.endswith(".j2"))))
        docs = list(yaml.safe_load_all(files[rel]))
        if not docs:
            continue
        index = draw(st.integers(min_value=0, max_value=len(docs) - 1))
        paths = _paths(docs[index])
        path = draw(st.sampled_from(paths))
        # Mostly a value from elsewhere in the same file: plausible types reach deeper stages.
        elsewhere = [_get(docs[index], p) for p in paths]
        value = draw(
            st.one_of(
                st.sampled_from(elsewhere),
                st.sampled_from(elsewhere),
                SHAPED_SCALARS,
                SHAPED,
                st.sampled_from([[], {}, None]),
            )
        )
        docs[index] = _replace(docs[index], path, value, delete=bool(path) and draw(st.booleans()))
        files[rel] = b"---\n".join(_dump(doc) for doc in docs)
    return files


_BASELINES: dict[str, object] = {}


def _baseline(name: str):
    """The unmutated example's result, compiled once (the base of the diff below)."""
    if name not in _BASELINES:
        _BASELINES[name] = compile_tree(EXAMPLES[name])
    return _BASELINES[name]


def exercise_reports(result, base) -> None:
    """What users run on a valid fleet: status, explain (placements and objects), diff."""
    comp = result.compilation
    for placement in comp.fleet.placements:
        status.explain_text(status.explain(comp, placement.name))
    status.status_text(status.status(comp))
    for cluster, placed in comp.clusters.items():
        for key in sorted(placed)[:5]:
            found = provenance.trace(comp, cluster, key)
            assert not isinstance(found, str), found
            provenance.format_trace(found)
    if base.ok:
        compared = diff.compare(base.compilation, comp, "base", "head")
        for form in diff_format.FORMATS.values():
            form(compared)
        diff.compare_files(base.files, result.files)


@FUZZ
@given(st.sampled_from(sorted(EXAMPLES)).flatmap(lambda name: st.tuples(
    st.just(name), tree_mutated_example(name))))  # fmt: skip
def test_tree_mutations_of_the_examples_never_crash(case: tuple[str, dict[str, bytes]]):
    name, files = case
    result = compile_tree(files)
    assert_every_error_is_located(result, files)
    if result.ok:
        exercise_reports(result, _baseline(name))


# -- hub objects that generators read back: MetalLB objects placed next to fleetc's own -------

METALLB_KINDS = [
    ("metallb.io/v1beta1", "IPAddressPool"), ("metallb.io/v1beta1", "L2Advertisement"),
    ("metallb.io/v1beta1", "BGPAdvertisement"), ("metallb.io/v1beta2", "BGPPeer"),
    ("metallb.io/v1beta1", "Community"), ("metallb.io/v1beta1", "BFDProfile"),
]  # fmt: skip
METALLB_NAMESPACES = ["metallb-system", "kube-system", "fuzz"]
METALLB_EXAMPLES = sorted(n for n, f in EXAMPLES.items() if b"loadBalancers" in f["fleet.yaml"])


@st.composite
def metallb_object(draw) -> dict:
    api_version, kind = draw(st.sampled_from(METALLB_KINDS))
    spec = draw(
        st.one_of(
            SHAPED,
            st.fixed_dictionaries(
                {"addresses": st.one_of(st.lists(st.sampled_from(ADDRESSES), max_size=3), SHAPED)}
            ),
        )
    )
    metadata = {"name": draw(st.sampled_from(["lb1", "apps", "tor", "x"])),
                "namespace": draw(st.sampled_from(METALLB_NAMESPACES))}  # fmt: skip
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec}


@FUZZ
@given(example=st.sampled_from(METALLB_EXAMPLES), objects=st.lists(metallb_object(), max_size=4))
def test_random_metallb_objects_placed_on_metallb_clusters_never_crash(example, objects):
    files = dict(EXAMPLES[example])
    fleet = yaml.safe_load(files["fleet.yaml"])
    selectors = [{"group": "", "version": "v1", "kind": "Namespace", "name": name}
                 for name in METALLB_NAMESPACES]  # fmt: skip
    fleet["spec"].setdefault("placements", []).append(
        {"name": "fuzz", "resourceSelectors": selectors, "policy": {"placementType": "PickAll"}}
    )
    files["fleet.yaml"] = _dump(fleet)
    namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
                  for name in METALLB_NAMESPACES]  # fmt: skip
    files["hub/fuzz.yaml"] = b"---\n".join(_dump(doc) for doc in [*namespaces, *objects])
    assert_every_error_is_located(compile_tree(files), files)
