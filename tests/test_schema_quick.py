"""The schemas' quick check (core/schema.py) says "valid" exactly when jsonschema does.

``schema.validate`` trusts the quick check's "valid" and runs jsonschema only for its
diagnostics; the reference here is jsonschema itself, on the examples' and the test cases'
documents and on random mutations of them.
"""

from __future__ import annotations

import copy
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fleetc.core import schema, yamlsource
from fleetc.core.diagnostics import Diagnostics
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent
SPEC = "/$defs/placementSpec"
OVERRIDE_POINTERS = {
    "ClusterResourceOverride": "/$defs/clusterResourceOverrideSpec",
    "ResourceOverride": "/$defs/resourceOverrideSpec",
}
FLEET_SECTIONS = {"loadBalancers": "loadbalancers", "flux": "flux", "services": "services"}


def _documents() -> list[Any]:
    found = []
    for folder in (REPO / "examples", REPO / "tests" / "cases", REPO / "tests" / "golden"):
        for path in sorted(folder.rglob("*.yaml")):
            if {"rendered", "expected"} & set(path.relative_to(folder).parts):
                continue
            docs = yamlsource.parse(path.read_text(encoding="utf-8"), path.name, Diagnostics())
            found += [d.data for d in docs if isinstance(d.data, dict)]
    return found


# No example holds a MemberCluster or spec.flux (nor these invalid ones).
FLUX = [
    {
        "url": "ssh://git@example.com/platform/fleet.git",
        "branch": "release",
        "interval": "5m",
        "secretRef": "fleet-deploy-key",
        "decryption": {"provider": "sops", "secretRef": "sops-age"},
    },
    {"url": "oci://registry.example.com/fleet", "tag": "v1"},
    {"url": "oci://registry.example.com/fleet", "semver": ">=1.0.0", "tag": "v1"},
    {"url": "oci://registry.example.com/fleet", "branch": "main"},
]
MEMBER_CLUSTER = """
apiVersion: cluster.kubernetes-fleet.io/v1
kind: MemberCluster
metadata: {name: m1, labels: {region: east}}
spec:
  identity: {kind: ServiceAccount, name: fleet-member-agent, namespace: fleet-system}
  taints: [{key: gpu, value: "true", effect: NoSchedule}]
status:
  agentStatus:
    - type: MemberAgent
      conditions: [{type: Joined, status: "True"}, {type: Healthy, status: "True"}]
  properties:
    kubernetes-fleet.io/node-count: {value: "4", observationTime: "2024-01-01T00:00:00Z"}
  resourceUsage: {allocatable: {cpu: "8", memory: 32Gi}}
"""


def _seeds() -> list[tuple[str, str, Any]]:
    """(schema name, pointer, instance) for every document of a kind fleetc validates."""
    seeds = []
    member = yamlsource.parse(MEMBER_CLUSTER, "m.yaml", Diagnostics())[0].data
    for data in [*_documents(), member]:
        kind, spec = data.get("kind"), data.get("spec")
        if kind == "Fleet":
            seeds.append(("fleet", "", data))
            for key, name in FLEET_SECTIONS.items():
                if isinstance(spec, dict) and key in spec:
                    seeds.append((name, "", spec[key]))
        elif kind in ("Cluster", "MemberCluster"):
            seeds.append((kind.lower(), "", data))
            if isinstance(spec, dict) and "metallb" in spec:
                seeds.append(("metallb", "", spec["metallb"]))
        elif kind in ("ClusterResourcePlacement", "ResourcePlacement"):
            seeds.append(("placement", SPEC, spec))
            if isinstance(spec, dict) and "policy" in spec:
                seeds.append(("placement", "/$defs/policy", spec["policy"]))
        elif kind in OVERRIDE_POINTERS:
            seeds.append(("overrides", OVERRIDE_POINTERS[kind], spec))
    return seeds + [("flux", "", flux) for flux in FLUX]


SEEDS = _seeds()
SCHEMAS = sorted({(n, p) for n, p, _ in SEEDS})


def _strings(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value).union(*(_strings(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value))
    return {value} if isinstance(value, str) else set()


BOUNDS = ("minimum", "maximum")
LENGTHS = ("minLength", "maxLength", "minItems", "maxItems")


def _schema_words() -> tuple[set[str], set[int], set[int]]:
    """Every property name the schemas know (mutations that add keys hit them), and the
    numbers of their bounds and length limits (mutations put values just inside and outside)."""
    names: set[str] = set()
    bounds: set[int] = set()
    lengths: set[int] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("properties"), dict):
                names.update(node["properties"])
            bounds.update(node[k] for k in BOUNDS if isinstance(node.get(k), int))
            lengths.update(node[k] for k in LENGTHS if isinstance(node.get(k), int))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for uri in schema._registry():
        walk(schema._registry().contents(uri))
    return names, bounds, lengths


