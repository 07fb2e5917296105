"""The architecture, enforced: the import-linter contracts of pyproject.toml, no import cycle
anywhere, a package list that ships every folder, and ``python -m fleetc``.

The contracts (README "Architecture") count every import: those inside functions and under
``TYPE_CHECKING`` too. ``lint-imports`` in the repository root checks the same contracts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = REPO / "pyproject.toml"
SOURCE = REPO / "compiler"

pytest.importorskip(
    "importlinter", reason="import-linter is not installed: python3 -m pip install -e '.[test]'"
)
import grimp  # noqa: E402  (import-linter's graph builder, installed with it)

# The contracts in pyproject.toml, by id. A contract broken on purpose while a refactoring is
# under way is marked ``xfail(strict=True)`` here, with the import chains that break it.
CONTRACTS = ["layers", "sections-independent", "acyclic", "pure"]


def _toml(path: Path) -> dict:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli", reason="reading pyproject.toml needs tomli on 3.10")
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _modules_in(folder: Path, package: str) -> set[str]:
    """The module names of the ``.py`` files under ``folder`` (``__init__`` is the package)."""
    names = set()
    for path in folder.rglob("*.py"):
        parts = path.relative_to(folder).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.add(".".join((package, *parts)))
    return names


@pytest.fixture(scope="module")
def lint_imports() -> str:
    """``lint-imports`` in the repository root, run once by this interpreter (so it finds the
    fleetc installed beside it), every contract; its report."""
    (script,) = entry_points(group="console_scripts", name="lint-imports")
    module, function = script.value.split(":")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; from {module} import {function} as main; sys.exit(main())",
            "--no-cache",
            "--no-logo",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        # Wide enough that no contract's name is wrapped.
        env={**os.environ, "COLUMNS": "500", "NO_COLOR": "1", "TERM": "dumb"},
    )
    assert done.returncode in (0, 1) and "Contracts:" in done.stdout, done.stdout + done.stderr
    return done.stdout


def _names() -> dict[str, str]:
    contracts = _toml(PYPROJECT)["tool"]["importlinter"]["contracts"]
    return {contract["id"]: contract["name"] for contract in contracts}


def test_every_contract_has_a_test():
    assert sorted(_names()) == sorted(CONTRACTS)


@pytest.mark.parametrize("contract_id", CONTRACTS)
def test_contract(lint_imports, contract_id):
    names = _names()
    name = names[contract_id]
    lines = lint_imports.splitlines()
    if f"{name} KEPT" in lines:
        return
    assert f"{name} BROKEN" in lines, lint_imports
    # The contract's section of the report: from its heading to the next contract's.
    start = lines.index(name, lines.index("Broken contracts"))
    end = min(
        (lines.index(other, start + 1) for other in names.values() if other in lines[start + 1 :]),
        default=len(lines),
    )
    pytest.fail("\n".join(lines[start:end]), pytrace=False)


def test_every_section_is_in_the_independence_contract():
    (contract,) = (
        c
        for c in _toml(PYPROJECT)["tool"]["importlinter"]["contracts"]
        if c["id"] == "sections-independent"
    )
    packages = {
        f"fleetc.sections.{path.parent.name}"
        for path in (SOURCE / "sections").glob("*/__init__.py")
    }
    assert len(packages) >= 3
    assert sorted(contract["modules"]) == sorted(packages)


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("fleetc", cache_dir=None)


def test_the_contracts_read_this_checkout(graph):
    """import-linter finds ``fleetc`` through the (editable) install: it must be this
    ``compiler/`` folder, every module of it, and not another installed copy."""
    assert set(graph.modules) == _modules_in(SOURCE, "fleetc")


def _cycles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    internal = sorted(m for m in graph.modules if m == "fleetc" or m.startswith("fleetc."))
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in internal}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in internal:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in edges:
                    continue  # an external package
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(edges[succ])))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in edges[node]:
                        found.append(sorted(component))
    return sorted(found)


def test_no_import_cycle_between_any_modules(graph):
    """Stricter than the ``acyclic`` contract, which compares siblings: also a package's
    ``__init__`` and the modules under it."""
    cycles = _cycles(graph)
    assert not cycles, "import cycles (every import counts): " + "; ".join(
        " <-> ".join(cycle) for cycle in cycles
    )


def test_the_cycle_finder_finds_cycles():
    graph = grimp.ImportGraph()
    for module in ("fleetc", "fleetc.a", "fleetc.b", "fleetc.c", "fleetc.d"):
        graph.add_module(module)
    graph.add_import(importer="fleetc", imported="fleetc.a")
    graph.add_import(importer="fleetc.a", imported="fleetc.b")
    graph.add_import(importer="fleetc.b", imported="fleetc")
    graph.add_import(importer="fleetc.c", imported="fleetc.a")
    graph.add_import(importer="fleetc.d", imported="fleetc.d")
    assert _cycles(graph) == [["fleetc", "fleetc.a", "fleetc.b"], ["fleetc.d"]]


def test_setuptools_packages_list_every_folder():
    """A folder of compiler/ missing from ``[tool.setuptools] packages`` is missing from the
    installed fleetc (only the editable install would hide it)."""
    setuptools = _toml(PYPROJECT)["tool"]["setuptools"]
    folders = {
        ".".join(("fleetc", *path.parent.relative_to(SOURCE).parts))
        for path in SOURCE.rglob("*.py")
    }
    # Two data packages live outside compiler/: the JSON Schemas and the CI workflow template
    # (which `fleetc init` copies).
    assert setuptools["package-dir"] == {
        "fleetc": "compiler",
        "fleetc.schemas": "schemas",
        "fleetc.ci": "ci/github-actions",
    }
    assert sorted(setuptools["packages"]) == sorted(folders | {"fleetc.schemas", "fleetc.ci"})
    for package in folders:
        folder = SOURCE.joinpath(*package.split(".")[1:])
        assert (folder / "__init__.py").is_file(), f"{package} has no __init__.py"


def test_python_m_fleetc_help():
    done = subprocess.run(
        [sys.executable, "-m", "fleetc", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: python -m fleetc")
    for command in ("render", "check", "validate", "explain", "status", "diff"):
        assert f"\n  {command} " in done.stdout
