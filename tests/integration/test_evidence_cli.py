"""Evidence through the CLI with real restic: sealing, tamper detection, keys, concurrency, export."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.support import STANDARD_CHECKS, Workspace, make_repo, write_drill

FAILING_CHECK = """\
verify:
  - type: files
    path: srv/clinic/docs
    required: [no-such-letter.txt]
"""


@pytest.fixture(scope="module")
def sealed(tmp_path_factory) -> Workspace:
    """Three real runs (two passed, one failed) sealed into the ledger; tests copy it."""
    tmp = tmp_path_factory.mktemp("evidence")
    repo = make_repo(tmp)
    repo.backup()
    ws = Workspace(tmp / "ws")
    for folder in (ws.drills, ws.reports, ws.sandboxes, ws.state):
        folder.mkdir(parents=True)
    write_drill(ws.drills, "clinic", repo.path, body=STANDARD_CHECKS + "schedule: monthly\n")
    write_drill(ws.drills, "broken", repo.path, body=FAILING_CHECK)
    write_drill(ws.drills, "never", repo.path, body="schedule: quarterly\n")
    assert ws.cli("run", "clinic").returncode == 0
    second = ws.cli("run", "clinic", "broken")
    assert second.returncode == 1, second.stderr
    assert "evidence: ledger entry #3, head #3" in second.stdout
    return ws


@pytest.fixture
def ws(sealed, tmp_path) -> Workspace:
    copy = Workspace(tmp_path / "ws")
    shutil.copytree(sealed.root, copy.root, symlinks=True)
    return copy


def verify(ws: Workspace, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return ws.cli("evidence", "verify", *args)


def run_dirs(ws: Workspace, drill: str) -> list[Path]:
    return sorted(p for p in (ws.reports / drill).iterdir() if p.is_dir())


def test_verify_passes_after_runs_with_a_summary(ws):
    result = verify(ws)
    assert result.returncode == 0, result.stdout
    assert "Evidence verified: OK" in result.stdout
    assert "3 in the ledger" in result.stdout and "failed 1, passed 2" in result.stdout
    head = json.loads((ws.reports / "evidence" / "ledger.jsonl").read_text().splitlines()[-1])["hash"]
    assert head in result.stdout
    for folder in run_dirs(ws, "clinic") + run_dirs(ws, "broken"):
        assert {p.name for p in folder.iterdir()} >= {"run.json", "report.html", "report.md", "junit.xml"}


def test_one_changed_byte_fails_naming_the_run_and_restoring_passes(ws):
    target = run_dirs(ws, "clinic")[0] / "run.json"
    original = target.read_bytes()
    at = original.index(b'"passed"') + 1
    target.write_bytes(original[:at] + b"P" + original[at + 1:])
    result = verify(ws)
    assert result.returncode == 1
    assert target.parent.name in result.stdout and "run.json was changed" in result.stdout
    target.write_bytes(original)
    assert verify(ws).returncode == 0


def test_deleted_run_folder_fails(ws):
    gone = run_dirs(ws, "broken")[0]
    shutil.rmtree(gone)
    result = verify(ws)
    assert result.returncode == 1
    assert f"run {gone.name}: run folder broken/{gone.name}/ is missing" in result.stdout


def test_removed_or_reordered_ledger_line_is_a_chain_break(ws):
    path = ws.reports / "evidence" / "ledger.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + lines[2])
    removed = verify(ws)
    assert removed.returncode == 1 and "chain break at sequence 3" in removed.stdout
    path.write_text(lines[1] + lines[0] + lines[2])
    reordered = verify(ws)
    assert reordered.returncode == 1 and "chain break at sequence 2" in reordered.stdout


def test_a_different_public_key_fails(ws, tmp_path):
    other = tmp_path / "other.pem"
    other.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    result = verify(ws, "--key", str(other))
    assert result.returncode == 1 and result.stdout.count("[wrong-key]") == 3
    mine = verify(ws, "--key", str(ws.reports / "evidence" / "public-key.pem"))
    assert mine.returncode == 0


def test_anchor_published_earlier(ws):
    first = json.loads((ws.reports / "evidence" / "ledger.jsonl").read_text().splitlines()[0])["hash"]
    assert verify(ws, "--anchor", first).returncode == 0
    missing = verify(ws, "--anchor", "f" * 64)
    assert missing.returncode == 1 and "is not in the chain" in missing.stdout


def test_key_command_prints_public_key_and_fingerprint(ws):
    result = ws.cli("evidence", "key")
    assert result.returncode == 0
    assert "BEGIN PUBLIC KEY" in result.stdout and "fingerprint:" in result.stdout
    assert "PRIVATE" not in result.stdout
    assert (ws.state / "signing-key.pem").exists()


def test_drills_sealing_at_the_same_time_keep_one_chain(workspace, repo):
    """Four runs at once, two of them of the same drill: that one waits for its drill's lock."""
    for name in ("alpha", "beta", "gamma"):
        write_drill(workspace.drills, name, repo.path, body=STANDARD_CHECKS)
    procs = [subprocess.Popen([sys.executable, "-m", "drillbook", "run", name, "--wait-lock", "200s"],
                              cwd=workspace.root, env=workspace.env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for name in ("alpha", "beta", "gamma", "alpha")]
    for proc in procs:
        proc.communicate(timeout=240)
        assert proc.returncode == 0
    result = workspace.cli("evidence", "verify")
    assert result.returncode == 0, result.stdout
    assert "4 in the ledger" in result.stdout
    entries = [json.loads(line) for line in (workspace.reports / "evidence" / "ledger.jsonl").read_text().splitlines()]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4] and len({e["key_id"] for e in entries}) == 1


