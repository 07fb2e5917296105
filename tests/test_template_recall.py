"""Renders recalled from the memo (a render's text and steps, by what the template reads), and
texts read once per run: the same output and the same diagnostics as rendering every time."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from builder import ROOT, FleetBuilder, messages
from fleetc.core.diagnostics import Diagnostics
from fleetc.core.inputs import SourceText
from fleetc.core.memo import NO_MEMO, Memo
from fleetc.core.model import Cluster
from fleetc.core.yamlsource import Document
from fleetc.pipeline import Options, Result, compile_fleet
from fleetc.shell.load import load_source
from fleetc.shell.sources import MemorySource
from fleetc.stages import sandbox, templates
from test_templates import FLEET, GOOD

TABLE = templates.MEMO_TABLE


class CountingMemo(Memo):
    """A memo that counts what each table recalled."""

    def __init__(self, tables: dict[str, Any] | None = None) -> None:
        super().__init__(tables)
        self.recalled: Counter[str] = Counter()

    def recall(self, table: str, key: str) -> Any | None:
        value = super().recall(table, key)
        if value is not None:
            self.recalled[table] += 1
        return value


def fleet(template: str = GOOD, east_region: str = "east") -> FleetBuilder:
    built = FleetBuilder()
    built.write("fleet.yaml", FLEET)
    built.write("hub/app.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n")
    built.write("hub/info.yaml.j2", template)
    status = "status:\n  properties:\n    kubernetes-fleet.io/node-count: '4'\n"
    spec = "spec:\n  kubernetesVersion: v1.31.2\n"
    built.cluster("east-1", {"region": east_region}, spec=spec, status=status)
    built.cluster("west-1", {"region": "west"}, spec=spec)
    built.cluster("south-1", {"region": "east"})
    return built


def compile_with(built: FleetBuilder, memo: Memo) -> Result:
    diags = Diagnostics()
    inputs = load_source(MemorySource(built.inputs), ROOT, diags)
    assert not diags.items
    return compile_fleet(inputs, Options(), memo=memo)


def same(first: Result, second: Result) -> bool:
    return first.files == second.files and messages(first) == messages(second)


def remembered(built: FleetBuilder) -> dict[str, Any]:
    memo = Memo()
    compile_with(built, memo)
    return memo.used()


def test_every_render_is_recalled_when_nothing_changed():
    built = fleet()
    earlier = remembered(built)
    assert len(earlier[TABLE]) == 3
    memo = CountingMemo(earlier)
    result = compile_with(built, memo)
    assert memo.recalled[TABLE] == 3
    assert result.ok and same(result, compile_with(built, NO_MEMO))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda b: b.write("hub/info.yaml.j2", GOOD + "  x: y\n"), id="the template"),
        pytest.param(lambda b: b.write("fleet.yaml", FLEET.replace("platform", "p2")), id="values"),
    ],
)
def test_a_change_to_what_every_render_reads_misses_everywhere(change):
    built = fleet()
    earlier = remembered(built)
    change(built)
    memo = CountingMemo(earlier)
    result = compile_with(built, memo)
    assert memo.recalled[TABLE] == 0
    assert same(result, compile_with(built, NO_MEMO))


def test_a_changed_label_misses_for_its_cluster_only():
    built = fleet()
    earlier = remembered(built)
    built.cluster("east-1", {"region": "west"})
    memo = CountingMemo(earlier)
    result = compile_with(built, memo)
    assert memo.recalled[TABLE] == 2
    assert same(result, compile_with(built, NO_MEMO))


def test_renders_with_diagnostics_are_not_kept():
    built = fleet(GOOD + "  zone: {{ cluster.labels.region ~ cluster.properties.nope }}\n")
    assert not remembered(built).get(TABLE)
    half = fleet(GOOD.replace("{{ cluster.labels.region }}", "{{ cluster.labels.region }}x"))
    half.cluster("south-1")  # no region label: an undefined value, on this cluster only
    assert len(remembered(half)[TABLE]) == 2


def test_a_value_of_the_wrong_shape_is_forgotten_and_rendered_again():
    built = fleet()
    earlier = remembered(built)
    spoiled = {TABLE: {key: {"text": 3, "steps": "x"} for key in earlier[TABLE]}}
    memo = CountingMemo(spoiled)
    result = compile_with(built, memo)
    assert same(result, compile_with(built, NO_MEMO))
    assert memo.used() == earlier


def test_a_recalled_render_counts_its_steps(monkeypatch: pytest.MonkeyPatch):
    """The run's step budget sees recalled renders as if they had run again."""
    built = fleet("{% for i in range(300) %}{% endfor %}\n" + GOOD)
    earlier = remembered(built)
    monkeypatch.setattr(sandbox, "MAX_STEPS_PER_RUN", 1000)
    memo = CountingMemo(earlier)
    result = compile_with(built, memo)
    assert memo.recalled[TABLE] >= 1
    assert same(result, compile_with(built, NO_MEMO))
    assert any(
        "the work of all templates in this run (steps) exceeds" in m for m in messages(result)
    )


def test_a_limit_is_part_of_the_key(monkeypatch: pytest.MonkeyPatch):
    built = fleet("{% for i in range(300) %}{% endfor %}\n" + GOOD)
    earlier = remembered(built)
    monkeypatch.setattr(sandbox, "MAX_STEPS", 100)
    memo = CountingMemo(earlier)
    result = compile_with(built, memo)
    assert memo.recalled[TABLE] == 0
    assert any("the work of one render (steps) exceeds" in m for m in messages(result))


def test_a_text_is_read_once_per_run():
    source = SourceText("hub/same.yaml.j2", GOOD.replace("{{ cluster.name }}", "fixed"))
    template = templates.Template(source)
    budget = templates.RunBudget()
    values = {"team": "t", "replicas": {"east": 1}}
    east = [
        Cluster(Document({}, f"clusters/{n}.yaml"), (), name=n, labels={"region": "east"})
        for n in ("a", "b")
    ]
    first, second = (template.render(c, values, budget) for c in east)
    assert not first.errors and first.objects[0] is second.objects[0]
    assert len(template.readings) == 1
