"""``fleetc report``: one self-contained HTML page, opened in a real headless Chromium.

The page is checked against the same compile's ``status``/``explain`` data, the rendered folder
and ``diff --format json``; the browser tests skip (and say why) where no Chromium is installed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import browser
import pytest
from browser import needs_browser
from conftest import REPO, FleetDir, run
from fleetc.shell import html_report
from fleetc.views import report as report_view
from fleetc.views import status as status_view
from fleetc.views.status import readable
from gitrepo import demo_fleet
from ninefleet import CLUSTERS, labels, nine_cluster_fleet, pick_n, preferred, render, write_cluster

EXAMPLES = REPO / "examples"


def _report(cli, folder: Path, out: Path, *args: str) -> Path:
    result = run(cli, "report", "-f", str(folder), "--out", str(out), *args)
    assert result.exit_code == 0, result.output
    # Warnings (on stderr) come first.
    assert result.output.splitlines()[-1].startswith(f"wrote {out} (")
    return out


def _status(cli, folder: Path) -> dict:
    result = run(cli, "status", "-f", str(folder), "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _pick_n_fleet(fleet_dir: FleetDir) -> FleetDir:
    """The nine-cluster fleet with a PickN of 3 that prefers the east: every verdict occurs."""
    return nine_cluster_fleet(fleet_dir, pick_n(3, affinity=preferred((50, labels(region="east")))))


def _kept_fleet(fleet_dir: FleetDir) -> FleetDir:
    """cluster-01 kept only by fleet.lock: its env changed after a render picked it."""
    prod = {"matchLabels": {"env": "prod"}}
    terms = {"clusterSelectorTerms": [{"labelSelector": prod}]}
    policy = {
        "affinity": {"clusterAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": terms}}
    }
    render(nine_cluster_fleet(fleet_dir, policy))
    write_cluster(fleet_dir, "cluster-01", {**CLUSTERS["cluster-01"], "env": "staging"})
    render(fleet_dir)
    return fleet_dir


def _evicted_fleet(fleet_dir: FleetDir) -> FleetDir:
    """The kept cluster-01, then evicted: not picked again."""
    _kept_fleet(fleet_dir)
    fleet_dir.write(
        "hub/evictions.yaml",
        "apiVersion: placement.kubernetes-fleet.io/v1beta1\n"
        "kind: ClusterResourcePlacementEviction\n"
        "metadata:\n  name: move-01\n"
        "spec:\n  placementName: app\n  clusterName: cluster-01\n",
    )
    return fleet_dir


# -- without a browser ----------------------------------------------------------------------


def test_same_inputs_same_bytes(cli, tmp_path):
    first = _report(cli, REPO, tmp_path / "a.html").read_bytes()
    second = _report(cli, REPO, tmp_path / "b.html").read_bytes()
    assert first == second


def test_the_page_refers_to_nothing_outside_itself(cli, tmp_path):
    page = _report(cli, REPO, tmp_path / "r.html").read_text()
    assert "default-src 'none'" in page  # the browser refuses any load, should one slip in
    assert not re.search(r"""\b(src|href)\s*=""", page)
    assert "@import" not in page and "url(" not in page


def test_data_in_the_page_cannot_close_its_script_element():
    data = {"fleet": "</script><script>alert(1)</script>", "x": "a & b"}
    page = html_report.page(data).decode()
    assert page.count("</script>") == 2  # the data's and the code's own
    assert "fleetc report: &lt;/script&gt;" in page


def test_cells_are_the_verdicts_of_status(cli, fleet_dir):
    _pick_n_fleet(fleet_dir)
    comp = fleet_dir.compile().compilation
    data = report_view.build(comp)
    codes = {s["key"]: s["code"] for s in data["states"]}
    names = [c["name"] for c in data["clusters"]]
    for item, column in zip(
        _status(cli, fleet_dir.root)["placements"], data["placements"], strict=True
    ):
        for d in item["decisions"]:
            i = names.index(d["cluster"])
            assert column["cells"][i] == codes[d["verdict"]]
            filter_name, text, _evicted_by, _kept, _runs = data["reasons"][column["reasons"][i]]
            assert filter_name == d["filter"]
            shown = text.replace(data["reasonCluster"], f'"{d["cluster"]}"')
            assert shown == readable(d["reason"])  # as explain prints it


def test_an_evicted_cluster_not_picked_again_is_an_evicted_cell(fleet_dir):
    comp = _evicted_fleet(fleet_dir).compile().compilation
    data = report_view.build(comp)
    (column,) = data["placements"]
    names = [c["name"] for c in data["clusters"]]
    codes = {s["key"]: s["code"] for s in data["states"]}
    assert column["cells"][names.index("cluster-01")] == codes["evicted"]
    assert data["reasons"][column["reasons"][names.index("cluster-01")]][2] == "move-01"
    # The other clusters keep their verdicts.
    assert column["cells"][names.index("cluster-02")] == codes["selected"]


def test_a_cluster_kept_only_by_fleet_lock_is_a_kept_cell(fleet_dir):
    comp = _kept_fleet(fleet_dir).compile().compilation
    data = report_view.build(comp)
    (column,) = data["placements"]
    names = [c["name"] for c in data["clusters"]]
    codes = {s["key"]: s["code"] for s in data["states"]}
    assert column["cells"][names.index("cluster-01")] == codes["keptByLock"]
    assert column["cells"][names.index("cluster-02")] == codes["selected"]
    (item,) = status_view.status(comp)["placements"]
    [decision] = [d for d in item["decisions"] if d["cluster"] == "cluster-01"]
    kept = data["reasons"][column["reasons"][names.index("cluster-01")]][3]
    assert kept.replace(data["reasonCluster"], '"cluster-01"') == readable(decision["keptByLock"])


def test_a_staged_rollout_shows_the_snapshot_each_cluster_runs():
    comp = FleetDir(EXAMPLES / "staged-rollout").compile().compilation
    data = report_view.build(comp)
    names = [c["name"] for c in data["clusters"]]
    codes = {s["key"]: s["code"] for s in data["states"]}
    (web,) = [p for p in data["placements"] if p["name"] == "web"]
    rolled = comp.rollout.placements["web"]
    assert web["rollout"]["newest"] == rolled.newest
    for cluster, snapshot in rolled.clusters.items():
        i = names.index(cluster)
        assert web["rollout"]["snapshots"][i] == snapshot
        assert data["reasons"][web["reasons"][i]][4] == rolled.reasons[cluster]
        older = snapshot < rolled.newest
        assert web["cells"][i] == codes["olderSnapshot" if older else "selected"]
    assert codes["olderSnapshot"] in web["cells"] and codes["selected"] in web["cells"]


def test_address_space_per_site(cli, tmp_path):
    comp = FleetDir(EXAMPLES / "baremetal-sites").compile().compilation
    sites = {s["site"]: s for s in report_view.build(comp)["sites"]}
    east = sites["dc-east"]
    assert east["clusters"] == ["east-1", "east-2", "east-3"]
    assert east["reserved"] == ["10.10.0.0-10.10.0.31", "10.10.0.200-10.10.0.255"]
    first = east["ranges"][0]
    assert first["range"] == "10.10.0.0/24" and first["size"] == 256
    # Every address of the range is in exactly one segment, in order.
    assert sum(s["size"] for s in first["segments"]) == 256
    kinds = {s["kind"] for s in first["segments"]}
    assert kinds == {"reserved", "pool", "free"}
    used = sum(s["size"] for s in first["segments"] if s["kind"] != "free")
    assert first["free"] == 256 - used
    pools = {(p["cluster"], p["pool"]): p["addresses"] for p in east["pools"]}
    status = {
        (c["cluster"], p["name"]): p["addresses"]
        for c in comp.section_status()["loadBalancers"]
        for p in c["pools"]
        if c["cluster"].startswith("east")
    }
    assert pools == {k: v[0] for k, v in status.items()}


def test_report_help_is_in_the_main_help(cli):
    assert "fleetc report" in run(cli, "--help").output
    assert "--base REF" in run(cli, "report", "--help").output


# -- in the browser -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def driver():
    if browser.MISSING:
        pytest.skip(browser.MISSING)
    found = browser.start()
    yield found
    found.quit()


@needs_browser
def test_root_example_cells_say_what_explain_says(cli, tmp_path, driver):
    page = _report(cli, REPO, tmp_path / "r.html")
    browser.open_page(driver, page)
    cells = browser.matrix(driver)
    expected = {}
    for item in _status(cli, REPO)["placements"]:
        for d in item["decisions"]:
            expected[d["cluster"], item["name"]] = (d["verdict"], readable(d["reason"]))
    assert {k: (v["state"], v["title"]) for k, v in cells.items()} == expected
    # Colour is never the only signal: every cell has a symbol and a label in words.
    assert cells["aks-member-5", "platform-baseline"]["label"] == (
        "aks-member-5 \u00d7 platform-baseline: filtered out"
    )
    assert all(v["text"] for v in cells.values())


@needs_browser
def test_the_page_loads_nothing_from_the_network(cli, tmp_path, driver):
    page = _report(cli, EXAMPLES / "baremetal-sites", tmp_path / "r.html")
    browser.requests(driver)  # forget earlier pages
    browser.open_page(driver, page)
    for tab in ("tab-clusters", "tab-services", "tab-addresses", "tab-matrix"):
        driver.find_element("id", tab).click()
    assert browser.requests(driver) == [page.resolve().as_uri()]


@needs_browser
def test_pick_n_cells_show_selected_not_picked_and_filtered(cli, fleet_dir, tmp_path, driver):
    _pick_n_fleet(fleet_dir)
    browser.open_page(driver, _report(cli, fleet_dir.root, tmp_path / "r.html"))
    cells = browser.matrix(driver)
    (item,) = _status(cli, fleet_dir.root)["placements"]
    expected = {
        (d["cluster"], "app"): (d["verdict"], readable(d["reason"])) for d in item["decisions"]
    }
    assert {k: (v["state"], v["title"]) for k, v in cells.items()} == expected
    assert {v["state"] for v in cells.values()} == {"selected", "notPicked", "filtered"}
    counts = driver.execute_script(
        "return [...document.querySelectorAll('.colcount')].map((c) => c.textContent)"
    )
    assert counts == ["3"]


@needs_browser
def test_evicted_cell_says_so_and_names_the_eviction(cli, fleet_dir, tmp_path, driver):
    from selenium.webdriver.common.keys import Keys

    _evicted_fleet(fleet_dir)
    browser.open_page(driver, _report(cli, fleet_dir.root, tmp_path / "r.html"))
    cell = browser.matrix(driver)["cluster-01", "app"]
    assert cell["label"] == "cluster-01 \u00d7 app: evicted (its binding deleted)"
    driver.find_element("id", "matrix").send_keys(Keys.ENTER)
    assert "evicted by move-01" in driver.find_element("id", "detail").text


@needs_browser
def test_kept_cell_counts_as_selected_and_says_why(cli, fleet_dir, tmp_path, driver):
    from selenium.webdriver.common.keys import Keys

    _kept_fleet(fleet_dir)
    browser.open_page(driver, _report(cli, fleet_dir.root, tmp_path / "r.html"))
    cell = browser.matrix(driver)["cluster-01", "app"]
    assert cell["label"] == "cluster-01 \u00d7 app: selected, kept by fleet.lock"
    selected = sum(1 for v in browser.matrix(driver).values() if v["state"] != "filtered")
    assert driver.find_element("css selector", ".colcount").text == str(selected)
    driver.find_element("id", "matrix").send_keys(Keys.ENTER)
    assert "fleet.lock remembers it" in driver.find_element("id", "detail-kept").text


@needs_browser
def test_rollout_cells_name_their_snapshot(cli, tmp_path, driver):
    browser.open_page(driver, _report(cli, EXAMPLES / "staged-rollout", tmp_path / "r.html"))
    cells = browser.matrix(driver)
    assert cells["canary-1", "web"]["label"] == "canary-1 \u00d7 web: selected, snapshot 1"
    assert cells["eastus-1", "web"]["label"] == (
        "eastus-1 \u00d7 web: selected, runs an older snapshot, snapshot 0"
    )


@needs_browser
def test_sort_group_and_filter(cli, fleet_dir, tmp_path, driver):
    _pick_n_fleet(fleet_dir)
    browser.open_page(driver, _report(cli, fleet_dir.root, tmp_path / "r.html"))
    assert browser.rows(driver) == [f"cluster-0{i}" for i in range(1, 10)]
    # A column header sorts by that placement's verdicts: selected first, filtered last.
    driver.find_element("css selector", '.colhead[data-placement="app"]').click()
    order = browser.rows(driver)
    states = [browser.matrix(driver)[c, "app"]["state"] for c in order]
    assert states == sorted(states, key=["selected", "notPicked", "filtered"].index)
    # Grouped by a label: one heading per value, members sorted under it.
    driver.find_element("css selector", '.colhead[data-placement="app"]').click()
    browser.select_option(driver, "group-by", "region")
    assert browser.rows(driver) == [
        "# (no region) (1)",
        "cluster-09",
        "# region=central (2)",
        "cluster-07",
        "cluster-08",
        "# region=east (3)",
        "cluster-01",
        "cluster-02",
        "cluster-03",
        "# region=west (3)",
        "cluster-04",
        "cluster-05",
        "cluster-06",
    ]
    browser.select_option(driver, "group-by", "")
    browser.select_option(driver, "sort-by", "label:env")
    order = browser.rows(driver)
    envs = [ninefleet_env(c) for c in order]
    assert envs == sorted(envs)
    # Filtering by label and by placement.
    box = driver.find_element("id", "cluster-filter")
    box.send_keys("region=west env=prod")
    assert browser.rows(driver) == ["cluster-04", "cluster-05"]
    count = driver.find_element("id", "matrix-count").text
    assert count == "2 of 9 clusters, 1 of 1 placements"
    driver.find_element("id", "placement-filter").send_keys("nothing-matches")
    assert browser.matrix(driver) == {}


def ninefleet_env(cluster: str) -> str:
    from ninefleet import CLUSTERS

    return CLUSTERS[cluster]["env"]


@needs_browser
def test_keyboard_reaches_every_cell_and_reads_the_reason(cli, fleet_dir, tmp_path, driver):
    from selenium.webdriver.common.keys import Keys

    _pick_n_fleet(fleet_dir)
    browser.open_page(driver, _report(cli, fleet_dir.root, tmp_path / "r.html"))
    driver.find_element("id", "matrix").send_keys(Keys.ARROW_DOWN, Keys.ARROW_DOWN, Keys.ENTER)
    focused = driver.switch_to.active_element
    assert focused.get_attribute("aria-label").startswith("cluster-03 \u00d7 app: ")
    reason = driver.find_element("id", "detail-reason").text
    assert reason == focused.get_attribute("title") and "cluster-03" in reason


@needs_browser
@pytest.mark.parametrize("example", ["root", "baremetal-sites", "azure-fleet-l4"])
def test_cluster_view_lists_exactly_the_rendered_objects(cli, tmp_path, driver, example):
    folder = REPO if example == "root" else EXAMPLES / example
    browser.open_page(driver, _report(cli, folder, tmp_path / "r.html"))
    output = folder / "rendered"
    names = sorted(p.name for p in output.iterdir() if p.is_dir())
    driver.find_element("id", "tab-clusters").click()
    for name in names:
        browser.select_option(driver, "cluster-pick", name, by_text=True)
        listed = driver.execute_script(
            """return [...document.querySelectorAll('#cluster-objects tbody tr')].map(
                (r) => r.cells[1].textContent)"""
        )
        on_disk = sorted(
            str(p.relative_to(output))
            for p in (output / name).rglob("*.yaml")
            if p.name != "kustomization.yaml" and "_flux-system" not in p.parts
        )
        flux = [p for p in listed if "/_flux-system/" in p]
        assert sorted(p for p in listed if p not in flux) == on_disk
        for path in flux:
            assert (output / path).is_file()


@needs_browser
def test_services_and_address_space_are_shown(cli, tmp_path, driver):
    browser.open_page(driver, _report(cli, EXAMPLES / "ack-one", tmp_path / "s.html"))
    driver.find_element("id", "tab-services").click()
    row = driver.find_element("css selector", '[data-service="provider-ns/service1"]')
    assert row.text.split("\n")[0].startswith(
        "provider-ns/service1 ClusterSetIP provider (mcs-api)"
    )
    browser.open_page(driver, _report(cli, EXAMPLES / "baremetal-sites", tmp_path / "a.html"))
    driver.find_element("id", "tab-addresses").click()
    bar = driver.find_element("css selector", '[data-site="dc-east"] .bar')
    text = bar.get_attribute("aria-label")
    assert text.startswith("10.10.0.0/24: 10.10.0.0/27 reserved; 10.10.0.32/29 pool east-1/ingress")
    assert "10.10.0.78-10.10.0.199 free" in text


@needs_browser
def test_base_view_matches_diff_json(cli, tmp_path, driver):
    fleet = demo_fleet(tmp_path / "repo")
    fleet.cluster("c3", {"env": "prod"})  # c3 gains app
    fleet.cluster("c4", {"env": "dev"})  # a new cluster
    diff = run(cli, "diff", "-f", str(fleet.root), "--base", "HEAD", "--format", "json")
    assert diff.exit_code == 0, diff.output
    expected = json.loads(diff.output)
    page = _report(cli, fleet.root, tmp_path / "r.html", "--base", "HEAD")
    browser.open_page(driver, page)
    driver.find_element("id", "tab-change").click()
    headline = {
        k: int(driver.find_element("id", f"change-{k}").text)
        for k in ("clusters", "objects", "placements")
    }
    assert headline == {
        "clusters": expected["summary"]["clustersAffected"],
        "objects": sum(len(c["objects"]) for c in expected["clusters"]),
        "placements": len(expected["placements"]),
    }
    summary = driver.execute_script(
        """return Object.fromEntries([...document.querySelectorAll('#change-summary tbody tr')]
            .map((r) => [r.dataset.cluster, {status: r.dataset.status, added: +r.dataset.added,
            removed: +r.dataset.removed, changed: +r.dataset.changed}]))"""
    )
    assert summary == expected["summary"]["clusters"]
    moves = driver.execute_script(
        """return [...document.querySelectorAll('#change-moves li')].map(
            (li) => [li.dataset.placement, li.dataset.cluster, li.dataset.change])"""
    )
    assert moves == [[p["placement"], p["cluster"], p["change"]] for p in expected["placements"]]
    assert ["app", "c3", "gained"] in moves
    # The matrix marks the same moves, in words as well as colour.
    driver.find_element("id", "tab-matrix").click()
    cell = browser.matrix(driver)["c3", "app"]
    assert cell["label"] == "c3 \u00d7 app: selected (gained)" and cell["text"].endswith("+")


@needs_browser
def test_a_thousand_clusters_by_a_hundred_placements_draws_only_what_is_visible(tmp_path, driver):
    data = _synthetic(1000, 100)
    page = tmp_path / "big.html"
    page.write_bytes(html_report.page(data))
    assert page.stat().st_size < 3_000_000
    browser.open_page(driver, page)
    drawn = browser.rows(driver)
    assert 10 < len(drawn) < 100  # virtualised: the DOM holds the visible rows only
    driver.execute_script("document.getElementById('matrix').scrollTop = 1e9")
    driver.execute_script("document.getElementById('matrix').dispatchEvent(new Event('scroll'))")
    assert browser.rows(driver)[-1] == "c00999"
    assert driver.find_element("id", "matrix-count").text == (
        "1000 of 1000 clusters, 100 of 100 placements"
    )


@needs_browser
def test_a_new_cell_state_is_one_entry_and_no_page_change(monkeypatch, fleet_dir, tmp_path, driver):
    """What issues 14 (evictions) and 17 (staged rollouts) need: a state in CELL_STATES and a
    line in cell_state; the page draws its symbol, label and legend from the data."""
    evicted = report_view.CellState("x", "drained", "evicted by a disruption", "!")
    monkeypatch.setattr(report_view, "CELL_STATES", (*report_view.CELL_STATES, evicted))
    verdict = report_view.cell_state
    monkeypatch.setattr(
        report_view,
        "cell_state",
        lambda d, *rollout: evicted if d.cluster == "cluster-01" else verdict(d, *rollout),
    )
    _pick_n_fleet(fleet_dir)
    page = tmp_path / "r.html"
    page.write_bytes(html_report.page(report_view.build(fleet_dir.compile().compilation)))
    browser.open_page(driver, page)
    cell = browser.matrix(driver)["cluster-01", "app"]
    assert (cell["state"], cell["text"], cell["label"]) == (
        "drained",
        "!",
        "cluster-01 \u00d7 app: evicted by a disruption",
    )
    assert "evicted by a disruption" in driver.find_element("id", "legend").text


def _synthetic(clusters: int, placements: int) -> dict:
    """The view's data shape at fleet scale, without compiling a fleet that large."""
    names = [f"c{i:05d}" for i in range(clusters)]
    states = [
        {"code": s.code, "key": s.key, "label": s.label, "symbol": s.symbol, "selected": s.selected}
        for s in report_view.CELL_STATES
    ]
    return {
        "version": report_view.VERSION,
        "fleet": "synthetic",
        "states": states,
        "labelKeys": ["region"],
        "clusters": [
            {
                "name": n,
                "labels": {"region": f"r{i % 7}"},
                "taints": [],
                "state": "Ready",
                "kubernetesVersion": None,
                "properties": {},
                "objects": [],
            }
            for i, n in enumerate(names)
        ],
        "placements": [
            {
                "name": f"p{j:03d}",
                "type": "PickAll",
                "scheduled": {
                    "status": "True",
                    "reason": "SchedulingPolicyFulfilled",
                    "message": "",
                },
                "cells": "".join("sf"[(i + j) % 2] for i in range(clusters)),
                "reasons": [(i + j) % 2 for i in range(clusters)],
            }
            for j in range(placements)
        ],
        "reasons": [["", "picked {cluster}"], ["ClusterAffinity", "filtered {cluster}"]],
        "reasonCluster": report_view.REASON_CLUSTER,
        "objects": [],
        "services": [],
        "sites": [],
        "change": None,
    }