def test_export_verifies_in_an_empty_folder_and_a_tampered_copy_fails(ws, tmp_path):
    bundle = tmp_path / "audit-2026.zip"
    exported = ws.cli("evidence", "export", "--out", str(bundle), "--drill", "clinic")
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
    assert "audit-2026/verify_evidence.py" in names and "audit-2026/README.txt" in names
    assert "audit-2026/evidence/public-key.pem" in names and "audit-2026/bundle.json" in names
    assert any(n.startswith("audit-2026/compliance-") and n.endswith(".html") for n in names)
    assert not any("/broken/" in n for n in names) and not any("signing-key" in n for n in names)
    assert ("without drillbook: unzip audit-2026.zip, then in the folder audit-2026/ it makes: "
            "python3 verify_evidence.py . --key PUBLIC.pem") in exported.stdout

    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(bundle, empty / bundle.name)
    ok = subprocess.run([sys.executable, "-m", "drillbook", "evidence", "verify", bundle.name], cwd=empty,
                        env={**ws.env(), "DRILLBOOK_REPORTS": str(empty / "none")}, capture_output=True,
                        text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout
    assert "2 run folder(s) re-hashed" in ok.stdout

    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(empty)
    standalone = subprocess.run([sys.executable, "-I", "verify_evidence.py", ".", "--key",
                                 "evidence/public-key.pem"], cwd=empty / "audit-2026",
                                capture_output=True, text=True, timeout=60)
    assert standalone.returncode == 0, standalone.stdout + standalone.stderr

    victim = next(n for n in names if n.endswith("/run.json"))
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == victim:
                data = data.replace(b'"passed"', b'"passeD"', 1)
            dst.writestr(info, data)
    bad = ws.cli("evidence", "verify", str(tampered))
    run_id = victim.split("/")[-2]
    assert bad.returncode == 1 and run_id in bad.stdout and "run.json was changed" in bad.stdout


def test_flipped_byte_in_the_zip_itself_fails_naming_the_member(ws, tmp_path):
    bundle = tmp_path / "b.zip"
    assert ws.cli("evidence", "export", "--out", str(bundle)).returncode == 0
    with zipfile.ZipFile(bundle) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith("/run.json"))
    raw = bytearray(bundle.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + info.compress_size // 2] ^= 0x01
    bundle.write_bytes(bytes(raw))
    result = ws.cli("evidence", "verify", str(bundle))
    assert result.returncode == 1
    assert info.filename.split("/")[-2] in result.stdout


def test_export_selection_errors_are_bad_input(ws, tmp_path):
    result = ws.cli("evidence", "export", "--out", str(tmp_path / "x.zip"), "--period", "2019Q1")
    assert result.returncode == 2 and "no sealed run matches" in result.stderr
    assert ws.cli("evidence", "export", "--out", str(tmp_path / "x.zip"), "--period", "Q9").returncode == 2
