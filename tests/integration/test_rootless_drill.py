"""The whole drill, run by an ordinary account: ``runuser -u ACCOUNT -- drillbook run NAME``.

What an operator gets who never gives drillbook root: a restic repository the account can read,
a drill with every kind of check that touches the restore (files, sqlite, a command, a service
started from the restore, a PostgreSQL server restored from a plain dump), and a run that passes,
says it was rootless, leaves every report file owned by the account and no process behind.

The test itself runs as root (as ``make test`` does in CI) only to set the stage: the account,
its Python (see rootless_host.py), the repository built with devtools' restic helper and then
handed to the account, and the look at every process of the host afterwards.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from drillbook.sandbox.holder import remove_tree
from tests.integration import rootless_host as host
from tests.integration.serving import Serve
from tests.support import PASSWORD, PASSWORD_ENV, STANDARD_CHECKS, free_port, make_repo, write_drill

ACCOUNT = "drillbook-rootless-drill"
ROWS = 321
HTTP_PORT = 8741

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: creates an account, runs as it"),
]

CHECKS = STANDARD_CHECKS + f"""\
  - type: command
    name: restored files belong to the account
    run: [python3, -c, "import os, sys; sys.exit(os.stat('srv/clinic/docs/letter-0001.txt').st_uid != os.getuid())"]
  - type: command
    name: drillbook's own files are read-only inside, though the account is drillbook's
    run: [sh, -c, 'cd ..; for p in config/x logs/x x; do if touch "$p"; then echo "wrote $p"; exit 1; fi; done']
  - type: http
    name: portal
    start: [python3, -m, http.server, "{HTTP_PORT}", --bind, 127.0.0.1]
    url: http://127.0.0.1:{HTTP_PORT}/srv/clinic/docs/letter-0002.txt
    expect_body: "Patient letter 2"
    ready_timeout: 30s
  - type: postgres
    name: clinic plain dump
    dump: srv/clinic/db/clinic.sql
    database: clinic
    queries:
      - {{sql: "select count(*) from appointments", expect: "= {ROWS}"}}
"""


@pytest.fixture(scope="session")
def account() -> pwd.struct_passwd:
    return host.ensure_account(ACCOUNT, "drillbook rootless drill test")


@pytest.fixture(scope="session")
def drillbook_script() -> Iterator[Path]:
    """drillbook installed into a virtualenv of Debian's Python that every account can run."""
    problem = host.system_python_problem()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    folder = Path(tempfile.mkdtemp(prefix="drillbook-rootless-venv-"))
    yield host.install_drillbook(folder)
    remove_tree(folder)


@pytest.fixture
def stage(account: pwd.struct_passwd) -> Iterator[Path]:
    """A folder every account can enter; what is inside belongs to the account."""
    folder = Path(tempfile.mkdtemp(prefix="drillbook-rootless-"))
    folder.chmod(0o755)
    yield folder
    remove_tree(folder)


def as_account(account: pwd.struct_passwd, script: Path, stage: Path, *args: str) -> list[str]:
    """The argv of ``drillbook ARGS`` as the account, with an environment of the folders and the
    password only.

    No sandbox root is given: an ordinary account's default is under its state folder.
    """
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "DRILLBOOK_DRILLS": str(stage / "drills"),
        "DRILLBOOK_REPORTS": str(stage / "reports"),
        "DRILLBOOK_STATE": str(stage / "state"),
        "DRILLBOOK_RUNBOOKS": str(stage / "runbooks"),
        PASSWORD_ENV: PASSWORD,
    }
    return ["runuser", "-u", account.pw_name, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()),
            str(script), *args]


def run_as(account: pwd.struct_passwd, script: Path, stage: Path, *args: str) -> tuple[int, str]:
    """``drillbook ARGS`` as the account, to its end."""
    done = subprocess.run(as_account(account, script, stage, *args), cwd=stage, capture_output=True, text=True,
                          timeout=600)
    return done.returncode, done.stdout + done.stderr


