"""Measure fleetc on synthetic fleets; print a table and write it as JSON.

    python benchmarks/run.py [--sizes 100,1000,5000,10000] [--json benchmarks/results.json]

For each size it generates a fleet (benchmarks/fleetgen.py) in a temporary git repository and
measures wall time, CPU time (user + system) and peak memory (max RSS of the fleetc process) of:
a full render into an empty folder without cache or lock; a re-render with nothing changed,
first after that render (no cache yet) and then with the cache; ``fleetc check`` with the cache
and in a fresh clone (no cache, as in CI); ``fleetc diff`` of a one-label change; a re-render
after one cluster's label changed (twice: the second finds the shadow tree warm) and after one
hub file changed; and ``fleetc report --base`` of the one-label change (the HTML page of the
fleet with the change highlighted; its size is recorded too). With kubectl on PATH it also times
the status quo for the smallest size: ``kubectl kustomize`` over one overlay per cluster. Each
figure is one run of a fresh process, so it includes interpreter start-up. The machine's load
average is recorded: on a shared machine, compare CPU times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fleetgen

FLEETC = [sys.executable, "-m", "fleetc"]
# Runs a command and prints the child's peak RSS (KiB) on the last line of stderr.
RSS_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(usage.ru_utime + usage.ru_stime, file=sys.stderr)\n"
    "print(usage.ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def measure(args: list[str], cwd: Path, ok_codes: tuple[int, ...] = (0,)) -> dict[str, float]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", RSS_WRAPPER, *args], cwd=cwd, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if proc.returncode not in ok_codes:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    *_, cpu, rss_kib = proc.stderr.strip().splitlines()
    return {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(float(cpu), 3),
        "peak_mb": round(int(rss_kib) / 1024, 1),
        "load": round(os.getloadavg()[0], 1),
    }


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
    results["full_render"] = measure([*FLEETC, "render", "--no-cache"], root)
    objects = sum(1 for _ in (root / "rendered").rglob("*.yaml"))
    results["rendered_files"] = objects
    results["lock_bytes"] = (root / "fleet.lock").stat().st_size
    git(root, "add", "-A")
    git(root, "-c", "user.email=b@example.com", "-c", "user.name=bench", "commit", "-qm", "base")
    results["rerender_unchanged_no_cache"] = measure([*FLEETC, "render"], root)
    results["rerender_unchanged"] = measure([*FLEETC, "render"], root)
    results["check"] = measure([*FLEETC, "check"], root)
    clone = workdir / f"clone-{clusters}"
    git(workdir, "clone", "-q", str(root), str(clone))
    results["check_fresh_clone"] = measure([*FLEETC, "check"], clone)
    relabel_one_cluster(root)
    results["diff_one_label"] = measure([*FLEETC, "diff", "--base", "HEAD"], root)
    report = workdir / f"report-{clusters}.html"
    results["report_one_label"] = measure(
        [*FLEETC, "report", "--base", "HEAD", "--out", str(report)], root
    )
    results["report_bytes"] = report.stat().st_size
    results["rerender_one_label"] = measure([*FLEETC, "render"], root)
    relabel_one_cluster(root, "c00001")
    results["rerender_one_label_again"] = measure([*FLEETC, "render"], root)
    change_one_hub_file(root)
    results["rerender_one_hub_file"] = measure([*FLEETC, "render"], root)
    return results


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


def bench_kustomize(workdir: Path) -> dict[str, object] | None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    root = workdir / "fleet-100"
    count = kustomize_overlays(root)
    start = time.perf_counter()
    for overlay in sorted((root / "kustomize" / "overlays").iterdir()):
        subprocess.run([kubectl, "kustomize", str(overlay)], check=True, capture_output=True)
    return {"clusters": count, "seconds": round(time.perf_counter() - start, 3)}


COLUMNS = [
    "full_render",
    "rerender_unchanged",
    "check",
    "check_fresh_clone",
    "rerender_one_label",
    "rerender_one_label_again",
    "rerender_one_hub_file",
    "diff_one_label",
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
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    env_root = Path(__file__).resolve().parent.parent
    os.environ["PYTHONPATH"] = str(env_root) + os.pathsep + os.environ.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory(prefix="fleetc-bench-") as tmp:
        workdir = Path(tmp)
        rows = [bench_size(size, workdir) for size in sizes]
        kustomize = bench_kustomize(workdir) if 100 in sizes else None
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
        },
        "fleetc": rows,
        "kustomize_overlays": kustomize,
    }
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(table(rows))
    for row in rows:
        print(f"report of {row['clusters']} clusters: {row['report_bytes'] / 1e6:.2f} MB")
    if kustomize:
        count, seconds = kustomize["clusters"], kustomize["seconds"]
        print(f"\nkubectl kustomize over {count} overlays: {seconds:.2f} s")


if __name__ == "__main__":
    main()
