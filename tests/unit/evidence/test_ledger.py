"""The ledger and its verifier on hand-made run folders: every kind of tampering is named."""

from __future__ import annotations

import ast
import fcntl
import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drillbook.errors import BadInput
from drillbook.evidence import ledger, signing
from drillbook.evidence import verify as v
from tests.unit.evidence.ledgers import codes, fake_run, ledger_lines, make_settings, problems


def test_sealed_runs_verify_and_chain(sealed):
    settings, _ = sealed
    result = v.verify_folder(settings.reports_dir)
    assert result.ok, result.problems
    assert result.entries == 3 and result.runs_checked == 3 and result.statuses == {"passed": 3}
    entries = ledger.read_entries(settings.reports_dir)
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert entries[0]["prev"] == v.GENESIS and entries[1]["prev"] == entries[0]["hash"]
    assert set(entries[0]["files"]) == {"run.json", "report.html", "attestation.dsse.json"}
    assert result.head == entries[-1]["hash"]


def test_changed_byte_names_run_and_file_and_restoring_fixes_it(sealed):
    settings, folders = sealed
    run_json = folders[1] / "run.json"
    original = run_json.read_bytes()
    run_json.write_bytes(original.replace(b"passed", b"passes"))
    found = problems(settings)
    assert [p.code for p in found] == ["file-changed"]
    assert found[0].run_id == folders[1].name and found[0].file.endswith("run.json")
    run_json.write_bytes(original)
    assert problems(settings) == []


def test_removed_added_files_and_missing_folder(sealed):
    settings, folders = sealed
    (folders[0] / "report.html").unlink()
    (folders[1] / "extra.txt").write_text("slipped in later")
    for path in folders[2].iterdir():
        path.unlink()
    folders[2].rmdir()
    assert sorted(codes(settings)) == ["file-added", "file-missing", "run-missing"]


def test_removed_reordered_and_inserted_lines_are_chain_breaks(sealed):
    settings, _ = sealed
    path = ledger.ledger_path(settings.reports_dir)
    lines = ledger_lines(settings)
    path.write_text(lines[0] + lines[2])
    assert "chain-break" in codes(settings)
    path.write_text(lines[1] + lines[0] + lines[2])
    assert codes(settings).count("chain-break") >= 2
    forged = json.loads(lines[1])
    forged["status"] = "passed"
    forged["run_id"] = "forged"
    forged["hash"] = v.entry_hash(forged)  # consistent hash, but no valid signature nor link
    path.write_text(lines[0] + lines[1] + json.dumps(forged) + "\n" + lines[2])
    assert {"chain-break", "bad-signature"} <= set(codes(settings))


def test_edited_entry_is_detected(sealed):
    settings, _ = sealed
    path = ledger.ledger_path(settings.reports_dir)
    lines = ledger_lines(settings)
    entry = json.loads(lines[1])
    entry["status"] = "failed"
    path.write_text(lines[0] + json.dumps(entry) + "\n" + lines[2])
    assert "entry-edited" in codes(settings)


def test_torn_line_is_reported_and_next_append_keeps_the_chain(sealed):
    settings, _ = sealed
    path = ledger.ledger_path(settings.reports_dir)
    with open(path, "a") as fh:
        fh.write('{"seq":4,"run_id":"half-writ')
    assert codes(settings) == ["torn-line"]
    later = fake_run(settings.reports_dir, "clinic", "20261103T010000Z-000004")
    entry = ledger.seal(later, settings)
    assert entry["seq"] == 4
    found = problems(settings)
    assert [p.code for p in found] == ["bad-line"]  # still reported, never dropped
    assert "line 4" in found[0].message


def test_different_key_fails_and_right_key_passes(sealed, tmp_path):
    settings, _ = sealed
    other = Ed25519PrivateKey.generate().public_key()
    assert codes(settings, pinned_keys=[other]) == ["wrong-key"] * 3
    mine = v.load_public_key((settings.reports_dir / "evidence" / "public-key.pem").read_bytes())
    assert codes(settings, pinned_keys=[mine]) == []


def test_replaced_published_key_does_not_verify_old_signatures(sealed):
    settings, _ = sealed
    evidence = settings.reports_dir / "evidence"
    attacker = Ed25519PrivateKey.generate().public_key()
    pem = attacker.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    kid = json.loads(ledger_lines(settings)[0])["key_id"]
    (evidence / "keys" / f"{kid}.pem").write_bytes(pem)
    (evidence / "public-key.pem").write_bytes(pem)
    assert "wrong-key" in codes(settings)


