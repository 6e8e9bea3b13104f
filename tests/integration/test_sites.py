"""Site workers against a real Redis and real worker processes: one schedule, ledger and report."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator

import pytest

from tests.integration.sitefixtures import (
    BROKER_PASSWORD,
    Redis,
    Worker,
    central_env,
    project_yaml,
    start_redis,
    start_worker,
)
from tests.support import PASSWORD, STANDARD_CHECKS, Workspace, make_repo, write_drill

pytestmark = pytest.mark.integration
WEBHOOK_TOKEN = "hook-token-7d41aa"
AWS_SECRET = "aws-secret-9f03be"
SLOW = """\
  - type: command
    run: [sleep, "3"]
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, Redis, dict[str, Worker]]]:
    """One Redis, two sites with one worker each, and drills for both; shared by the module's tests."""
    root = tmp_path_factory.mktemp("sites")
    workspace = Workspace(root / "ws")
    for folder in (workspace.drills, workspace.reports, workspace.sandboxes, workspace.state):
        folder.mkdir(parents=True)
    repo = make_repo(root)
    repo.backup()
    server = start_redis(root)
    (workspace.drills / "drillbook.yaml").write_text(project_yaml(server.url))
    notify = f"notify:\n  - {{webhook: 'http://127.0.0.1:9/hooks/{WEBHOOK_TOKEN}', on: [failure]}}\n"
    write_drill(workspace.drills, "east-docs", repo.path, body=STANDARD_CHECKS + "site: clinic-east\n" + notify)
    write_drill(workspace.drills, "west-docs", repo.path, body=STANDARD_CHECKS + SLOW + "site: clinic-west\n")
    workers = {}
    try:
        for name in ("clinic-east", "clinic-west"):
            workers[name] = start_worker(workspace, name, AWS_SECRET_ACCESS_KEY=AWS_SECRET)
        yield workspace, server, workers
    finally:
        for worker in workers.values():
            worker.stop()
        server.stop()


def dispatch(workspace: Workspace, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "drillbook", "dispatch", *args], cwd=workspace.root,
                          env=central_env(workspace), capture_output=True, text=True, timeout=timeout)


class Monitor:
    """Every command Redis receives while it runs (MONITOR), as text."""

    def __init__(self, server: Redis):
        self.seen: list[str] = []
        self.ready = threading.Event()
        self.monitor = server.client().monitor()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        assert self.ready.wait(5)

    def _read(self) -> None:
        try:
            with self.monitor as monitor:
                self.ready.set()
                for command in monitor.listen():
                    self.seen.append(str(command.get("command")))
        except Exception:  # closed at the end of the test
            return

    def text(self) -> str:
        self.monitor.connection.disconnect()
        self.thread.join(5)
        return "\n".join(self.seen)


def stored_folders(server: Redis) -> list[bytes]:
    """The run folders the results hold, unpacked: each file's bytes."""
    client = server.client()
    found = []
    for key in client.scan_iter("celery-task-meta-*"):
        meta = json.loads(client.get(key) or b"{}")
        folder = (meta.get("result") or {}).get("folder") if isinstance(meta.get("result"), dict) else None
        if folder:
            with tarfile.open(fileobj=io.BytesIO(base64.b64decode(folder))) as tar:
                found += [tar.extractfile(m).read() for m in tar if m.isreg()]
    return found


def test_two_sites_each_drill_on_its_own_worker_sealed_centrally_no_secret_in_the_broker(site):
    workspace, server, workers = site
    monitor = Monitor(server)
    done = dispatch(workspace, "east-docs", "west-docs", "--wait")
    seen = monitor.text()
    assert done.returncode == 0, done.stdout + done.stderr

    east, west = workspace.last_run("east-docs"), workspace.last_run("west-docs")
    assert east["status"] == west["status"] == "passed"
    assert east["site"]["name"] == "clinic-east" and east["site"]["worker"] == "clinic-east@test"
    assert west["site"]["name"] == "clinic-west" and west["site"]["worker"] == "clinic-west@test"
    # each ran on its own worker only: the other worker's staging folder never saw it
    assert not (workers["clinic-west"].root / "reports" / "east-docs").exists()
    assert not (workers["clinic-east"].root / "reports" / "west-docs").exists()
    # one site never waits behind the other: east (no sleep) finished while west was still running
    assert east["finished_at"] < west["finished_at"] and west["started_at"] < east["finished_at"]

    verify = subprocess.run([sys.executable, "-m", "drillbook", "evidence", "verify"], cwd=workspace.root,
                            env=central_env(workspace), capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    ledger = (workspace.reports / "evidence" / "ledger.jsonl").read_text()
    assert east["run_id"] in ledger and west["run_id"] in ledger
    assert not list(workers["clinic-east"].root.glob("reports/evidence/*.jsonl"))  # workers seal nothing
    index = (workspace.reports / "index.html").read_text()
    assert east["run_id"] in index and west["run_id"] in index

    assert "east-docs" in seen and "celery-task-meta" in seen  # the monitor did see the traffic
    folders = b"\n".join(stored_folders(server)).decode("utf-8", "replace")
    assert east["run_id"] in folders
    for secret in (PASSWORD, BROKER_PASSWORD, WEBHOOK_TOKEN, AWS_SECRET):
        assert secret not in seen, f"{secret!r} went through the broker"
        assert secret not in folders, f"{secret!r} is in a run folder in the results"


def test_a_drill_with_a_run_open_is_not_dispatched_twice(site):
    workspace, _server, _workers = site
    first = dispatch(workspace, "west-docs")
    again = dispatch(workspace, "west-docs")
    assert first.returncode == 0, first.stderr
    assert again.returncode == 3 and "still" in again.stderr
    assert dispatch(workspace, "west-docs", "--wait").returncode == 3  # busy until the first is received
    waited = subprocess.run([sys.executable, "-m", "drillbook", "dispatch", "east-docs", "--wait"],
                            cwd=workspace.root, env=central_env(workspace), capture_output=True, text=True,
                            timeout=90)
    assert waited.returncode == 0, waited.stdout + waited.stderr