def test_an_ordinary_account_runs_the_whole_drill(account, drillbook_script, stage):
    repo = make_repo(stage / "build", files=12, rows=1200)
    (repo.data_root / "srv" / "clinic" / "db" / "clinic.sql").write_bytes(host.plain_dump(ROWS))
    repo.backup()
    for name in ("drills", "reports", "state", "runbooks"):
        (stage / name).mkdir()
    write_drill(stage / "drills", "clinic", repo.path, body=CHECKS)
    host.chown_tree(stage, account)

    code, output = run_as(account, drillbook_script, stage, "run", "clinic")

    records = sorted((stage / "reports" / "clinic").glob("*/run.json"))
    assert records, f"no run record; drillbook said:\n{output}"
    run = json.loads(records[-1].read_text())
    assert code == 0, f"{run.get('reason')}\n{output}"
    assert run["status"] == "passed"
    assert [(c["type"], c["status"]) for c in run["checks"]] == [
        ("files", "passed"), ("sqlite", "passed"), ("command", "passed"), ("command", "passed"),
        ("http", "passed"),
        ("postgres", "passed")], [c["detail"] for c in run["checks"]]
    assert run["content"]["status"] == "passed"
    isolation = run["isolation"]
    assert isolation["mode"] == "rootless" and isolation["outer_uid"] == account.pw_uid
    assert isolation["user"].startswith(ACCOUNT)
    reports = _tree(stage / "reports")
    assert {"run.json", "report.html", "index.html", "ledger.jsonl"} <= {p.name for p in reports}
    strangers = [str(p) for p in reports if p.lstat().st_uid != account.pw_uid]
    assert strangers == [], "report files not owned by the account"
    left = host.pids_of(account.pw_uid)
    assert left == [], [host.command_line(pid) for pid in left]
    assert list((stage / "state" / "sandboxes").iterdir()) == []


def _tree(top: Path) -> list[Path]:
    return [top, *top.rglob("*")]


RUNBOOK = """\
---
title: Restore the clinic
objectives: {rto: 10m}
---
## Check the tools
```sh
restic version
```

## Restore and verify the latest backup
```drill
clinic
```
"""


def test_an_ordinary_account_runs_a_runbook_with_a_drill_step(account, drillbook_script, stage):
    repo = make_repo(stage / "build", files=12, rows=1200)
    repo.backup()
    for name in ("drills", "reports", "state", "runbooks"):
        (stage / name).mkdir()
    write_drill(stage / "drills", "clinic", repo.path, body=STANDARD_CHECKS)
    (stage / "runbooks" / "restore-clinic.md").write_text(RUNBOOK)
    host.chown_tree(stage, account)

    code, output = run_as(account, drillbook_script, stage, "runbook", "run", "restore-clinic", "--yes",
                          "--operator", "alice")

    records = sorted((stage / "reports" / "runbooks" / "restore-clinic").glob("*/run.json"))
    assert records, f"no runbook record; drillbook said:\n{output}"
    run = json.loads(records[-1].read_text())
    assert code == 0, f"{run.get('reason')}\n{output}"
    assert [s["status"] for s in run["steps"]] == ["passed", "passed"]
    drill_run = run["steps"][1]["drill_runs"][0]
    assert drill_run["status"] == "passed"
    drill = json.loads(next((stage / "reports" / "clinic").glob("*/run.json")).read_text())
    assert drill["isolation"]["mode"] == "rootless"
    strangers = [str(p) for p in _tree(stage / "reports") if p.lstat().st_uid != account.pw_uid]
    assert strangers == [], "report files not owned by the account"
    assert host.pids_of(account.pw_uid) == []


def test_an_ordinary_account_serves_a_scheduled_drill(account, drillbook_script, stage):
    """``drillbook serve`` as the account: the drill due within seconds runs, rootless, and passes;
    SIGTERM (sent to the server, as systemd would) stops it with exit 0 and nothing left running."""
    repo = make_repo(stage / "build", files=12, rows=1200)
    repo.backup()
    for name in ("drills", "reports", "state", "runbooks"):
        (stage / name).mkdir()
    write_drill(stage / "drills", "clinic", repo.path, body=STANDARD_CHECKS + "schedule: every 3s\n")
    host.chown_tree(stage, account)
    port = free_port()

    server = Serve(as_account(account, drillbook_script, stage, "serve", "--metrics-port", str(port)), stage,
                   behind_parent=True)
    try:
        finish = server.wait_for("drill-finish", drill="clinic", timeout=120)[0]
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        code, took = server.stop(timeout=60)
    finally:
        server.kill()

    assert finish["status"] == "passed", f"{finish.get('reason')}\n{server.log.read_text()}"
    assert code == 0 and took < 30, server.log.read_text()
    assert server.events("serve-stop")[0]["exit"] == "0"
    assert 'drillbook_drill_runs_total{drill="clinic",status="passed"}' in metrics
    runs = [json.loads(p.read_text()) for p in sorted((stage / "reports" / "clinic").glob("*/run.json"))]
    first = next(r for r in runs if r["run_id"] == finish["run_id"])
    assert first["trigger"] == "schedule" and first["status"] == "passed"
    assert all(r["status"] == "passed" and r["isolation"]["mode"] == "rootless" for r in runs), \
        [(r["status"], r.get("reason")) for r in runs]
    assert first["isolation"]["outer_uid"] == account.pw_uid
    strangers = [str(p) for p in _tree(stage / "reports") if p.lstat().st_uid != account.pw_uid]
    assert strangers == [], "report files not owned by the account"
    left = host.pids_of(account.pw_uid)
    assert left == [], [host.command_line(pid) for pid in left]
