"""The append-only evidence ledger: one signed, hash-chained line per finished run.

Appends hold an exclusive file lock for the whole read-last-entry/write-line step, so two runs
finishing together, or the scheduler and a manual run, never fork the chain. The lock file lives
in drillbook's state folder (0700), not beside the ledger: flock needs only a descriptor open for
reading, so any account that can read a file under reports/ (a reader group, a copy made
readable) could hold a lock there for ever and stop every run from being sealed. The state folder
also holds the signing key, so whatever appends to one ledger shares that folder already (``serve``
passes its own to the runs it starts). Each entry is written
as one whole line in one ``write``; a line torn by a crash is kept (terminated, so it stays its
own line) and reported by verification rather than dropped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from drillbook.errors import BadInput, CannotRun
from drillbook.evidence import attestation
from drillbook.evidence import verify as fmt
from drillbook.evidence.signer import EvidenceSigner
from drillbook.evidence.signing import load_signer
from drillbook.outputs.runstore import RUN_FILE, read_record
from drillbook.settings import STATE_MODE, Settings
from drillbook.spec.models import ProjectConfig
from drillbook.status import Status
from drillbook.util.atomic import FILE_MODE, fsync_folder, make_folders, write_all, write_text_atomic
from drillbook.util.clock import iso, utc_now
from drillbook.util.locks import LockBusy, file_lock

LOCK_FILE = "ledger.lock"
LOCK_TIMEOUT = 120.0


def evidence_dir(reports: Path) -> Path:
    return reports / fmt.LEDGER_DIR


def ledger_path(reports: Path) -> Path:
    return evidence_dir(reports) / fmt.LEDGER_FILE


@contextmanager
def locked(settings: Settings, timeout: float | None = None) -> Iterator[None]:
    """Hold the ledger's lock (in the state folder, made 0700 if missing) inside the block."""
    timeout = LOCK_TIMEOUT if timeout is None else timeout
    make_folders(settings.state_dir, STATE_MODE)
    try:
        with file_lock(settings.state_dir / LOCK_FILE, timeout=timeout):
            yield
    except LockBusy:
        raise CannotRun(f"the evidence ledger in {evidence_dir(settings.reports_dir)} stayed locked for "
                        f"{timeout:.0f}s by another drillbook process (lock {settings.state_dir / LOCK_FILE})"
                        ) from None


def read_entries(reports: Path) -> list[dict[str, Any]]:
    """The readable entries in file order (verification reports the unreadable ones)."""
    scratch = fmt.Result(root=str(reports))
    return fmt.read_ledger(ledger_path(reports), scratch) if ledger_path(reports).exists() else []


def head(reports: Path) -> dict[str, Any] | None:
    entries = read_entries(reports)
    return entries[-1] if entries else None


def entry_for(reports: Path, run_id: str) -> dict[str, Any] | None:
    found = [e for e in fmt.run_entries(read_entries(reports)) if e.get("run_id") == run_id]
    return found[-1] if found else None


def append(settings: Settings, run_dir: Path, signer: EvidenceSigner) -> dict[str, Any] | None:
    """Seal one finished run folder; None for a run still running. Idempotent per unchanged folder."""
    reports = settings.reports_dir
    record = read_record(run_dir / RUN_FILE)
    if record is None:
        raise CannotRun(f"cannot seal {run_dir}: {RUN_FILE} is missing or unreadable")
    if record.get("status") == Status.RUNNING:
        return None
    rel = run_dir.resolve().relative_to(reports.resolve()).as_posix()
    with locked(settings):
        publish_key(reports, signer)
        entries = read_entries(reports)
        attestation.attest(run_dir, record, signer)  # before the manifest: the ledger covers it
        files = fmt.manifest(run_dir)
        earlier = [e for e in fmt.run_entries(entries) if e.get("path") == rel]
        if earlier and earlier[-1].get("files") == files:
            return earlier[-1]
        amends = earlier[-1].get("seq") if earlier else None
        entry = _new_entry(record, rel, files, entries, signer, amends)
        _write_line(ledger_path(reports), entry)
        return entry


