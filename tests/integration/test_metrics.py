"""Prometheus as an operator meets it: a real `drillbook serve`'s /metrics, and the textfile that
`drillbook run --metrics-textfile` leaves for node_exporter (read by a real node_exporter when
Debian's prometheus-node-exporter is installed)."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.serving import Serve
from tests.support import STANDARD_CHECKS, free_port, write_drill

NOTIFY_CLOSED_PORT = "notify:\n  - {webhook: 'http://127.0.0.1:9/ops', on: [always], timeout: 2s}\n"


@pytest.fixture
def serving(workspace) -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for server in started:
        server.kill()


def samples(text: str) -> dict[str, float]:
    return {f"{s.name}{dict(sorted(s.labels.items()))}": s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(url: str) -> str:
    return urllib.request.urlopen(url, timeout=5).read().decode()


def test_serve_exposes_build_info_scheduled_drills_their_interval_and_childrens_failures(workspace, repo, serving):
    write_drill(workspace.drills, "often", repo.path,
                body=STANDARD_CHECKS + "schedule: every 4s\n" + NOTIFY_CLOSED_PORT)
    write_drill(workspace.drills, "weekly", repo.path, body=STANDARD_CHECKS + "schedule: 0 3 * * 1-5\n")
    write_drill(workspace.drills, "adhoc", repo.path, body=STANDARD_CHECKS)
    server = Serve([sys.executable, "-m", "drillbook", "serve", "--metrics-port", "0"], workspace.root, workspace.env())
    serving.append(server)
    server.wait_for("drill-finish", drill="often", timeout=60)
    deadline = time.monotonic() + 10
    while True:  # the failures are added right after the drill-finish event
        got = samples(scrape(server.url("/metrics")))
        if got.get("drillbook_notification_failures_total{'target': 'webhook http://127.0.0.1:9/***'}") or \
                time.monotonic() > deadline:
            break
        time.sleep(0.2)
    text = scrape(server.url("/metrics"))
    code, _ = server.stop()
    assert code == 0

    build = [k for k in got if k.startswith("drillbook_build_info")]
    assert len(build) == 1 and "'restic': 'unknown'" not in build[0] and got[build[0]] == 1
    assert got["drillbook_drills_scheduled{}"] == 2
    assert got["drillbook_drill_interval_seconds{'drill': 'weekly'}"] == 3 * 86400
    assert got["drillbook_drill_interval_seconds{'drill': 'often'}"] == 4
    assert "drillbook_drill_interval_seconds{'drill': 'adhoc'}" not in got
    assert got["drillbook_drill_declared_timestamp_seconds{'drill': 'often'}"] > 1.7e9
    assert got["drillbook_notification_failures_total{'target': 'webhook http://127.0.0.1:9/***'}"] >= 1
    assert "_created" not in text
    assert not list((workspace.state / "run-metrics").glob("*.prom")), "a child's metrics file was left behind"


def test_cron_runs_leave_one_textfile_node_exporter_reads_with_every_drill(workspace, repo, tmp_path):
    for name in ("alpha", "beta"):
        write_drill(workspace.drills, name, repo.path, body=STANDARD_CHECKS + "schedule: daily\n")
    folder = tmp_path / "textfile"
    folder.mkdir()
    textfile = folder / "drillbook.prom"
    for name in ("alpha", "beta"):
        done = workspace.cli("run", name, "--metrics-textfile", str(textfile))
        assert done.returncode == 0, done.stdout + done.stderr

    got = samples(textfile.read_text())
    for name in ("alpha", "beta"):
        assert got[f"drillbook_drill_last_status{{'drill': '{name}', 'status': 'passed'}}"] == 1
        assert got[f"drillbook_drill_runs_total{{'drill': '{name}', 'status': 'passed'}}"] == 1
        assert got[f"drillbook_drill_interval_seconds{{'drill': '{name}'}}"] == 86400
    assert stat.S_IMODE(textfile.stat().st_mode) == 0o644

    exporter = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if exporter is None:
        return  # the file's format is node_exporter's own parser's (prometheus_client) above
    port = free_port()
    proc = subprocess.Popen([exporter, "--collector.disable-defaults", "--collector.textfile",
                             f"--collector.textfile.directory={folder}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                scraped = samples(scrape(f"http://127.0.0.1:{port}/metrics"))
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "node_exporter did not start"
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert scraped["node_textfile_scrape_error{}"] == 0
    assert scraped["drillbook_drill_last_status{'drill': 'beta', 'status': 'passed'}"] == 1
    assert scraped["drillbook_drill_last_status{'drill': 'alpha', 'status': 'passed'}"] == 1
