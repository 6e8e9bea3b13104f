"""The tests' own layout: unit tests stand alone, and each shared helper has one copy (tests/support.py)."""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
SHARED = {"free_port"}  # helpers the unit and integration tests share, defined in tests/support.py only


def modules(folder: Path) -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in sorted(folder.rglob("*.py"))]


def test_unit_tests_import_nothing_from_the_integration_tests():
    imports = [f"{path.relative_to(TESTS)}: {node.module}" for path, tree in modules(TESTS / "unit")
               for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests.integration")]
    assert imports == [], "move what they need to tests/support.py"


def test_shared_helpers_are_defined_once_in_support():
    defined = [(str(path.relative_to(TESTS)), node.name) for path, tree in modules(TESTS)
               for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name in SHARED]
    assert defined == [("support.py", "free_port")]
