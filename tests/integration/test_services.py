"""Services started from restored files inside the sandbox, probed, and stopped."""

from __future__ import annotations

import subprocess

from tests.support import write_drill

HTTP = """\
verify:
  - type: http
    name: portal
    start: [python3, -m, http.server, "8731", --bind, 127.0.0.1]
    url: http://127.0.0.1:8731/srv/clinic/docs/letter-0002.txt
    expect_body: "{body}"
    ready_timeout: 20s
"""


def _leftovers(marker: str) -> bool:
    return subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 0


def test_http_service_from_the_restore_passes_and_is_stopped(workspace, repo):
    write_drill(workspace.drills, "clinic", repo.path, body=HTTP.format(body="Patient letter 2"))
    result = workspace.cli("run", "clinic")
    run = workspace.last_run("clinic")
    assert result.returncode == 0, run["reason"]
    check = run["checks"][0]["data"]
    assert check["status"] == 200 and check["body_head"].startswith("Patient letter 2")
    assert check["latency_ms"] > 0 and 0 < check["ready_seconds"] < 20
    assert run["objectives"]["rto"]["measured_seconds"] >= check["ready_seconds"]
    assert not _leftovers("http.server 8731")
    assert list(workspace.sandboxes.iterdir()) == []


def test_http_wrong_body_fails_and_leaves_nothing_running(workspace, repo):
    write_drill(workspace.drills, "clinic", repo.path, body=HTTP.format(body="Invoice 42"))
    assert workspace.cli("run", "clinic").returncode == 1
    run = workspace.last_run("clinic")
    assert run["checks"][0]["status"] == "failed"
    assert "body does not contain 'Invoice 42'" in run["reason"]
    assert run["checks"][0]["data"]["status"] == 200
    assert not _leftovers("http.server 8731")


def test_service_that_dies_and_tcp_conversation(workspace, repo):
    body = """\
    verify:
      - type: tcp
        name: banner
        start:
          - python3
          - -c
          - |
            import socket
            s = socket.socket(); s.bind(("127.0.0.1", 7411)); s.listen()
            while True:
                c, _ = s.accept(); c.recv(100); c.sendall(b"CLINIC READY\\n"); c.close()
        port: 7411
        send: "hello\\n"
        expect: "CLINIC READY"
      - type: http
        name: crashes
        start: [python3, -c, "import sys; print('config missing'); sys.exit(3)"]
        url: http://127.0.0.1:8080/
        ready_timeout: 20s
    """
    write_drill(workspace.drills, "clinic", repo.path, body=body)
    assert workspace.cli("run", "clinic").returncode == 1
    tcp, crashed = workspace.last_run("clinic")["checks"]
    assert tcp["status"] == "passed", tcp["detail"]
    assert "CLINIC READY" in tcp["data"]["received_head"]
    assert crashed["status"] == "failed" and "exited with code 3" in crashed["detail"]
    assert crashed["duration_seconds"] < 10
    assert "config missing" in crashed["data"]["service_output_tail"]
    assert not _leftovers("7411")