_NAMES, _BOUNDS, _LENGTHS = _schema_words()
KEYS = sorted(_NAMES)
BOUNDARY = [
    value
    for limit in sorted(_BOUNDS)
    for n in (limit - 1, limit, limit + 1)
    for value in (n, float(n), n + 0.5)
] + [
    value
    for limit in sorted(_LENGTHS)
    for n in (limit - 1, limit, limit + 1)
    if n >= 0
    for value in ("a" * n, ["a"] * n, [{}] * n)
]
STRINGS = sorted(set().union(*(_strings(s[2]) for s in SEEDS)) | set(KEYS))
SUBTREES = [v for s in SEEDS for v in (s[2].values() if isinstance(s[2], dict) else [])]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(BOUNDARY),
    st.sampled_from([10**30, -(10**30)]),
    st.sampled_from([0.0, 1.0, 1.5, -0.5, 2.0**40, math.inf, -math.inf, math.nan]),
    st.integers(),
    st.sampled_from(STRINGS),
    st.sampled_from(STRINGS).map(str.upper),
    st.sampled_from(STRINGS).map(lambda s: s + "-"),
    st.sampled_from(
        ["", "a", "A", "-a", "a/b", "1.5Gi", "25%", "101%", "30s", "oci://x", "x" * 300]
    ),
    st.text(max_size=20),
)
values = st.recursive(
    st.one_of(scalars, st.sampled_from(SUBTREES)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=3),
    ),
    max_leaves=6,
)


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*path, index))
    return found


def _at(value: Any, path: tuple) -> Any:
    for step in path:
        value = value[step]
    return value


def _nearby(value: Any) -> list[Any]:
    """Values close to ``value``: one step over a limit, the same number as another type, a
    key that breaks a name rule."""
    if isinstance(value, bool):
        return [not value, int(value), str(value).lower(), None]
    if isinstance(value, int | float):
        whole = [int(value)] if math.isfinite(value) else []
        bounds = [b + d for b in _BOUNDS for d in (-1, 0, 1)]
        return [
            value + 1,
            value - 1,
            -value,
            value + 0.5,
            float(value),
            *whole,
            str(value),
            *bounds,
        ]
    sizes = _LENGTHS | {n + 1 for n in _LENGTHS}
    if isinstance(value, str):
        tail = value[-1:] or "a"
        sized = [value[:n] + tail * (n - len(value)) for n in sizes]
        return [value + "-", value[:-1], value.upper(), value + " ", "", *sized]
    if isinstance(value, list):
        sized = [value[:n] + value[-1:] * (n - len(value)) for n in sizes] if value else []
        return [value[:-1], value + value[-1:], [], value * 2, {}, *sized]
    if isinstance(value, dict):
        first = next(iter(value.values()), "x")
        keys = [{**value, key: first} for key in ("extra", "-x", "a b", "", "A" * 70, "x.io/y")]
        return [{}, [value], dict(list(value.items())[:-1]), *keys]
    return ["", 0, False]


def _edit(draw: st.DrawFn, value: Any) -> Any:
    action = draw(st.sampled_from(["nearby", "nearby", "replace", "add", "remove"]))
    if action == "nearby":
        return draw(st.sampled_from(_nearby(value)))
    if action == "add" and isinstance(value, dict):
        key = draw(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)))
        return {**value, key: draw(values)}
    if action == "add" and isinstance(value, list):
        return [*value, draw(st.one_of(values, st.sampled_from(value or [None])))]
    if action == "remove" and isinstance(value, dict | list) and value:
        index = draw(st.integers(0, len(value) - 1))
        if isinstance(value, list):
            return value[:index] + value[index + 1 :]
        return {k: v for i, (k, v) in enumerate(value.items()) if i != index}
    return draw(values)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str, Any]:
    """A seed with a few random edits: a value replaced by a nearby or any other value, a key
    or item added or removed."""
    name, pointer = draw(st.sampled_from(SCHEMAS))
    doc = copy.deepcopy(
        draw(st.sampled_from([s for n, p, s in SEEDS if (n, p) == (name, pointer)]))
    )
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        new = copy.deepcopy(_edit(draw, _at(doc, path)))
        if path:
            _at(doc, path[:-1])[path[-1]] = new
        else:
            doc = new
    return name, pointer, doc


def _reference(name: str, pointer: str, instance: Any) -> bool:
    uri = schema._uri(name, pointer)
    return jsonschema.Draft202012Validator({"$ref": uri}, registry=schema._registry()).is_valid(
        instance
    )


