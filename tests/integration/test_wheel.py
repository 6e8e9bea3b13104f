"""The wheel people install: no demo or test code inside, and it works without the test extra."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a copy of what the sdist holds, so no stale build folder can leak into it."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
                   check=True, capture_output=True, text=True, timeout=300)
    return next(out.glob("drillbook-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with only the wheel and its declared dependencies."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", str(wheel)],
                   check=True, capture_output=True, text=True, timeout=600)
    return venv


def test_wheel_holds_the_package_and_nothing_of_the_demo_or_tests(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    modules = [n for n in names if n.endswith(".py")]
    assert "drillbook/cli/app.py" in modules and "drillbook/evidence/verify.py" in modules
    assert any(n.startswith("drillbook/report/templates/") for n in names)
    assert not [n for n in modules if not n.startswith("drillbook/")], "only the drillbook package ships"
    assert not [n for n in modules if "demo" in n or "moto" in n]


def test_installed_wheel_runs_without_the_test_extra(installed: Path) -> None:
    python = str(installed / "bin/python")
    assert subprocess.run([python, "-c", "import moto"], capture_output=True).returncode != 0
    help_text = subprocess.run([str(installed / "bin/drillbook"), "--help"], capture_output=True,
                               text=True, timeout=60, check=True).stdout
    assert "Usage: drillbook" in help_text and "validate" in help_text
    as_module = subprocess.run([python, "-m", "drillbook", "--version"], capture_output=True, text=True,
                               timeout=60, check=True)
    assert "drillbook" in as_module.stdout
    validated = subprocess.run([str(installed / "bin/drillbook"), "validate"], cwd=ROOT, capture_output=True,
                               text=True, timeout=60)
    assert validated.returncode == 0, validated.stderr
    shipped = len(list((ROOT / "drills").glob("*.yaml")))
    assert f"{shipped} drill(s) valid" in validated.stdout


def dist_info(wheel: Path, name: str) -> str:
    archive = zipfile.ZipFile(wheel)
    return archive.read(next(n for n in archive.namelist() if n.endswith(f".dist-info/{name}"))).decode()


def test_wheel_metadata_describes_drillbook_and_names_both_scripts(wheel: Path) -> None:
    metadata = dist_info(wheel, "METADATA")
    headers, _, body = metadata.partition("\n\n")
    assert "Classifier: Topic :: System :: Archiving :: Backup" in headers
    assert "Description-Content-Type: text/markdown" in headers
    assert "drillbook proves that backups can be recovered" in body
    scripts = dist_info(wheel, "entry_points.txt")
    assert "drillbook = drillbook.cli.app:main" in scripts
    assert "drillbook-verify-evidence = drillbook.evidence.verify:main" in scripts


def test_installed_verifier_checks_a_folder_on_its_own(installed: Path, tmp_path: Path) -> None:
    verifier = str(installed / "bin/drillbook-verify-evidence")
    usage = subprocess.run([verifier, "--help"], capture_output=True, text=True, timeout=60, check=True)
    assert "Verify drillbook evidence" in usage.stdout
    missing = subprocess.run([verifier, str(tmp_path / "no-such-folder")], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2, (missing.stdout, missing.stderr)
