"""Measure fleetc on synthetic fleets; print a table and write it as JSON.

    python benchmarks/run.py [--sizes 100,1000,5000,10000] [--json benchmarks/results.json]

For each size it generates a fleet (benchmarks/fleetgen.py) in a temporary git repository and
measures wall time, CPU time (user + system) and peak memory (max RSS of the fleetc process) of:
a full render into an empty folder without cache or lock; a re-render with nothing changed,
first after that render (no cache yet) and then with the cache; ``fleetc check`` with the cache
and in a fresh clone (no cache, as in CI); ``fleetc diff`` of a one-label change, twice (the
second, ``diff_one_label_cached``, may recall the base from the first); a re-render after one
cluster's label changed (twice: the second finds the shadow tree warm) and after one hub file
changed; and ``fleetc report --base`` of the one-label change (the HTML page of the fleet with
the change highlighted; its size is recorded too). Each fleetc figure records its ``--timings``
stage breakdown where the command has one. With kubectl on PATH it also times the status quo
for the largest size up to 1,000: ``kubectl kustomize`` over one overlay per cluster. And it
runs ``pickn.py``: the scheduler alone on one large PickN placement. Each figure is one run of a
fresh process, so it includes interpreter start-up. The machine's load average is recorded: on
a shared machine, compare CPU times.

Every size's folder stays until the end of the run: on some machines creating files is many
times slower for minutes after a large tree is deleted, which would slow the next size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fleetgen

FLEETC = [sys.executable, "-m", "fleetc"]
HERE = Path(__file__).resolve().parent
# Runs a command (its stdout kept when the first argument is "keep") and prints the child's CPU
# time and peak RSS (KiB) on the last two lines of stderr.
RSS_WRAPPER = (
    "import resource, subprocess, sys\n"
    "out = None if sys.argv[1] == 'keep' else subprocess.DEVNULL\n"
    "code = subprocess.run(sys.argv[2:], stdout=out).returncode\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(usage.ru_utime + usage.ru_stime, file=sys.stderr)\n"
    "print(usage.ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)
# fleetc's --timings line: "timings: load 0.55s, model 0.82s, ...; total 9.80s".
TIMINGS = re.compile(r"^timings: (?P<stages>.*); total (?P<total>[0-9.]+)s$", re.MULTILINE)


def measure(
    args: list[str], cwd: Path, ok_codes: tuple[int, ...] = (0,), keep_stdout: bool = False
) -> dict[str, object]:
    """One fresh process: wall and CPU seconds, peak MB, the load average, and the stage
    timings when the command printed them (``--timings``)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", RSS_WRAPPER, "keep" if keep_stdout else "drop", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if proc.returncode not in ok_codes:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    *_, cpu, rss_kib = proc.stderr.strip().splitlines()
    result: dict[str, object] = {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(float(cpu), 3),
        "peak_mb": round(int(rss_kib) / 1024, 1),
        "load": round(os.getloadavg()[0], 1),
    }
    timings = TIMINGS.search(proc.stderr)
    if timings:
        stages = (part.rsplit(" ", 1) for part in timings["stages"].split(", "))
        result["timings"] = {name: float(value.rstrip("s")) for name, value in stages}
        result["timings"]["total"] = float(timings["total"])
    if keep_stdout:
        result["stdout"] = proc.stdout
    return result


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def relabel_one_cluster(root: Path, name: str = "c00000") -> None:
    path = root / "clusters" / f"{name}.yaml"
    text = path.read_text()
    path.write_text(
        text.replace("env: prod", "env: staging", 1).replace("env: dev", "env: prod", 1)
    )


def change_one_hub_file(root: Path) -> None:
    path = sorted((root / "hub").glob("*.yaml"))[0]
    path.write_text(path.read_text().replace(":1.0.0", ":1.0.1", 1))  # the app's image tag


def bench_size(clusters: int, workdir: Path) -> dict[str, object]:
    root = workdir / f"fleet-{clusters}"
    fleetgen.generate(root, clusters)
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.email=b@example.com", "-c", "user.name=bench", "add", "-A")
    results: dict[str, object] = {"clusters": clusters}
    results["full_render"] = measure([*FLEETC, "render", "--no-cache", "--timings"], root)
    objects = sum(1 for _ in (root / "rendered").rglob("*.yaml"))
    results["rendered_files"] = objects
    results["lock_bytes"] = (root / "fleet.lock").stat().st_size
    git(root, "add", "-A")
    git(root, "-c", "user.email=b@example.com", "-c", "user.name=bench", "commit", "-qm", "base")
    results["rerender_unchanged_no_cache"] = measure(RENDER, root)
    results["rerender_unchanged"] = measure(RENDER, root)
    results["check"] = measure(CHECK, root)
    clone = workdir / f"clone-{clusters}"
    git(workdir, "clone", "-q", str(root), str(clone))
    results["check_fresh_clone"] = measure(CHECK, clone)
    relabel_one_cluster(root)
    results["diff_one_label"] = measure(DIFF, root)
    results["diff_one_label_cached"] = measure(DIFF, root)
    report = workdir / f"report-{clusters}.html"
    results["report_one_label"] = measure(
        [*FLEETC, "report", "--base", "HEAD", "--out", str(report)], root
    )
    results["report_bytes"] = report.stat().st_size
    results["rerender_one_label"] = measure(RENDER, root)
    relabel_one_cluster(root, "c00001")
    results["rerender_one_label_again"] = measure(RENDER, root)
    change_one_hub_file(root)
    results["rerender_one_hub_file"] = measure(RENDER, root)
    return results


