"""Identical bytes everywhere: hash seeds, locales, time zones, file-creation order, Pythons."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO, FleetDir

ENVIRONMENTS = [
    {"PYTHONHASHSEED": "0", "LANG": "C", "LC_ALL": "C", "TZ": "UTC"},
    {
        "PYTHONHASHSEED": "4242",
        "LANG": "tr_TR.UTF-8",
        "LC_ALL": "tr_TR.UTF-8",
        "TZ": "Pacific/Kiritimati",
    },
    {"PYTHONHASHSEED": "random", "LANG": "C.UTF-8", "LC_ALL": "", "TZ": "America/St_Johns"},
]

# Errors in several files, so the order of diagnostics is exercised too.
BROKEN = {
    "clusters/z.yaml": "apiVersion: fleetc.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: Z_bad\n",
    "clusters/a.yaml": "apiVersion: fleetc.io/v1alpha1\nkind: Cluster\nmetadata: {}\nspec: 1\n",
    "hub/m.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
    "hub/b.yaml": "a: [\n",
}


def _copy_example(target: Path) -> Path:
    target.mkdir(parents=True)
    for name in ("fleet.yaml", "fleet.lock"):
        shutil.copy(REPO / name, target / name)
    for name in ("clusters", "hub"):
        shutil.copytree(REPO / name, target / name)
    return target


def _fleetc(root: Path, command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PYTHON"))}
    return subprocess.run(
        [sys.executable, "-m", "fleetc", command, "-f", str(root)],
        env={**clean, **env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        cwd=root,
        check=False,
    )


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_bytes_across_hash_seeds_locales_and_time_zones(tmp_path: Path):
    outputs, diagnostics = [], []
    for index, env in enumerate(ENVIRONMENTS):
        root = _copy_example(tmp_path / f"run{index}")
        proc = _fleetc(root, "render", env)
        assert proc.returncode == 0, proc.stderr
        outputs.append((_tree(root / "rendered"), (root / "fleet.lock").read_bytes()))
        for rel, text in BROKEN.items():
            (root / rel).write_text(text, encoding="utf-8")
        broken = _fleetc(root, "validate", env)
        assert broken.returncode == 1
        diagnostics.append(broken.stderr.replace(str(root).encode(), b"ROOT"))
    assert outputs[0][0] == _tree(REPO / "rendered")
    assert all(output == outputs[0] for output in outputs[1:])
    assert diagnostics[0].count(b"error:") >= 4
    assert all(diag == diagnostics[0] for diag in diagnostics[1:])


def _write_fleet(root: Path, order: list[tuple[str, bytes]]) -> FleetDir:
    root.mkdir()
    for rel, data in order:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return FleetDir(root)


def test_same_bytes_whatever_order_the_input_files_were_created_in(tmp_path: Path):
    files = [
        (p.relative_to(REPO).as_posix(), p.read_bytes())
        for folder in ("clusters", "hub")
        for p in sorted((REPO / folder).rglob("*.yaml"))
    ]
    files += [(f"clusters/extra-{i:02d}.yaml", _cluster(i)) for i in range(30)]
    files += [(f"hub/extra/{i:02d}/cm.yaml", _configmap(i)) for i in range(30)]
    files += [("fleet.yaml", (REPO / "fleet.yaml").read_bytes())]
    forward = _write_fleet(tmp_path / "forward", files)
    backward = _write_fleet(tmp_path / "backward", files[::-1])
    one, two = forward.compile(), backward.compile()
    assert one.ok and len(one.files) > 60
    assert (one.files, one.lock) == (two.files, two.lock)
    broken = [(rel, text.encode()) for rel, text in BROKEN.items()]
    for fleet, order in ((forward, broken), (backward, broken[::-1])):
        for rel, data in order:
            (fleet.root / rel).write_bytes(data)
    one, two = forward.compile(), backward.compile()
    assert len(one.diagnostics.errors) >= 4
    assert [d.format() for d in one.diagnostics] == [d.format() for d in two.diagnostics]


def _cluster(index: int) -> bytes:
    return (
        f"apiVersion: fleetc.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: extra-{index:02d}\n"
        f"  labels:\n    fleet.azure.com/location: {'eastus' if index % 2 else 'westus'}\n"
    ).encode()


def _configmap(index: int) -> bytes:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{index:02d}\n"
        f"  namespace: kuard-demo\ndata:\n  n: '{index}'\n"
    ).encode()


def test_supported_pythons_are_declared_and_checked_in_ci():
    """pyproject declares the range; .ci/python-versions renders with its oldest and newest."""
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'requires-python = ">=3.10"' in pyproject
    declared = re.findall(r"Python :: (3\.\d+)\"", pyproject)
    assert declared and declared[0] == "3.10"
    script = (REPO / ".ci" / "python-versions").read_text(encoding="utf-8")
    assert f"VERSIONS=({declared[0]} {declared[-1]})" in script
    assert ".ci/python-versions" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
