"""The demo behind `make demo`: sample clinic data, a real restic backup, the bundled drills.

It needs no network and no cloud account. It builds ``demo/`` (gitignored), backs the data up
with restic, runs every drill in ``drills/`` through the real CLI and checks that each ended the
way the demo intends: the broken ones are meant to fail, with a reason a person understands.
The demo's own exit code is 0 when every outcome is the intended one.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devtools.repos import RepoBuilder, readable_by_all
from devtools.stacksample import add_portal_stack
from drillbook.sandbox.holder import remove_tree

ROOT = Path.cwd()
DEMO = ROOT / "demo"
PASSWORD_FILE = DEMO / "secrets" / "clinic-restic-password"
REPOSITORY = DEMO / "repositories" / "clinic"
SOURCE = DEMO / "source"
#: The demo keeps its state (schedule, locks, the evidence signing key) inside the checkout.
STATE = DEMO / "state"

# drill -> the status the demo intends it to end with
EXPECTED = {
    "clinic-documents": "passed",
    "appointments-db": "passed",
    "lab-archive-weekly": "failed",  # its newest matching snapshot is older than its RPO
    "patient-portal": "passed",  # a web service started from the restore, isolated
    "portal-stack": "passed",  # PostgreSQL from its dump, then the portal application answering from it
    "patients-mariadb": "passed",  # MariaDB from a gzip-compressed mysqldump, queried
}


@dataclass
class DemoState:
    env: dict[str, str] = field(default_factory=lambda: {"DRILLBOOK_STATE": str(STATE)})
    outcomes: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def say(text: str) -> None:
    print(text, flush=True)


def build_sample_data(state: DemoState) -> None:
    """A clinic's letters and scans, an appointments database, a lab archive."""
    remove_tree(DEMO)
    rng = random.Random(2026)
    docs = SOURCE / "srv" / "clinic" / "documents"
    for i in range(240):
        folder = docs / f"2026-{1 + i % 11:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        body = "".join(f"Patient letter {i}, paragraph {p}: follow-up in {rng.randint(1, 12)} weeks.\n"
                       for p in range(rng.randint(3, 40)))
        (folder / f"letter-{i:04d}.txt").write_text(body)
    scans = docs / "scans"
    scans.mkdir(parents=True, exist_ok=True)
    for i in range(12):
        (scans / f"scan-{i:03d}.bin").write_bytes(rng.randbytes(256 * 1024))
    db_dir = SOURCE / "srv" / "clinic" / "db"
    db_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_dir / "appointments.sqlite")
    conn.executescript("""
        create table patients (id integer primary key, name text not null);
        create table appointments (id integer primary key, patient_id integer references patients(id),
                                   starts_at text not null, clinician text not null);
    """)
    conn.executemany("insert into patients (id, name) values (?, ?)",
                     [(i, f"Patient {i:05d}") for i in range(1, 801)])
    base = datetime(2026, 1, 5, 8, 0)
    conn.executemany(
        "insert into appointments (patient_id, starts_at, clinician) values (?, ?, ?)",
        [(rng.randint(1, 800), (base + timedelta(minutes=20 * i)).isoformat(), f"Dr. {rng.choice('ABCDEFG')}")
         for i in range(2400)])
    conn.commit()
    conn.close()
    lab = SOURCE / "srv" / "lab" / "archive"
    lab.mkdir(parents=True, exist_ok=True)
    for i in range(30):
        (lab / f"result-{i:03d}.csv").write_text("test,value\n" + "".join(
            f"hba1c,{rng.uniform(4, 9):.1f}\n" for _ in range(50)))
    add_portal_stack(SOURCE)  # the portal's dumps and application: the stack drills restore them
    state.lines.append(f"sample data: {SOURCE}")


def back_up(state: DemoState) -> None:
    """Nightly snapshots of the clinic; a weekly lab snapshot taken three days ago."""
    PASSWORD_FILE.parent.mkdir(parents=True, exist_ok=True)
    PASSWORD_FILE.write_text("demo-only-password-" + os.urandom(8).hex() + "\n")
    PASSWORD_FILE.chmod(0o600)
    repo = RepoBuilder(str(REPOSITORY), PASSWORD_FILE.read_text().strip())
    repo.init()
    three_days_ago = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")
    repo.backup(["srv/lab"], host="lab-1", tags=["weekly"], cwd=SOURCE, time_override=three_days_ago)
    repo.backup(["srv/clinic"], host="clinic-1", tags=["nightly"], cwd=SOURCE)
    repo.backup(["srv/portal"], host="portal-1", tags=["nightly"], cwd=SOURCE)
    snapshots = repo.snapshots()
    # the sandbox account restores it rather than root; where the checkout's own folders cannot be
    # passed through (under /root, say), drillbook still restores as root and the record says why
    readable_by_all(REPOSITORY.parent)
    state.lines.append(f"restic repository: {REPOSITORY} ({len(snapshots)} snapshots)")



