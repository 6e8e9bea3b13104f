"""`make demo-sites`: site workers on one machine, everything on loopback.

A Redis broker (password from a file, nothing persisted), two sites (clinic-east, clinic-west)
each with its own `drillbook worker` (its own staging reports and state folder, as on its own
machine), and one `drillbook serve` that dispatches due runs to them and keeps the one index and
ledger. Midway, the west worker is SIGKILLed mid-drill: its run is recorded aborted centrally,
naming the worker; `drillbook workers` then shows the site with no worker as a problem.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from devtools.repos import RepoBuilder
from drillbook.sandbox.holder import remove_tree

ROOT = Path.cwd()
DEMO = ROOT / "demo" / "sites"
CENTRAL = DEMO / "central"
SITES = ("clinic-east", "clinic-west")
CHECKS = """\
verify:
  - {type: files, path: srv/clinic, min_count: 3, required: [letters/letter-0001.txt]}
  - {type: command, run: [sleep, "SLEEP"]}
"""


def say(text: str) -> None:
    print(text, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(port: int) -> dict[str, str]:
    """Sample data, a restic repository, the drills and drillbook.yaml; the environment of all."""
    remove_tree(DEMO)
    source = DEMO / "source" / "srv" / "clinic" / "letters"
    source.mkdir(parents=True)
    for i in range(12):
        (source / f"letter-{i:04d}.txt").write_text(f"Patient letter {i}\n" * (i + 1))
    secrets = DEMO / "secrets"
    secrets.mkdir()
    for name in ("restic-password", "broker-password"):
        (secrets / name).write_text("demo-only-" + os.urandom(8).hex() + "\n")
        (secrets / name).chmod(0o600)
    repo = RepoBuilder(str(DEMO / "repository"), (secrets / "restic-password").read_text().strip())
    repo.init()
    repo.backup(["srv"], host="clinic-1", tags=["nightly"], cwd=DEMO / "source")
    drills = DEMO / "drills"
    drills.mkdir()
    (drills / "drillbook.yaml").write_text(
        f"workers:\n  broker: redis://127.0.0.1:{port}/0\n  password: {{file: {secrets / 'broker-password'}}}\n"
        "  heartbeat: 2s\n")
    for site, sleep in (("clinic-east", 1), ("clinic-west", 20)):
        (drills / f"{site}-letters.yaml").write_text(
            f"description: {site} letters restore\nowner: {site}-oncall@example.org\nsite: {site}\n"
            "schedule: every 15s\nobjectives: {rto: 1m, rpo: 1d}\n"
            f"source:\n  repository: {DEMO / 'repository'}\n  password: {{file: {secrets / 'restic-password'}}}\n"
            "  snapshot: {host: clinic-1, tags: [nightly]}\n" + CHECKS.replace("SLEEP", str(sleep)))
    return {**os.environ, "DRILLBOOK_DRILLS": str(drills)}


def folders(env: dict[str, str], base: Path) -> dict[str, str]:
    for name in ("reports", "state"):
        (base / name).mkdir(parents=True, exist_ok=True)
    return {**env, "DRILLBOOK_REPORTS": str(base / "reports"), "DRILLBOOK_STATE": str(base / "state")}


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "w") as handle:
        return subprocess.Popen([sys.executable, "-m", "drillbook", *argv], env=env, stdout=handle,
                                stderr=subprocess.STDOUT, start_new_session=True)


def wait(what: str, check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.3)
    raise SystemExit(f"demo-sites: {what} did not happen within {timeout:.0f}s")


def records(reports: Path, drill: str) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted((reports / drill).glob("*/run.json"))]


def main() -> int:
    port = free_port()
    env = prepare(port)
    password = (DEMO / "secrets" / "broker-password").read_text().strip()
    procs: list[subprocess.Popen[bytes]] = []
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--requirepass", password, "--dir", str(DEMO)],
                             stdout=subprocess.DEVNULL, start_new_session=True)
    procs.append(redis)
    try:
        say(f"$ redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no --requirepass ...")
        workers = {}
        for site in SITES:
            say(f"$ drillbook worker --site {site}    (reports and state of its own: {DEMO / site})")
            workers[site] = start(["worker", "--site", site], folders(env, DEMO / site), DEMO / f"{site}.log")
            procs.append(workers[site])
        central = folders(env, CENTRAL)
        say("$ drillbook serve    (central: dispatches due runs, receives, seals, indexes)")
        procs.append(start(["serve", "--grace", "5s"], central, DEMO / "serve.log"))
        reports = CENTRAL / "reports"
        wait("a passed run of each site", lambda: all(
            any(r.get("status") == "passed" for r in records(reports, f"{s}-letters")) for s in SITES), 180)
        say("both sites' runs came back, sealed into the one ledger")
        staged = DEMO / "clinic-west" / "reports" / "clinic-west-letters"
        done = {p.parent.name for p in staged.glob("*/run.json")}
        wait("a new west run", lambda: {p.parent.name for p in staged.glob("*/run.json")} - done, 60)
        time.sleep(3)
        say("$ kill -KILL <clinic-west worker>    (mid-drill)")
        os.killpg(workers["clinic-west"].pid, signal.SIGKILL)
        workers["clinic-west"].wait()
        wait("the killed run recorded aborted", lambda: any(
            r.get("status") == "aborted" for r in records(reports, "clinic-west-letters")), 60)
        aborted = next(r for r in records(reports, "clinic-west-letters") if r.get("status") == "aborted")
        say(f"central record of the killed run: aborted: {aborted.get('reason')}")
        say("$ drillbook workers")
        subprocess.run([sys.executable, "-m", "drillbook", "workers"], env=central, timeout=60)
        say("$ drillbook schedule")
        subprocess.run([sys.executable, "-m", "drillbook", "schedule"], env=central, timeout=60)
        say("$ drillbook evidence verify")
        verified = subprocess.run([sys.executable, "-m", "drillbook", "evidence", "verify"], env=central, timeout=60)
        say(f"central index: {reports / 'index.html'}")
        return 0 if verified.returncode == 0 else 1
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
