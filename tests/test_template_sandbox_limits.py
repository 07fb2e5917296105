"""The template sandbox bounds memory and work by expanded size and by a step budget, writes
data only (no object representations) and lets nothing undefined through, inside containers
too (issue 13, findings 2, 15 and 19)."""

from __future__ import annotations

import pytest
from fleetc.stages import sandbox
from test_security_yaml import no_hang
from test_templates import GOOD, errors, make_fleet

BIG = "{% set s = 'x' * 1000000 %}"

BOMBS = {
    # The examples (52 s and 5.8 GB, 1.9 GB, 2.7 GB, hours on the old main).
    "tojson indent": "{{ (range(3000) | list) | tojson(indent=1000000) }}",
    "nested list to string": BIG + "{{ ([[s]] * 2000) | string }}",
    "chained indent": "{% set s = 'x\\n' * 300000 %}"
    "{{ (s | indent(100) | indent(100) | indent(100)) | length }}",
    "repeated tojson": "{% set l = range(10000) | list %}"
    "{% for i in range(10000) %}{% set j = l | tojson %}{% endfor %}",
    # The same growth by other routes.
    "nested list doubling": BIG + "{% set a = [s, s] %}{% set b = [a, a] %}"
    "{{ b | string | length }}",
    "nested list concat": BIG + "{% set a = [[s]] %}{{ (a + a) | length }}",
    "macro doubling data": "{% macro f(x, n) %}{% if n %}{{ f([x, x], n - 1) }}"
    "{% else %}{{ x | length }}{% endif %}{% endmacro %}{{ f('y', 40) }}",
    "tojson of shared parts": BIG + "{{ [s, s] | tojson | length }}",
    "join of nested lists": BIG + "{{ [[s], [s]] | join(',') | length }}",
    "sum of lists": BIG + "{% set a = [s] %}{{ [a, a, a] | sum(start=[]) | length }}",
    "many small steps": "{% for i in range(100000) %}{% set j = 'y' * 200 %}{% endfor %}",
}


@pytest.mark.parametrize("bomb", sorted(BOMBS), ids=sorted(BOMBS))
def test_resource_bombs_are_quick_diagnostics(fleet_dir, bomb):
    with no_hang():
        result = make_fleet(fleet_dir, BOMBS[bomb] + "\n" + GOOD)
    messages = errors(result)
    assert messages and not result.files, bomb
    assert all(
        m.startswith("hub/info.yaml.j2:1:1: error: template security error") for m in messages
    )
    assert all("exceeds the template limit" in m for m in messages), messages


def test_the_step_budget_is_shared_by_every_render_of_a_run(fleet_dir, monkeypatch):
    """Each render alone is within its budget; the three clusters together are not."""
    template = "{% for i in range(300) %}{% endfor %}\n" + GOOD
    assert make_fleet(fleet_dir, template).ok
    monkeypatch.setattr(sandbox, "MAX_STEPS_PER_RUN", 1000)
    messages = errors(make_fleet(fleet_dir, template))
    assert any("the work of all templates in this run (steps) exceeds" in m for m in messages)


def test_the_step_budget_of_one_render(fleet_dir, monkeypatch):
    monkeypatch.setattr(sandbox, "MAX_STEPS", 100)
    messages = errors(make_fleet(fleet_dir, "{% for i in range(300) %}{% endfor %}\n" + GOOD))
    assert any(
        "the work of one render (steps) exceeds the template limit of 100" in m for m in messages
    )


OBJECTS = {
    "bound method": "{{ cluster.name.upper }}",
    "cycler": "{{ cycler(1, 2) }}",
    "range": "{{ range }}",
    "joiner": "{{ joiner() }}",
    "cycler class": "{{ cycler }}",
    "loop": "{% for i in [1] %}{{ loop }}{% endfor %}",
    "inside a list": "{{ [cycler(1, 2)] }}",
    "inside a mapping key": "{{ {joiner(): 1} }}",
    "concatenated": "{{ 'a' ~ cluster.name.upper }}",
    "string filter": "{{ range | string }}",
    "upper filter": "{{ joiner() | upper }}",
    "tojson": "{{ [cycler(1, 2)] | tojson }}",
    "join": "{{ [joiner()] | join(',') }}",
    "generator": "{{ ['a'] | map('upper') }}",
    "dict view": "{{ values.replicas.keys() }}",
}


@pytest.mark.parametrize("case", sorted(OBJECTS), ids=sorted(OBJECTS))
def test_templates_write_data_only(fleet_dir, case):
    result = make_fleet(fleet_dir, OBJECTS[case] + "\n" + GOOD)
    messages = errors(result)
    assert messages and not result.files
    assert all("templates write data only" in m for m in messages), messages
    for leak in ("0x", " at ", "TemplateSandbox", "Cycler", "Joiner", "jinja2", "<"):
        assert not any(leak in m for m in messages), (leak, messages)


def test_data_is_still_written(fleet_dir):
    template = GOOD + (
        "  list: \"{{ [1, 'a', none, true, 1.5, {'k': ['v']}] }}\"\n"
        '  range: "{{ range(3) | list }}"\n'
        "  json: '{{ {'b': [1, 2], 'a': '<x>'} | tojson(2) | replace('\\n', ' ') }}'\n"
        "  upper: \"{{ ['a'] | map('upper') | join }}\"\n"
    )
    result = make_fleet(fleet_dir, template)
    assert result.ok, errors(result)
    from test_templates import CONFIGMAP

    data = result.compilation.clusters["east-1"][CONFIGMAP].body["data"]
    assert data["list"] == "[1, 'a', None, True, 1.5, {'k': ['v']}]"
    assert data["range"] == "[0, 1, 2]"
    assert data["json"] == '{   "a": "\\u003cx\\u003e",   "b": [     1,     2   ] }'
    assert data["upper"] == "A"


UNDEFINED = {
    "in a list": "{{ [nope] }}",
    "in a mapping": "{{ {'a': nope} }}",
    "in a tuple": "{{ ('a', nope) }}",
    "nested": "{{ [[{'a': [nope]}]] }}",
    "string filter": "{{ [nope] | string }}",
    "tojson": "{{ [nope] | tojson }}",
    "join": "{{ [[nope]] | join(',') }}",
    "concatenated": "{{ 'a' ~ [nope] }}",
    "missing label in a list": "{{ [cluster.labels.nope] }}",
}


@pytest.mark.parametrize("case", sorted(UNDEFINED), ids=sorted(UNDEFINED))
def test_undefined_values_inside_containers_fail(fleet_dir, case):
    result = make_fleet(fleet_dir, UNDEFINED[case] + "\n" + GOOD)
    messages = errors(result)
    assert messages and not result.files, case
    assert all("is undefined" in m or "has no attribute" in m for m in messages), messages
    assert not any("[Undefined]" in m for m in messages)
