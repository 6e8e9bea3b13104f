"""Run folders and ledgers for the evidence tests: fake runs, their problems, the ledger's lines."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

from drillbook.evidence import ledger, signing
from drillbook.evidence import verify as v
from drillbook.settings import Settings


def make_settings(tmp_path: Path) -> Settings:
    return Settings(drills_dir=tmp_path / "drills", reports_dir=tmp_path / "reports",
                    state_dir=tmp_path / "state", runbooks_dir=tmp_path / "runbooks")


def fake_run(reports: Path, name: str, run_id: str, status: str = "passed", kind: str = "drill") -> Path:
    folder = (reports / "runbooks" if kind == "runbook" else reports) / name / run_id
    folder.mkdir(parents=True)
    key = "runbook" if kind == "runbook" else "drill"
    record = {"kind": kind, "run_id": run_id, key: name, "status": status,
              "started_at": "2026-11-02T03:00:00.000Z", "finished_at": "2026-11-02T03:01:00.000Z"}
    (folder / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    (folder / "report.html").write_text(f"<p>{name} {status}</p>\n")
    return folder


def problems(settings: Settings, **kwargs) -> list[v.Problem]:
    return v.verify_folder(settings.reports_dir, **kwargs).problems


def codes(settings: Settings, **kwargs) -> list[str]:
    return [p.code for p in problems(settings, **kwargs)]


def ledger_lines(settings: Settings) -> list[str]:
    return ledger.ledger_path(settings.reports_dir).read_text().splitlines(keepends=True)


def rewrite_member(src: Path, dst: Path, suffix: str, change: Callable[[bytes], bytes]) -> None:
    """A copy of the zip ``src`` whose members ending in ``suffix`` went through ``change``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, change(data) if info.filename.endswith(suffix) else data)


def standalone(bundle: Path, folder: Path, settings: Settings) -> subprocess.CompletedProcess[str]:
    """The shipped verify_evidence.py, run in isolated mode from the unzipped bundle with a pinned key."""
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(folder)
        top = zf.namelist()[0].split("/")[0]
    pem = folder / "published.pem"
    pem.write_bytes(signing.load_signer(settings).public_pem())
    return subprocess.run([sys.executable, "-I", "verify_evidence.py", ".", "--key", str(pem)],
                          cwd=folder / top, capture_output=True, text=True, timeout=60)
