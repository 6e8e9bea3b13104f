"""One sandbox's whole life, driven by test_sandbox_accounts.py as root or as an ordinary account.

Runs in its own interpreter (for the ordinary account, one it can read), so it imports drillbook
only, never ``tests``. It talks to the test in JSON lines on stdout; at each ``pause`` it waits
for a line on stdin, so the test can act as root meanwhile (drop a root-only file into the
sandbox, look at every process of the host). Usage: sandbox_session.py SANDBOX_ROOT MARKER
HOST_PORT SERVICE_PORT.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from drillbook.sandbox.holder import Sandbox
from drillbook.spec.models import Isolation
from drillbook.util.procfs import all_pids, environ, namespace

#: Runs inside the sandbox: what the process is, sees and can reach.
PROBE = """\
import json, os, socket, sys
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=2).close()
    host = "reached"
except OSError:
    host = "unreachable"
try:
    open(sys.argv[1]).read()
    root_only = "read"
except PermissionError:
    root_only = "denied"
except OSError as exc:
    root_only = repr(exc)
print(json.dumps({
    "uid": os.getuid(), "euid": os.geteuid(),
    "cap_eff": status["CapEff"].strip(), "cap_prm": status["CapPrm"].strip(),
    "no_new_privs": status["NoNewPrivs"].strip(),
    "interfaces": [line.split(":")[0].strip() for line in open("/proc/net/dev").readlines()[2:]],
    "pid_ns": os.readlink("/proc/self/ns/pid"),
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "host_listener": host, "root_only": root_only,
    "ld_preload": os.environ.get("LD_PRELOAD"),
}))
"""

FETCH = """\
import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/hello.txt" % sys.argv[1], timeout=2).read().decode())
"""


def say(**message: Any) -> None:
    print(json.dumps(message), flush=True)


def pause(tag: str, **data: Any) -> None:
    say(pause=tag, **data)
    sys.stdin.readline()


def carriers(marker: str) -> list[dict[str, Any]]:
    """Processes this account may look at whose environment holds the marker."""
    return [{"pid": pid, "pid_ns": namespace(pid, "pid")} for pid in all_pids()
            if any(marker in item for item in environ(pid))]


def reach_from_here(port: int) -> str:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return "reached"
    except OSError:
        return "unreachable"


def serve_and_fetch(sandbox: Sandbox, port: int, result: dict[str, Any]) -> None:
    (sandbox.work_dir / "hello.txt").write_text("hello from the sandbox\n")
    service = sandbox.launcher.start(["python3", "-m", "http.server", str(port), "--bind", "127.0.0.1",
                                      "--directory", str(sandbox.work_dir)], cwd=sandbox.work_dir, env={})
    deadline = time.monotonic() + 30
    while True:
        done = sandbox.launcher.run(["python3", "-c", FETCH, str(port)], cwd=sandbox.work_dir, env={},
                                    timeout=15)
        if done.returncode == 0 or time.monotonic() > deadline or service.poll() is not None:
            break
        time.sleep(0.2)
    result["fetched"] = done.stdout.strip()
    result["service_from_outside"] = reach_from_here(port)
    result["pid_ns"] = sandbox.launcher.holder.pid_ns
    result["carriers"] = carriers(sys.argv[2])
    pause("serving", pid_ns=result["pid_ns"], user_ns=result["holder"]["user_ns"])
    result["service_exit"] = service.stop()


def main() -> None:
    root, marker, host_port, port = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    sandbox = Sandbox.create(root, "run-1", Isolation(), {"LD_PRELOAD": marker})
    result: dict[str, Any] = {"record": sandbox.record(),
                              "holder": json.loads((sandbox.path / "holder.json").read_text()),
                              "outside_pid_ns": namespace(os.getpid(), "pid")}
    try:
        pause("created", path=str(sandbox.path))
        secret = sandbox.path / "logs" / "root-only.txt"
        probe = sandbox.launcher.run(["python3", "-c", PROBE, str(secret), str(host_port)],
                                     cwd=sandbox.restore_root, env={}, timeout=60)
        result["probe"] = {"returncode": probe.returncode, "stderr": probe.stderr,
                           **(json.loads(probe.stdout) if probe.returncode == 0 else {})}
        serve_and_fetch(sandbox, port, result)
    finally:
        sandbox.teardown()
    result["left_behind"] = sorted(p.name for p in root.iterdir())
    say(result=result)


if __name__ == "__main__":
    main()