RENDER = [*FLEETC, "render", "--timings"]
CHECK = [*FLEETC, "check", "--timings"]
DIFF = [*FLEETC, "diff", "--base", "HEAD", "--timings"]


def kustomize_overlays(root: Path) -> int:
    """The status quo: a base per app and an overlay per cluster, built one by one."""
    fleet = root / "kustomize"
    apps = sorted(p.stem for p in (root / "hub").glob("*.yaml"))
    for app in apps:
        base = fleet / "bases" / app
        base.mkdir(parents=True)
        shutil.copy(root / "hub" / f"{app}.yaml", base / "app.yaml")
        (base / "kustomization.yaml").write_text("resources:\n- app.yaml\n")
    rendered = root / "rendered"
    clusters = sorted(p.name for p in rendered.iterdir() if p.is_dir())
    for cluster in clusters:
        overlay = fleet / "overlays" / cluster
        overlay.mkdir(parents=True)
        placed = sorted(
            app
            for app in apps
            if (rendered / cluster / "_cluster" / f"namespace_{app}.yaml").exists()
        )
        resources = "".join(f"- ../../bases/{app}\n" for app in placed)
        (overlay / "kustomization.yaml").write_text(
            f"resources:\n{resources}commonLabels:\n  fleet.example.com/cluster: {cluster}\n"
        )
    return len(clusters)


def bench_kustomize(workdir: Path, clusters: int) -> dict[str, object] | None:
    """``kubectl kustomize`` over the overlays of the fleet of ``clusters`` (benchmarked
    already, so its rendered/ says which apps each cluster gets)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    root = workdir / f"fleet-{clusters}"
    count = kustomize_overlays(root)
    start = time.perf_counter()
    for overlay in sorted((root / "kustomize" / "overlays").iterdir()):
        subprocess.run([kubectl, "kustomize", str(overlay)], check=True, capture_output=True)
    return {"clusters": count, "seconds": round(time.perf_counter() - start, 3)}


def bench_pickn(clusters: int, picks: int) -> dict[str, object]:
    """benchmarks/pickn.py: the scheduler alone, one PickN placement (its own timing of the
    scheduling, and the process's figures)."""
    args = [sys.executable, str(HERE / "pickn.py"), "--clusters", str(clusters)]
    result = measure([*args, "--picks", str(picks)], HERE, keep_stdout=True)
    found = re.search(r": ([0-9.]+) s \(", str(result.pop("stdout")))
    if found is None:
        raise SystemExit("pickn.py printed no timing")
    return {"clusters": clusters, "picks": picks, "schedule_seconds": float(found[1]), **result}


COLUMNS = [
    "full_render",
    "rerender_unchanged",
    "check",
    "check_fresh_clone",
    "rerender_one_label",
    "rerender_one_label_again",
    "rerender_one_hub_file",
    "diff_one_label",
    "diff_one_label_cached",
    "report_one_label",
]


def table(rows: list[dict[str, object]]) -> str:
    head = "| clusters | files | " + " | ".join(COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    for row in rows:
        cells = [
            f"{row[c]['seconds']:.2f} s ({row[c]['cpu_seconds']:.2f} CPU) / "
            f"{row[c]['peak_mb']:.0f} MB"
            for c in COLUMNS
        ]
        lines.append(f"| {row['clusters']} | {row['rendered_files']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results.json"))
    parser.add_argument(
        "--pickn",
        default="4000,2000",
        metavar="CLUSTERS,PICKS",
        help="the PickN scheduler benchmark's size (0: skip it)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    env_root = Path(__file__).resolve().parent.parent
    os.environ["PYTHONPATH"] = str(env_root) + os.pathsep + os.environ.get("PYTHONPATH", "")
    pickn_clusters, _, pickn_picks = args.pickn.partition(",")
    pickn = bench_pickn(int(pickn_clusters), int(pickn_picks or 0)) if int(pickn_clusters) else None
    # One folder for the whole run, deleted at its end (see the module's docstring).
    with tempfile.TemporaryDirectory(prefix="fleetc-bench-") as tmp:
        workdir = Path(tmp)
        rows = [bench_size(size, workdir) for size in sizes]
        small = [size for size in sizes if size <= 1000]
        kustomize = bench_kustomize(workdir, max(small)) if small else None
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
        },
        "fleetc": rows,
        "kustomize_overlays": kustomize,
        "pickn": pickn,
    }
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(table(rows))
    for row in rows:
        print(f"report of {row['clusters']} clusters: {row['report_bytes'] / 1e6:.2f} MB")
    if kustomize:
        count, seconds = kustomize["clusters"], kustomize["seconds"]
        print(f"\nkubectl kustomize over {count} overlays: {seconds:.2f} s")
    if pickn:
        print(
            f"\npickn.py, {pickn['picks']} picks of {pickn['clusters']} clusters: "
            f"{pickn['schedule_seconds']:.2f} s scheduling ({pickn['cpu_seconds']:.2f} s CPU, "
            f"{pickn['peak_mb']:.0f} MB for the process)"
        )


if __name__ == "__main__":
    main()