def test_anchor_found_or_missing(sealed):
    settings, _ = sealed
    first = json.loads(ledger_lines(settings)[0])["hash"]
    assert codes(settings, anchors=[first[:20]]) == []
    assert codes(settings, anchors=["ab" * 32]) == ["anchor-missing"]
    assert codes(settings, anchors=[first[:4]]) == ["anchor-missing"]  # too short to mean anything


def test_unrecorded_running_and_idempotent_seal(sealed):
    settings, folders = sealed
    fake_run(settings.reports_dir, "clinic", "20261104T010000Z-000009")
    running = fake_run(settings.reports_dir, "clinic", "20261104T020000Z-00000a", status="running")
    assert ledger.seal(running, settings) is None
    result = v.verify_folder(settings.reports_dir)
    assert [p.code for p in result.problems] == ["unrecorded"]
    assert result.in_progress == [f"clinic/{running.name}"]
    again = ledger.seal(folders[0], settings)
    assert again["seq"] == 1 and len(ledger_lines(settings)) == 3


def test_amended_folder_gets_a_new_entry_and_verifies(sealed):
    settings, folders = sealed
    (folders[0] / "notes.txt").write_text("upload receipt")
    entry = ledger.seal(folders[0], settings)
    assert entry["seq"] == 4 and entry["amends"] == 1
    assert problems(settings) == []


def test_runbook_runs_are_sealed_too(sealed):
    settings, _ = sealed
    folder = fake_run(settings.reports_dir, "restore-portal", "20261105T010000Z-00000b", kind="runbook")
    entry = ledger.seal(folder, settings)
    assert entry["kind"] == "runbook" and entry["name"] == "restore-portal"
    assert entry["path"] == f"runbooks/restore-portal/{folder.name}"
    assert problems(settings) == []


def test_key_generated_private_0600_outside_reports(sealed):
    settings, _ = sealed
    key = settings.state_dir / signing.KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert not any("PRIVATE" in p.read_text(errors="ignore") for p in settings.reports_dir.rglob("*") if p.is_file())


def test_key_from_env_and_refused_under_reports(tmp_path, monkeypatch):
    settings = make_settings(tmp_path)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    given = tmp_path / "vault" / "k.pem"
    given.parent.mkdir()
    given.write_bytes(pem)
    monkeypatch.setenv(signing.KEY_ENV, str(given))
    assert signing.load_signer(settings).source == given
    inside = settings.reports_dir / "k.pem"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(pem)
    monkeypatch.setenv(signing.KEY_ENV, str(inside))
    with pytest.raises(BadInput, match="inside the reports folder"):
        signing.load_signer(settings)
    monkeypatch.setenv(signing.KEY_ENV, str(tmp_path / "nope.pem"))
    with pytest.raises(BadInput, match="no such file"):
        signing.load_signer(settings)


def _seal_many(args: tuple[str, list[str]]) -> None:
    root, folders = args
    settings = make_settings(Path(root))
    for folder in folders:
        ledger.seal(Path(folder), settings)


def test_concurrent_appends_never_fork_the_chain(tmp_path, monkeypatch):
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    settings = make_settings(tmp_path)
    signing.load_signer(settings)  # the key exists; the race is on the ledger itself
    batches = [[str(fake_run(settings.reports_dir, f"d{p}", f"20261106T0{i}0000Z-{p}0000{i}"))
                for i in range(8)] for p in range(4)]
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.map(_seal_many, [(str(tmp_path), b) for b in batches])
    result = v.verify_folder(settings.reports_dir)
    assert result.ok, result.problems
    assert result.entries == 32


def test_concurrent_first_use_agrees_on_one_key(tmp_path, monkeypatch):
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    settings = make_settings(tmp_path)
    batches = [[str(fake_run(settings.reports_dir, f"k{p}", f"20261107T010000Z-{p}00000"))] for p in range(4)]
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.map(_seal_many, [(str(tmp_path), b) for b in batches])
    assert v.verify_folder(settings.reports_dir).ok
    assert len({e["key_id"] for e in ledger.read_entries(settings.reports_dir)}) == 1


def test_standalone_verifier_imports_nothing_of_drillbook():
    tree = ast.parse(Path(v.__file__).read_text())
    modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(m.startswith("drillbook") for m in modules)
    assert {m.split(".")[0] for m in modules} <= {
        "__future__", "argparse", "base64", "hashlib", "json", "os", "stat", "sys", "tempfile", "zipfile", "zlib",
        "collections", "dataclasses", "pathlib", "typing", "cryptography"}


def test_unreadable_ledger_line_in_the_middle(sealed):
    settings, _ = sealed
    path = ledger.ledger_path(settings.reports_dir)
    lines = ledger_lines(settings)
    path.write_text(lines[0] + "garbage\n" + lines[1] + lines[2])
    assert codes(settings) == ["bad-line"]


