"""Probes that run *inside* the sandbox, so they see the drill's network and nothing else.

Each probe is a small stdlib-only Python program run with the system ``python3`` through the
launcher (drillbook's own interpreter and virtualenv are not visible in the sandbox). It tries for
at most ``window`` seconds and prints one JSON line; the caller loops, watching the service in
between, until the check's ``ready_timeout``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from drillbook.sandbox.inside import PYTHON, last_json
from drillbook.sandbox.launcher import Launcher
from drillbook.util.process import tail

MAX_BODY = 1024 * 1024

HTTP_PROBE = r'''
import base64, json, sys, time, urllib.error, urllib.request
p = json.loads(sys.argv[1])
end = time.monotonic() + p["window"]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
last = {"answered": False, "error": "no attempt"}
while True:
    started = time.monotonic()
    try:
        try:
            resp = opener.open(p["url"], timeout=max(0.5, end - started))
            status, body = resp.status, resp.read(p["max_body"])
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read(p["max_body"])
        last = {"answered": True, "status": status, "latency": time.monotonic() - started,
                "body": base64.b64encode(body).decode()}
        if status == p["expect_status"]:
            break
    except Exception as exc:
        reason = getattr(exc, "reason", exc)
        last = {"answered": False, "error": f"{type(reason).__name__}: {reason}"}
    if time.monotonic() + 0.1 >= end:
        break
    time.sleep(0.1)
print(json.dumps(last))
'''

TCP_PROBE = r'''
import base64, json, socket, sys, time
p = json.loads(sys.argv[1])
end = time.monotonic() + p["window"]
last = {"answered": False, "error": "no attempt"}
while True:
    started = time.monotonic()
    try:
        with socket.create_connection((p["host"], p["port"]), timeout=max(0.5, end - started)) as s:
            latency = time.monotonic() - started
            got = b""
            if p.get("send") is not None:
                s.sendall(p["send"].encode())
            if p.get("expect") is not None:
                s.settimeout(max(0.5, p["read_timeout"]))
                want = p["expect"].encode()
                try:
                    while want not in got and len(got) < 65536:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        got += chunk
                except socket.timeout:
                    pass
            last = {"answered": True, "latency": latency, "body": base64.b64encode(got).decode()}
            break
    except OSError as exc:
        last = {"answered": False, "error": f"{type(exc).__name__}: {exc}"}
    if time.monotonic() + 0.1 >= end:
        break
    time.sleep(0.1)
print(json.dumps(last))
'''


def run_probe(launcher: Launcher, script: str, params: dict[str, Any], *, cwd: Path,
              env: dict[str, str]) -> dict[str, Any]:
    """One probe attempt window; a probe that cannot run says why instead of passing."""
    done = launcher.run([PYTHON, "-c", script, json.dumps(params)], cwd=cwd, env=env,
                        timeout=float(params["window"]) + 15)
    if done.timed_out:
        return {"answered": False, "error": "the probe itself hung and was killed"}
    answer = last_json(done.stdout)
    if answer is None:
        why = tail(done.stderr, 3) or [f"exit {done.returncode}"]
        return {"answered": False, "error": f"probe could not run: {' '.join(why)}"}
    return answer
