"""A template renders once per cluster, so its work limits hold for the whole run, not per
render: a small template cannot multiply an alias bomb or its output by the inventory."""

from __future__ import annotations

import pytest
from fleetc.stages import emit, templates
from security_fleet import messages, write_fleet

CLUSTERS = tuple(f"c{i}" for i in range(10))


def bomb(nodes_per_level: int = 10, levels: int = 5) -> str:
    """A ConfigMap whose aliases expand to ~nodes_per_level**levels nodes (under the
    per-document limit, far over the per-run one once rendered for ten clusters)."""
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: bomb, namespace: app}", "x:"]
    lines.append("  l0: &l0 [" + ", ".join(["a"] * nodes_per_level) + "]")
    for level in range(1, levels):
        refs = ", ".join([f"*l{level - 1}"] * nodes_per_level)
        lines.append(f"  l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_aliases_in_template_output_share_the_run_budget(memory_fleet):
    write_fleet(memory_fleet, clusters=CLUSTERS)
    memory_fleet.write("hub/bomb.yaml.j2", bomb(levels=5))
    result = memory_fleet.compile()
    found = [m for m in messages(result) if "aliases expand to more than" in m]
    assert found and all(m.startswith("hub/bomb.yaml.j2") for m in found), messages(result)
    assert not result.files


def test_template_output_is_limited_over_all_clusters(
    memory_fleet, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(templates, "MAX_OUTPUT_PER_RUN", 1000)
    write_fleet(memory_fleet, clusters=CLUSTERS)
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big, namespace: app}\n"
    memory_fleet.write("hub/big.yaml.j2", text + "data: {a: '" + "x" * 150 + "'}\n")
    result = memory_fleet.compile()
    found = [m for m in messages(result) if "templates write more than 1000 characters" in m]
    assert found and all(m.startswith("hub/big.yaml.j2") for m in found), messages(result)
    assert not result.files


def test_a_template_under_the_limits_renders_on_every_cluster(memory_fleet):
    write_fleet(memory_fleet, clusters=CLUSTERS)
    memory_fleet.write("hub/small.yaml.j2", bomb(nodes_per_level=5, levels=3))
    result = memory_fleet.compile()
    assert result.ok, messages(result)
    assert all(f"{c}/app/configmap_bomb.yaml" in result.files for c in CLUSTERS)


CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: NAME, namespace: app}\n"


@pytest.mark.parametrize(
    ("limit", "value"), [("MAX_TEMPLATE_CHARS", 100), ("MAX_TEMPLATE_CHARS_PER_RUN", 150)]
)
def test_template_sources_are_limited_before_jinja_compiles_them(
    memory_fleet, monkeypatch: pytest.MonkeyPatch, limit: str, value: int
):
    """Compiling costs far more than the text: a 2 MiB template took 30 s and 1.4 GB."""
    monkeypatch.setattr(templates, limit, value)
    write_fleet(memory_fleet)
    memory_fleet.write("hub/a.yaml.j2", CONFIGMAP.replace("NAME", "a"))  # 72 characters
    memory_fleet.write(
        "hub/b.yaml.j2", CONFIGMAP.replace("NAME", "b") + "data: {k: '" + "x" * 40 + "'}\n"
    )
    result = memory_fleet.compile()
    assert [m.split(":")[0] for m in messages(result)] == ["hub/b.yaml.j2"], messages(result)
    assert "template is too large" in messages(result)[0]


def _big_configmap(memory_fleet, clusters: tuple[str, ...], size: int) -> None:
    write_fleet(memory_fleet, clusters=clusters)
    memory_fleet.write(
        "hub/big.yaml", CONFIGMAP.replace("NAME", "big") + "data: {a: '" + "x" * size + "'}\n"
    )


def test_total_output_is_limited(memory_fleet, monkeypatch: pytest.MonkeyPatch):
    # Issue 13 (20): a 1 MiB ConfigMap on 400 clusters wrote 411 MB. Here: 200 KB on 12
    # clusters against a 2 MiB budget.
    monkeypatch.setattr(emit, "MAX_OUTPUT_BYTES", 2 * 1024 * 1024)
    _big_configmap(memory_fleet, tuple(f"c{i:02d}" for i in range(12)), 200_000)
    result = memory_fleet.compile()
    found = [m for m in messages(result) if "the output would exceed 2 MiB" in m]
    assert found and found[0].startswith("hub/big.yaml"), messages(result)
    assert not result.files


def test_output_under_the_budget_is_written(memory_fleet, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(emit, "MAX_OUTPUT_BYTES", 2 * 1024 * 1024)
    _big_configmap(memory_fleet, tuple(f"c{i:02d}" for i in range(8)), 200_000)
    result = memory_fleet.compile()
    assert result.ok, messages(result)
    assert sum(len(data) for data in result.files.values()) > 1_600_000


def test_the_output_budget_fits_the_largest_benchmark_fleet():
    # benchmarks/fleetgen.py writes about 15 KB per cluster (200 clusters: 3.0 MB in 9,285
    # files): the 10,000-cluster fleet needs about 150 MB; 1 MiB on 400 clusters does not fit.
    assert 10_000 * 15_100 < emit.MAX_OUTPUT_BYTES < 400 * 1024 * 1024