def run_drills(state: DemoState) -> None:
    """Every bundled drill through the real CLI, exactly as an on-call engineer would."""
    names = sorted(EXPECTED)
    cmd = [sys.executable, "-m", "drillbook", "run", *names]
    say("$ drillbook run " + " ".join(names))
    proc = subprocess.run(cmd, env={**os.environ, **state.env}, timeout=1800)
    if proc.returncode not in (0, 1):
        state.problems.append(f"drillbook run exited {proc.returncode}")
    for name in names:
        state.outcomes[name] = latest_status(name)


def latest_status(name: str, kind_dir: Path | None = None) -> str:
    runs = sorted((kind_dir or ROOT / "reports" / name).glob("*/run.json"))
    if not runs:
        return "missing"
    return json.loads(runs[-1].read_text()).get("status", "missing")


def intended() -> dict[str, str]:
    """Every outcome the demo means to show: the drill runs, the S3 drill and the runbook."""
    return {**EXPECTED, "clinic-vault-s3": "passed", f"runbook {DEMO_RUNBOOK}": "passed"}


def check_outcomes(state: DemoState) -> None:
    """Every drill and runbook ended the way the demo intends."""
    for name, wanted in intended().items():
        got = state.outcomes.get(name, "missing")
        if got != wanted:
            state.problems.append(f"drill {name}: expected {wanted}, got {got}")


DEMO_RUNBOOK = "restore-clinic-documents"


def run_runbook(state: DemoState) -> None:
    """A shipped runbook rehearsed end to end with --yes, as on-call would."""
    cmd = [sys.executable, "-m", "drillbook", "runbook", "run", DEMO_RUNBOOK, "--yes", "--operator", "demo"]
    say(f"$ drillbook runbook run {DEMO_RUNBOOK} --yes --operator demo")
    proc = subprocess.run(cmd, env={**os.environ, **state.env}, timeout=1800, stdin=subprocess.DEVNULL)
    status = latest_status(DEMO_RUNBOOK, ROOT / "reports" / "runbooks" / DEMO_RUNBOOK)
    state.outcomes[f"runbook {DEMO_RUNBOOK}"] = status
    if proc.returncode != 0 or status != "passed":
        state.problems.append(f"runbook {DEMO_RUNBOOK}: expected passed, got {status} (exit {proc.returncode})")


def verify_evidence(state: DemoState) -> None:
    """Verify the signed evidence ledger and render this quarter's compliance report."""
    env = {**os.environ, **state.env}
    say("$ drillbook evidence verify")
    proc = subprocess.run([sys.executable, "-m", "drillbook", "evidence", "verify"], env=env, timeout=600)
    verified = "verified" if proc.returncode == 0 else "FAILED verification"
    if proc.returncode != 0:
        state.problems.append(f"evidence verify exited {proc.returncode}")
    say("$ drillbook report")
    proc = subprocess.run([sys.executable, "-m", "drillbook", "report"], env=env, timeout=600,
                          capture_output=True, text=True)
    print(proc.stdout, end="", flush=True)
    if proc.returncode != 0:
        state.problems.append(f"report exited {proc.returncode}: {proc.stderr.strip()}")
    state.lines.append(f"evidence ledger: {ROOT / 'reports' / 'evidence' / 'ledger.jsonl'} ({verified})")
    state.lines.append(f"state (signing key, locks): {STATE}")
    state.lines += [f"compliance report: {ROOT / line[len('report: '):]}" for line in proc.stdout.splitlines()
                    if line.startswith("report: ") and line.endswith(".html")]


def run_s3_drill(state: DemoState) -> None:
    """Run an S3 drill with an Object Lock audit against moto on loopback."""
    from devtools.demo_s3 import run_s3_drill as s3_step

    s3_step(state, ROOT, DEMO, PASSWORD_FILE, SOURCE, say)


def run_scheduler(state: DemoState) -> None:
    """drillbook serve: two drills on a schedule, metrics, webhook alerts, SIGTERM stop."""
    from devtools.demo_serve import run_serve_demo

    run_serve_demo(state, ROOT, DEMO, say)


# -- demo steps of other issues are added to STEPS below, before check_outcomes --
STEPS: list[Callable[[DemoState], None]] = [
    build_sample_data,
    back_up,
    run_drills,
    run_runbook,
    run_s3_drill,
    verify_evidence,
    run_scheduler,
    check_outcomes,
]


def main() -> int:
    state = DemoState()
    for step in STEPS:
        say(f"== {step.__doc__.splitlines()[0] if step.__doc__ else step.__name__}")
        step(state)
    say("")
    for line in state.lines:
        say(line)
    for name, status in sorted(state.outcomes.items()):
        say(f"  {name}: {status} (intended: {intended().get(name, '?')})")
    say(f"reports: {ROOT / 'reports' / 'index.html'}")
    if state.problems:
        for problem in state.problems:
            say(f"DEMO PROBLEM: {problem}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
