"""The serve part of the demo: `drillbook serve` runs two drills on `every 5s`, one at a time, with
metrics, a webhook alert receiver on loopback, and a clean SIGTERM stop; then `drillbook schedule`.

It uses its own drills, reports and state folders under ``demo/serve`` so the scheduled runs do
not mix with the on-demand runs of the other demo steps.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devtools.receiver import Receiver

DRILLS = ("clinic-documents", "appointments-db")


def run_serve_demo(state: Any, root: Path, demo: Path, say: Callable[[str], None]) -> None:
    base = demo / "serve"
    folders = {"drills": base / "drills", "reports": base / "reports", "state": base / "state"}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **state.env, "DRILLBOOK_DRILLS": str(folders["drills"]),
           "DRILLBOOK_REPORTS": str(folders["reports"]), "DRILLBOOK_STATE": str(folders["state"])}
    argv = [sys.executable, "-m", "drillbook", "serve", "--concurrency", "1", "--metrics-port", "0"]
    log = base / "serve.log"
    with Receiver(status=204) as receiver:
        _write_drills(root, demo, folders["drills"], f"{receiver.url}/drill-alerts?token=demo-s3cr3t")
        say("$ drillbook serve --concurrency 1 --metrics-port 0   (two drills on 'every 5s', ~15 s)")
        with open(log, "w") as handle:
            proc = subprocess.Popen(argv, env=env, stderr=handle, stdout=subprocess.DEVNULL)
            try:
                finished = _wait(log, "drill-finish", 4, timeout=60)
                metrics = _metrics(log)
                proc.send_signal(signal.SIGTERM)
                code = proc.wait(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    posts = receiver.posts
    for line in log.read_text().splitlines():
        if any(f"event={e} " in line for e in ("drill-start", "drill-finish", "serve-stopping", "serve-stop")):
            say("  " + line)
    for line in metrics:
        say("  " + line)
    say("$ drillbook schedule")
    subprocess.run([sys.executable, "-m", "drillbook", "schedule"], env=env, timeout=120)
    passed = [e for e in finished if e.get("status") == "passed"]
    state.lines.append(f"serve: {len(passed)} scheduled runs passed, {len(posts)} webhook posts, "
                       f"exit {code} on SIGTERM; log {log}")
    if code != 0 or len(passed) < 4:
        state.problems.append(f"serve: exit {code}, {len(passed)} passed scheduled runs (wanted >= 4)")
    if "demo-s3cr3t" in "".join(p.read_text() for p in folders["reports"].rglob("run.json")):
        state.problems.append("serve: the webhook token leaked into a run record")


def _write_drills(root: Path, demo: Path, folder: Path, url: str) -> None:
    """The demo's drills, run every 5 s and reporting every outcome to the loopback receiver."""
    for name in DRILLS:
        text = (root / "drills" / f"{name}.yaml").read_text()
        text = text.replace("../demo/", f"{demo}/")
        text = "\n".join(line for line in text.splitlines() if not line.startswith("schedule:"))
        text += f"\nschedule: every 5s\nnotify:\n  - {{webhook: '{url}', on: [always]}}\n"
        (folder / f"{name}.yaml").write_text(text)


def _events(log: Path, name: str) -> list[dict[str, str]]:
    out = []
    for line in log.read_text().splitlines():
        if f"event={name} " in line or line.endswith(f"event={name}"):
            out.append(dict(p.split("=", 1) for p in shlex.split(line) if "=" in p))
    return out


def _wait(log: Path, name: str, count: int, timeout: float) -> list[dict[str, str]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _events(log, name)
        if len(found) >= count:
            return found
        time.sleep(0.3)
    return _events(log, name)


def _metrics(log: Path) -> list[str]:
    listening = _events(log, "metrics-listening")
    if not listening:
        return []
    text = urllib.request.urlopen(listening[0]["url"], timeout=5).read().decode()
    wanted = ("drillbook_drill_last_status", "drillbook_drill_runs_total", "drillbook_drill_overdue")
    return [line for line in text.splitlines()
            if line.startswith(wanted) and (line.endswith(" 1.0") or ("runs_total" in line
                                            and not line.endswith(" 0.0")) or "overdue" in line)]

