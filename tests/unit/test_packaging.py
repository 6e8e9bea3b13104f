"""What pip and PyPI read from pyproject.toml: scripts that resolve, honest metadata, used test deps."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

#: Where each test-extra dependency is used: a text that must appear in that file.
USED_BY = {
    "pytest": ("Makefile", "-m pytest"),
    "pytest-timeout": ("pyproject.toml", "timeout = "),
    "pytest-xdist": ("Makefile", "--dist loadfile"),
    "moto": ("devtools/motoserver.py", "moto"),
    "junitparser": ("tests/integration/test_junit.py", "from junitparser import"),
    "pytest-cov": ("Makefile", "--cov="),
    "ruff": ("Makefile", "/ruff check"),
    "mypy": ("Makefile", "/mypy"),
    "types-pyyaml": ("tests/unit/spec/test_reference.py", "import yaml"),
    "securesystemslib": ("tests/unit/evidence/test_attestation.py", "from securesystemslib.dsse import"),
}


def test_every_console_script_resolves_to_a_callable() -> None:
    scripts = PROJECT["scripts"]
    assert scripts["drillbook-verify-evidence"] == "drillbook.evidence.verify:main"
    for name, target in scripts.items():
        module, _, attribute = target.partition(":")
        assert callable(getattr(importlib.import_module(module), attribute)), name


def test_metadata_says_what_drillbook_is_without_placeholders() -> None:
    assert PROJECT["readme"] == "README.md"
    assert "drillbook proves that backups can be recovered" in (ROOT / "README.md").read_text()
    classifiers = PROJECT["classifiers"]
    assert "Topic :: System :: Archiving :: Backup" in classifiers
    assert f"Programming Language :: Python :: {PROJECT['requires-python'].removeprefix('>=')}" in classifiers
    for url in PROJECT.get("urls", {}).values():
        assert "example" not in url, f"{url} is a placeholder"


def test_every_test_dependency_is_used() -> None:
    for requirement in PROJECT["optional-dependencies"]["test"]:
        name = re.split(r"[<>=\[;\s]", requirement, maxsplit=1)[0].lower()
        assert name in USED_BY, f"{name} is in the test extra but nothing here says what uses it"
        path, needle = USED_BY[name]
        assert needle in (ROOT / path).read_text(), f"{name}: {path} no longer uses it"