def test_ledger_and_its_folder_are_private_to_drillbook_and_its_reader_group(sealed):
    settings, _ = sealed
    path = ledger.ledger_path(settings.reports_dir)
    assert oct(stat.S_IMODE(path.stat().st_mode)) == oct(0o640)
    assert oct(stat.S_IMODE(path.parent.stat().st_mode)) == oct(0o750)


# -- the ledger lock -------------------------------------------------------------------------------

def test_the_ledger_lock_is_in_the_private_state_folder_and_nowhere_under_reports(sealed):
    """Whoever can open the lock file can flock it and stop every run from being sealed."""
    settings, _ = sealed
    lock = settings.state_dir / ledger.LOCK_FILE
    assert lock.is_file() and oct(stat.S_IMODE(lock.stat().st_mode)) == oct(0o600)
    assert [p for p in settings.reports_dir.rglob("*") if "lock" in p.name] == []


def test_a_flock_on_every_file_under_reports_does_not_stop_sealing(sealed, monkeypatch):
    """Another open file description of each file stands for another account holding it."""
    settings, _ = sealed
    monkeypatch.setattr(ledger, "LOCK_TIMEOUT", 0.5)
    held = []
    try:
        for path in [p for p in settings.reports_dir.rglob("*") if p.is_file()]:
            held.append(os.open(path, os.O_RDONLY))
            fcntl.flock(held[-1], fcntl.LOCK_EX | fcntl.LOCK_NB)
        later = fake_run(settings.reports_dir, "clinic", "20261108T010000Z-00000c")
        assert ledger.seal(later, settings)["seq"] == 4
    finally:
        for fd in held:
            os.close(fd)
    assert problems(settings) == []


def test_a_lock_file_an_older_drillbook_left_under_evidence_is_no_problem(sealed):
    """Earlier versions locked reports/evidence/ledger.lock; it stays there and is not evidence."""
    settings, _ = sealed
    (settings.reports_dir / "evidence" / "ledger.lock").write_bytes(b"")
    assert problems(settings) == []
    later = fake_run(settings.reports_dir, "clinic", "20261108T020000Z-00000d")
    assert ledger.seal(later, settings)["seq"] == 4
    assert problems(settings) == []


# -- what an append leaves on disk -------------------------------------------------------------------

def _fd_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


@pytest.fixture
def disk_calls(monkeypatch):
    """Every os.write and os.fsync, in order, by the path of the descriptor; writes to the ledger
    are cut short to at most ``limit[0]`` bytes (a full disk, a signal)."""
    calls: list[tuple[str, str, int]] = []
    limit = [1 << 30]
    real_write, real_fsync = os.write, os.fsync

    def write(fd, data):
        path = _fd_path(fd)
        if path.endswith("ledger.jsonl"):
            data = bytes(data)[:limit[0]]
        written = real_write(fd, data) if data else 0
        calls.append(("write", path, written))
        return written

    def fsync(fd):
        calls.append(("fsync", _fd_path(fd), 0))
        real_fsync(fd)

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "fsync", fsync)
    return calls, limit


def test_an_append_cut_short_is_written_to_the_end_then_the_file_and_its_folder_fsynced(sealed, disk_calls):
    settings, _ = sealed
    calls, limit = disk_calls
    limit[0] = 7
    later = fake_run(settings.reports_dir, "clinic", "20261109T010000Z-00000e")
    entry = ledger.seal(later, settings)
    path = str(ledger.ledger_path(settings.reports_dir).resolve())
    writes = [c for c in calls if c[0] == "write" and c[1] == path]
    assert len(writes) > 10 and all(c[2] <= 7 for c in writes)  # many short writes, none lost
    assert json.loads(ledger_lines(settings)[-1]) == entry and problems(settings) == []
    last_write = max(i for i, c in enumerate(calls) if c[0] == "write" and c[1] == path)
    file_synced = [i for i, c in enumerate(calls) if c == ("fsync", path, 0) and i > last_write]
    assert file_synced, "the ledger was not fsynced after its last write"
    folder = str(Path(path).parent)
    assert ("fsync", folder, 0) in calls[file_synced[0]:], "the ledger's folder was not fsynced after it"


def test_an_append_that_writes_nothing_raises_and_leaves_no_entry(sealed, disk_calls):
    settings, _ = sealed
    _, limit = disk_calls
    limit[0] = 0
    later = fake_run(settings.reports_dir, "clinic", "20261109T020000Z-00000f")
    with pytest.raises(OSError, match="wrote nothing"):
        ledger.seal(later, settings)
    assert len(ledger_lines(settings)) == 3
    assert codes(settings) == ["unrecorded"]  # the run stays visible as not sealed
