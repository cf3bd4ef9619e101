"""The house plan (docs/architecture.md): every import inside the package follows the data flow.

Floors, bottom to top. A module may import its own part of the package and any floor below it, never one above.
The test parses every import, at module level and inside functions (only `if TYPE_CHECKING:` blocks are
exempt), so a late import cannot hide an arrow against the flow.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "uniads_bench"

FLOORS: list[set[str]] = [
    {"__init__", "errors", "rng", "candidate", "results", "journal", "durable", "locks", "methods", "registry",
     "budget"},
    {"data"},
    {"models"},
    {"distill"},
    {"space"},
    {"config", "suites"},  # the suite schema and files, checked against the registries and spaces below on load
    {"engine"},
    {"teachers"},  # training, importing and verifying teachers (the engine's loop, the cache on disk)
    {"search"},
    {"leaderboard"},
    {"runner"},
    {"cli", "__main__"},
]
# Stricter than the floors: the search layer sees candidates and results only, never the engine or a model.
SEARCH_MAY_IMPORT = FLOORS[0] | {"space", "search"}


def floor_of(part: str) -> int:
    return next(i for i, names in enumerate(FLOORS) if part in names)


def _typing_only_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imported_parts(node: ast.AST) -> list[str]:
    """The parts of the package (`search`, `config`, `__init__`, ...) that an import statement reaches."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        names = [f"{node.module}.{a.name}" for a in node.names] if node.module == "uniads_bench" else [node.module]
    else:
        return []
    parts = []
    for name in names:
        pieces = name.split(".")
        if pieces[0] != "uniads_bench":
            continue
        part = pieces[1] if len(pieces) > 1 else "__init__"
        known = any(part in floor for floor in FLOORS)
        parts.append(part if known else "__init__")  # `from uniads_bench import __version__`
    return parts


def package_imports() -> list[tuple[str, str, str, int]]:
    """(file, its part, imported part, line) for every runtime import of the package by the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        here = rel.parts[0].removesuffix(".py")
        tree = ast.parse(path.read_text())
        typing_only = _typing_only_lines(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and node.lineno not in typing_only:
                found += [(str(rel), here, part, node.lineno) for part in _imported_parts(node)]
    return found


def test_every_part_of_the_package_has_a_floor() -> None:
    parts = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in PACKAGE.glob("*") if p.suffix == ".py"
             or (p.is_dir() and (p / "__init__.py").exists())}
    assert parts - set().union(*FLOORS) == set(), "give the new module or package a floor here and in the docs"


def test_no_import_goes_against_the_data_flow() -> None:
    against = [f"{file}:{line} imports uniads_bench.{part}" for file, here, part, line in package_imports()
               if here != part and floor_of(part) > floor_of(here)]
    assert against == []


def test_the_search_layer_imports_only_the_space_and_the_shared_vocabulary() -> None:
    outside = [f"{file}:{line} imports uniads_bench.{part}" for file, here, part, line in package_imports()
               if here == "search" and part not in SEARCH_MAY_IMPORT]
    assert outside == []


def test_importing_the_search_layer_and_every_searcher_loads_no_torch() -> None:
    code = ("import sys, uniads_bench.search.evaluators, uniads_bench.search.uniads, uniads_bench.search.random, "
            "uniads_bench.search.nevergrad\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('uniads_bench.engine')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_loading_a_suite_checks_its_methods_without_importing_the_optimisers() -> None:
    # Every listing command loads a suite; pymoo and nevergrad were a third of `uniads-bench space`'s start-up.
    code = ("import sys\nfrom uniads_bench.config import load_suite\nload_suite('cifar10_cpu')\n"
            "print(sorted(m for m in sys.modules if m in ('pymoo', 'nevergrad')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_doctor_reads_package_versions_without_importing_the_packages(tmp_path) -> None:
    code = ("import sys\nfrom uniads_bench.cli import cli\n"
            f"cli(['doctor', '--data-dir', {str(tmp_path)!r}, '--cache-dir', {str(tmp_path)!r}],"
            " standalone_mode=False)\n"
            "print(sorted(m for m in sys.modules if m in ('nevergrad', 'pymoo', 'datasets', 'ray')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]" and "nevergrad" in out  # its version is still listed


def test_the_checker_sees_an_arrow_against_the_flow() -> None:
    tree = ast.parse("def f():\n    from uniads_bench.runner.run import Runner\n")
    [node] = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert _imported_parts(node) == ["runner"] and floor_of("runner") > floor_of("engine")