def _new_entry(record: dict[str, Any], rel: str, files: dict[str, str],
               entries: list[dict[str, Any]], signer: EvidenceSigner, amends: int | None) -> dict[str, Any]:
    last = entries[-1] if entries else None
    entry: dict[str, Any] = {
        "format": fmt.FORMAT,
        "seq": (int(last["seq"]) + 1) if last else 1,
        "run_id": record.get("run_id"),
        "kind": record.get("kind", "drill"),
        "name": record.get("drill") or record.get("runbook") or rel.split("/")[-2],
        "status": record.get("status"),
        "started_at": record.get("started_at"),
        "finished_at": record.get("finished_at"),
        "sealed_at": iso(utc_now()),
        "path": rel,
        "files": files,
        "prev": last["hash"] if last else fmt.GENESIS,
        "key_id": signer.key_id,
        "key_type": signer.key_type,
    }
    if amends is not None:
        entry["amends"] = amends  # the folder changed after an earlier seal: both stay in the chain
    entry["hash"] = fmt.entry_hash(entry)
    entry["sig"] = signer.sign(entry["hash"])
    return entry


def append_note(settings: Settings, run_id: str, note: dict[str, str], signer: EvidenceSigner) -> dict[str, Any]:
    """Seal a note about a sealed run as its own entry: the run's entry and folder stay as they are."""
    reports = settings.reports_dir
    with locked(settings):
        publish_key(reports, signer)
        entries = read_entries(reports)
        runs = [e for e in fmt.run_entries(entries) if e.get("run_id") == run_id]
        if not runs:
            raise BadInput(f"no sealed run {run_id} in the ledger {ledger_path(reports)}: give the run id of a "
                           "finished run (`drillbook evidence verify` counts them; run folders are named by it)")
        about = runs[-1]
        entry: dict[str, Any] = {
            "format": fmt.NOTE_FORMAT, "seq": int(entries[-1]["seq"]) + 1, "kind": fmt.NOTE_KIND,
            "run_id": run_id, "name": about.get("name"), "about": about["seq"], "path": about["path"],
            "files": {}, **note, "sealed_at": iso(utc_now()), "prev": entries[-1]["hash"],
            "key_id": signer.key_id, "key_type": signer.key_type,
        }
        entry["hash"] = fmt.entry_hash(entry)
        entry["sig"] = signer.sign(entry["hash"])
        _write_line(ledger_path(reports), entry)
        return entry


def _write_line(path: Path, entry: dict[str, Any]) -> None:
    line = json.dumps({k: v for k, v in entry.items() if not k.startswith("_")},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        prefix = b"\n" if _torn_tail(path) else b""  # a torn fragment stays its own line: verify reports it
        write_all(fd, prefix + line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_folder(path.parent)


def _torn_tail(path: Path) -> bool:
    size = path.stat().st_size
    if size == 0:
        return False
    with open(path, "rb") as fh:
        fh.seek(size - 1)
        return fh.read(1) != b"\n"


def publish_key(reports: Path, signer: EvidenceSigner) -> Path:
    """public-key.pem (the current key) and keys/<id>.pem (every key that ever signed)."""
    folder = evidence_dir(reports)
    pem = signer.public_pem().decode("ascii")
    by_id = folder / fmt.KEYS_DIR / f"{signer.key_id}.pem"
    for path in (folder / fmt.PUBLIC_KEY_FILE, by_id):
        if not path.exists() or path.read_text(encoding="ascii", errors="replace") != pem:
            write_text_atomic(path, pem)
    return folder / fmt.PUBLIC_KEY_FILE


def seal(run_dir: Path, settings: Settings, project: ProjectConfig | None = None) -> dict[str, Any] | None:
    """Append ``run_dir`` (a drill or runbook run folder under the reports folder) to the ledger,
    signed by the key ``project`` (drillbook.yaml, read again when not given) names."""
    return append(settings, run_dir, load_signer(settings, project=project))