def test_the_seeds_cover_every_validated_schema_and_agree():
    valid = set()
    for name, pointer, instance in SEEDS:
        expected = _reference(name, pointer, instance)
        assert schema._quick_check(name, pointer)(instance) == expected, (name, pointer, instance)
        if expected:
            valid.add((name, pointer))
    assert valid >= {
        ("fleet", ""),
        ("cluster", ""),
        ("membercluster", ""),
        ("metallb", ""),
        ("placement", SPEC),
        *(("overrides", p) for p in OVERRIDE_POINTERS.values()),
        *((name, "") for name in FLEET_SECTIONS.values()),
    }


def _neighbours(seed: Any) -> Iterator[Any]:
    """Every copy of ``seed`` with one value replaced by one of its ``_nearby`` values."""
    for path in _paths(seed):
        for value in _nearby(_at(seed, path)):
            if not path:
                yield value
                continue
            doc = copy.deepcopy(seed)
            _at(doc, path[:-1])[path[-1]] = value
            yield doc


@pytest.mark.parametrize(("name", "pointer"), SCHEMAS)
def test_the_quick_check_agrees_on_every_one_step_edit(name: str, pointer: str):
    """A large seed of each schema (at most 40 values), edited one value at a time
    (hypothesis below combines edits at random)."""
    sizes = [(len(_paths(s)), i) for i, (n, p, s) in enumerate(SEEDS) if (n, p) == (name, pointer)]
    chosen = [SEEDS[i][2] for size, i in sorted(sizes, reverse=True) if size <= 40][:1]
    quick = schema._quick_check(name, pointer)
    for seed in chosen:
        for doc in _neighbours(seed):
            assert quick(doc) == _reference(name, pointer, doc), doc


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_the_quick_check_agrees_with_jsonschema(case: tuple[str, str, Any]):
    name, pointer, instance = case
    assert schema._quick_check(name, pointer)(instance) == _reference(name, pointer, instance)


@pytest.mark.parametrize(
    ("fragment", "reason"),
    [
        ({"format": "ipv4"}, "format"),
        ({"ref": "#"}, "ref"),  # not a keyword: jsonschema ignores it, so it needs a look
        ({"$anchor": "a"}, "anchor"),
        ({"patternProperties": {"^a": True}}, "patternProperties"),
        ({"enum": [1, True]}, "enum"),
        ({"unevaluatedProperties": {"type": "string"}}, "unevaluatedProperties"),
        ({"allOf": [{"properties": {"a": True}}], "unevaluatedProperties": False}, "vary"),
        ({"$schema": "http://json-schema.org/draft-07/schema#"}, "another draft"),
    ],
)
def test_keywords_without_a_quick_check_are_left_to_jsonschema(fragment, reason):
    resolver = schema._registry().resolver()
    with pytest.raises(schema._Unsupported, match=reason):
        schema._Compiler().schema({"type": "object", **fragment}, resolver)


def test_a_valid_document_does_not_run_jsonschema(monkeypatch):
    """The quick check answers alone; jsonschema runs for an invalid document's diagnostics."""
    data = next(s[2] for s in SEEDS if s[0] == "cluster")
    doc = yamlsource.Document(data, "c.yaml")
    monkeypatch.setattr(schema, "validator", None)  # calling it would fail
    assert schema.validate(doc, "cluster", Diagnostics())
    monkeypatch.undo()
    bad = yamlsource.Document({**data, "kind": "Klaster"}, "c.yaml")
    diags = Diagnostics()
    assert not schema.validate(bad, "cluster", diags)
    assert [d.message for d in diags.items] == [
        '"Klaster" is not allowed here; expected one of: "Cluster"'
    ]


def test_compiling_a_valid_fleet_never_loads_jsonschema():
    """jsonschema costs a tenth of a second to import: compiling a valid fleet gets by with the
    quick checks and never loads it (checking hub objects against Kubernetes' own schemas, a
    shell step after the compile, does)."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from fleetc.pipeline import Options\n"
        "from fleetc.shell.compile import compile_file\n"
        "for example in sys.argv[1:]:\n"
        "    result = compile_file(Path(example) / 'fleet.yaml', Options()).result\n"
        "    assert result.ok, [d.message for d in result.diagnostics.items]\n"
        "print(sorted(m for m in ('jsonschema', 'kubernetes_validate') if m in sys.modules))\n"
    )
    examples = sorted(str(p.parent) for p in (REPO / "examples").glob("*/fleet.yaml"))
    done = subprocess.run(
        [sys.executable, "-c", script, *examples], capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines()[-1] == "[]", done.stderr
