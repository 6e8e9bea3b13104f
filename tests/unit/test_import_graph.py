"""The package's import graph stays acyclic, and imports stay at the top of modules.

A cycle makes import order matter (a half-initialised module hands out names that do not exist
yet), and an import hidden inside a function is usually a cycle worked around rather than
removed. This walks ``src/drillbook`` with ``ast``: every import that runs when its module is
imported (module level, also inside ``try``/``if``, but not ``if TYPE_CHECKING:``) is an edge of
the graph; every other import is a function-level import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "drillbook"

#: (module, imported module) kept inside a function on purpose: each saves measured start-up time
#: on every ``drillbook`` command and says so in a comment on its line or the line above.
ALLOWED_FUNCTION_IMPORTS: set[tuple[str, str]] = {
    ("drillbook.cli.serve", "drillbook.serve.server"),  # prometheus_client, APScheduler: ~75 ms
    ("drillbook.serve.schedules", "apscheduler.triggers.cron"),  # ~50 ms, cron schedules only
}

#: Function-level imports that predate this test. Only ever shrinks: never add to it.
EXPECTED_FUNCTION_IMPORTS: set[tuple[str, str]] = set()

#: Import cycles (each a sorted list of modules) that predate this test. Only ever shrinks.
EXPECTED_CYCLES: list[list[str]] = []


@dataclass(frozen=True)
class FunctionImport:
    module: str
    target: str
    path: Path
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((SRC / PACKAGE).rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _top_level(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported: module level, also within try/if blocks."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and not _is_type_checking(node):
            yield from _top_level(node.body)
            yield from _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _top_level(block)


def _type_checking_only(tree: ast.Module) -> set[int]:
    return {id(inner) for node in tree.body if isinstance(node, ast.If) and _is_type_checking(node)
            for inner in ast.walk(node)}


def _source(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a ``from ... import`` reads from, relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return [_source(node, module, is_package)]


def executed(node: ast.Import | ast.ImportFrom, module: str, is_package: bool,
             known: dict[str, Path]) -> set[str]:
    """Modules of the package that ``node`` runs: targets, their packages, imported submodules.

    The importer's own packages are left out: Python runs them before the importer anyway, and
    a package importing its submodules is no cycle.
    """
    targets = set(_targets(node, module, is_package))
    if isinstance(node, ast.ImportFrom):
        source = _source(node, module, is_package)
        targets |= {f"{source}.{alias.name}" for alias in node.names}
    found = {".".join(t.split(".")[:end]) for t in targets for end in range(1, t.count(".") + 2)}
    own_packages = {".".join(module.split(".")[:end]) for end in range(1, module.count(".") + 1)}
    return {name for name in found if name in known and name != module and name not in own_packages}


def function_imports() -> list[FunctionImport]:
    """Every import that does not run when its module is imported (TYPE_CHECKING aside)."""
    found = []
    for module, path in all_modules().items():
        tree = ast.parse(path.read_text(), str(path))
        skip = {id(node) for node in _top_level(tree.body)} | _type_checking_only(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skip:
                found += [FunctionImport(module, target, path, node.lineno)
                          for target in _targets(node, module, path.name == "__init__.py")]
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> modules it runs on import; allowed function-level imports count as edges too."""
    known = all_modules()
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        graph[module] = set()
        for node in _top_level(tree.body):
            graph[module] |= executed(node, module, is_package, known)
    for module, target in ALLOWED_FUNCTION_IMPORTS:
        if target in known:
            graph[module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, queue = set(), [start]
    while queue:
        for nxt in graph.get(queue.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def test_the_walk_sees_nested_and_relative_imports() -> None:
    module = ast.parse("from . import b\ntry:\n    import pkg.c\nexcept ImportError:\n    pass\n"
                       "def f():\n    import pkg.d\n")
    known = {name: Path() for name in ("pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d")}
    edges = set().union(*(executed(n, "pkg.a", False, known) for n in _top_level(module.body)))
    assert edges == {"pkg.b", "pkg.c"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_graph_has_the_known_edges() -> None:
    graph = import_graph()
    assert "drillbook.checks.base" in graph["drillbook.checks.kinds"]
    assert "drillbook.sandbox.launcher" in graph["drillbook.sandbox.holder"]


def test_no_import_cycles() -> None:
    new = [cycle for cycle in cycles(import_graph()) if cycle not in EXPECTED_CYCLES]
    assert new == []


def test_no_function_level_imports_but_the_allowed() -> None:
    found = {(f.module, f.target) for f in function_imports()}
    assert found - ALLOWED_FUNCTION_IMPORTS - EXPECTED_FUNCTION_IMPORTS == set()


def test_allowed_function_imports_say_why() -> None:
    for item in function_imports():
        if (item.module, item.target) in ALLOWED_FUNCTION_IMPORTS:
            lines = item.path.read_text().splitlines()[max(0, item.line - 2):item.line]
            assert any("#" in line and "start-up" in line.split("#", 1)[1] for line in lines), item


def test_checks_and_sandbox_do_not_reach_the_engine() -> None:
    graph = import_graph()
    for module in graph:
        if module.startswith(("drillbook.checks", "drillbook.sandbox")):
            assert "drillbook.drill.engine" not in reachable(graph, module), module


#: Who may open or walk a restored tree: the reader, which runs inside the sandbox as the sandbox
#: account (checks/reading, and pgbin's readers it uses), and the sandbox room's own passes over
#: the tree (made safe, removed), which walk by descriptors.
RESTORE_READERS = ("drillbook.checks.reading.", "drillbook.checks.services.pgbin",
                   "drillbook.sandbox.safety", "drillbook.sandbox.removal", "drillbook.util.")
#: The names that open or walk a restore.
RESTORE_OPENERS = {("drillbook.util.restored", "RestoredPath"), ("drillbook.util.dirfd", "walk"),
                   ("drillbook.util.dirfd", "up")}
#: What drillbook's own process may take from the reader: pure helpers that touch no file.
READER_NAMES_OUTSIDE = {"crash_words", "listing_input", "listing_line"}


def _imported_names(path: Path) -> Iterator[tuple[str, str]]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield from ((node.module, alias.name) for alias in node.names)


def test_only_the_reader_and_the_sandbox_room_open_or_walk_a_restore() -> None:
    openers = {module: sorted(f"{source}.{name}" for source, name in _imported_names(path)
                              if (source, name) in RESTORE_OPENERS)
               for module, path in all_modules().items() if not module.startswith(RESTORE_READERS)}
    assert {module: names for module, names in openers.items() if names} == {}


def test_drillbooks_own_process_takes_no_reading_function_from_the_reader() -> None:
    taken = {module: sorted(name for source, name in _imported_names(path)
                            if source.startswith("drillbook.checks.reading")
                            and name not in READER_NAMES_OUTSIDE)
             for module, path in all_modules().items()
             if not module.startswith("drillbook.checks.reading")}
    assert {module: names for module, names in taken.items() if names} == {}
