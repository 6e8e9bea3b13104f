"""What a check inside the sandbox can and cannot reach (real bubblewrap namespaces)."""

from __future__ import annotations

import socket

import pytest

from tests.support import PASSWORD, write_drill

PROBE = """\
verify:
  - type: command
    name: isolation probe
    run:
      - python3
      - -c
      - |
        import os, socket, sys
        problems = []
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2)
            problems.append("reached the host's loopback listener")
        except OSError:
            pass
        for name, value in os.environ.items():
            if "{secret}" in value or name in ("TEST_RESTIC_PASSWORD", "DRILL_TEST_SECRET"):
                problems.append("sees secret " + name)
        if os.path.exists("{host_socket}"):
            problems.append("sees the host's unix socket")
        if os.path.exists("/run/postgresql") or os.path.exists("/var/run/docker.sock"):
            problems.append("sees the host's /run")
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    if "{secret}" in open("/proc/" + pid + "/environ").read():
                        problems.append("reads a secret from process " + pid)
                except OSError:
                    pass
        if os.getuid() == 0:
            problems.append("runs as root")
        print("env:", " ".join(sorted(os.environ)))
        print("problems:", problems)
        sys.exit(1 if problems else 0)
"""

REACH_HOST = """\
verify:
  - type: command
    run: [python3, -c, "import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)"]
isolation: {{network: host}}
"""


@pytest.fixture
def host_listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def host_unix_socket(tmp_path):
    path = tmp_path / "host-service.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()
    yield path
    server.close()


def test_check_cannot_reach_host_loopback_sockets_or_secrets(workspace, repo, host_listener,
                                                             host_unix_socket):
    secret = "s3cr3t-from-drillbook-env"
    body = PROBE.format(port=host_listener, secret=secret, host_socket=host_unix_socket)
    write_drill(workspace.drills, "clinic", repo.path, body=body)
    result = workspace.cli("run", "clinic", DRILL_TEST_SECRET=secret,
                           AWS_SECRET_ACCESS_KEY=secret)
    run = workspace.last_run("clinic")
    tail = "\n".join(run["checks"][0]["data"]["output_tail"])
    assert result.returncode == 0, tail
    assert "problems: []" in tail
    assert tail.splitlines()[0] == "env: DRILLBOOK_RESTORE_ROOT HOME LANG PATH TZ"
    assert run["isolation"]["network"] == "none"
    assert run["isolation"]["user"].startswith("drillbook-sandbox")
    assert PASSWORD not in (workspace.reports / "clinic" / run["run_id"] / "run.json").read_text()


def test_host_network_must_be_declared_and_is_flagged(workspace, repo, host_listener):
    write_drill(workspace.drills, "clinic", repo.path, body=REACH_HOST.format(port=host_listener))
    assert workspace.cli("run", "clinic").returncode == 0
    run = workspace.last_run("clinic")
    assert run["isolation"]["network"] == "host"
    html = (workspace.reports / "clinic" / run["run_id"] / "report.html").read_text()
    assert "Network: host." in html

    write_drill(workspace.drills, "clinic", repo.path,
                body=REACH_HOST.format(port=host_listener).replace("isolation: {network: host}\n", ""))
    assert workspace.cli("run", "clinic").returncode == 1
    assert workspace.last_run("clinic")["checks"][0]["status"] == "failed"


def test_limits_are_applied_and_recorded(workspace, repo):
    body = """\
    verify:
      - type: command
        run: [python3, -c, "import resource as r; assert r.getrlimit(r.RLIMIT_NOFILE) == (64, 64)"]
    isolation:
      limits: {open_files: 64, memory: 1G}
    """
    write_drill(workspace.drills, "clinic", repo.path, body=body)
    result = workspace.cli("run", "clinic")
    run = workspace.last_run("clinic")
    assert result.returncode == 0, run["reason"]
    assert set(run["isolation"]["limits"]) == {"open_files", "memory", "processes"}
    assert "declared by the drill" in run["isolation"]["limits"]["open_files"]
    assert "drillbook's default" in run["isolation"]["limits"]["processes"]


def test_without_declared_limits_every_check_runs_under_the_defaults(workspace, repo):
    body = """\
    verify:
      - type: command
        run: [python3, -c, "import resource as r; assert [r.getrlimit(x) for x in (r.RLIMIT_AS, \
    r.RLIMIT_NPROC, r.RLIMIT_NOFILE)] == [(4 << 30, 4 << 30), (512, 512), (1024, 1024)]"]
    """
    write_drill(workspace.drills, "clinic", repo.path, body=body)
    result = workspace.cli("run", "clinic")
    run = workspace.last_run("clinic")
    assert result.returncode == 0, run["reason"]
    assert run["isolation"]["limits"]["memory"] == "4G per process (RLIMIT_AS via prlimit; drillbook's default)"


def test_isolation_that_cannot_be_set_up_fails_the_drill(workspace, repo):
    body = """\
    verify:
      - type: command
        run: ["true"]
    isolation: {user: no-such-account-here}
    """
    write_drill(workspace.drills, "clinic", repo.path, body=body)
    assert workspace.cli("run", "clinic").returncode == 1
    run = workspace.last_run("clinic")
    assert run["status"] == "failed"
    assert "could not be isolated" in run["reason"] and "no-such-account-here" in run["reason"]
    assert run["checks"] == [] and list(workspace.sandboxes.iterdir()) == []
