#!/usr/bin/env python3
"""How long ``drillbook validate``, ``list`` and ``schedule`` take on 1,000 drills.

A project of that size is a hospital group's whole estate; these commands are what an operator
types (and what shell completion and monitoring call) many times a day, so each should answer
within a second. The script writes 1,000 drills (schedules, objectives, two checks, a notify
target each) and a project file into a temporary folder, runs each command as a new process
``--rounds`` times, and prints (and with ``--record`` appends to bench/RESULTS.md) the median,
minimum and maximum wall time, with the load average, since the machine may be shared.

    .venv/bin/python bench/commands_1000.py --record
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
COMMANDS = (["validate"], ["list"], ["schedule"], ["--help"])

DRILL = """\
description: Clinic {i} documents and appointments
owner: clinic-oncall@example.org
schedule: "{minute} 2 * * *"
timezone: Europe/Berlin
objectives: {{rto: 30m, rpo: 1d}}
source:
  repository: {repo}
  password: {{env: RESTIC_PASSWORD}}
  snapshot: {{host: clinic-{i}, tags: [nightly]}}
verify:
  - {{type: files, path: "srv/clinic-{i}/letters", min_count: 10, required: [letter-0001.txt]}}
  - type: sqlite
    path: srv/clinic-{i}/db/appointments.sqlite
    queries: [{{sql: "select count(*) from appointments", expect: ">= 1000"}}]
notify:
  - {{webhook: "http://127.0.0.1:9/hook", on: [failure]}}
"""


def write_drills(folder: Path, count: int) -> None:
    """``count`` drills, half on local repositories, half on S3, as an estate would have."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "drillbook.yaml").write_text("{}\n")
    for i in range(count):
        repo = f"/srv/restic/clinic-{i}" if i % 2 else f"s3:https://s3.example.org/backups/clinic-{i}"
        (folder / f"clinic-{i:04d}.yaml").write_text(DRILL.format(i=i, minute=i % 60, repo=repo))


def time_command(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time, and the CPU time (user + system) the process used: on a shared machine the
    second says more about drillbook than the first. ``["-c", "pass"]`` times the bare interpreter."""
    argv = [sys.executable, *args] if args[0] == "-c" else [sys.executable, "-m", "drillbook", *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"drillbook {' '.join(args)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return elapsed, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drills", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--record", action="store_true", help="Append the results to bench/RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="drillbook-bench-") as tmp:
        work = Path(tmp)
        write_drills(work / "drills", args.drills)
        (work / "reports").mkdir()
        env = {**os.environ, "DRILLBOOK_DRILLS": str(work / "drills"), "DRILLBOOK_REPORTS": str(work / "reports"),
               "DRILLBOOK_STATE": str(work / "state"), "DRILLBOOK_RUNBOOKS": str(work / "runbooks"),
               "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed drillbook has its bytecode compiled
        for command in COMMANDS:
            time_command(command, env)  # not timed: writes the bytecode, warms the page cache
        results = {}
        for command in [*COMMANDS, ["-c", "pass"]]:
            times, cpus, loads = [], [], []
            for _ in range(args.rounds):
                loads.append(round(os.getloadavg()[0], 1))
                wall, cpu = time_command(command, env)
                times.append(wall)
                cpus.append(cpu)
            results[" ".join(command)] = {"median": round(statistics.median(times), 3),
                                          "min": round(min(times), 3), "max": round(max(times), 3),
                                          "cpu_median": round(statistics.median(cpus), 3), "load_1min": loads}
    results["--help"]["ratio_to_python_c_pass"] = round(results["--help"]["median"] / results["-c pass"]["median"], 2)
    print(json.dumps(results, indent=2))
    if args.record:
        record(results, args)
    return 0


def record(results: dict, args: argparse.Namespace) -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"\n## {when}: `validate`, `list`, `schedule` of {args.drills:,} drills, {args.rounds} runs each\n",
             "| command | median s | min s | max s | CPU s (median) | load (1 min) at each run |",
             "|---|---:|---:|---:|---:|---|"]
    for name, r in results.items():
        shown = "python -c pass" if name == "-c pass" else f"drillbook {name}"
        lines.append(f"| `{shown}` | {r['median']} | {r['min']} | {r['max']} | {r['cpu_median']} "
                     f"| {r['load_1min']} |")
    ratio = results["--help"]["ratio_to_python_c_pass"]
    lines.append(f"\n`drillbook --help` / `python -c pass` (medians): **{ratio}**.")
    lines.append(f"\nCommand: `.venv/bin/python bench/commands_1000.py --drills {args.drills} --rounds {args.rounds} "
                 f"--record`. Machine: {os.uname().machine}, {os.cpu_count()} cores (shared), "
                 f"Python {sys.version.split()[0]}.\n")
    with (HERE / "RESULTS.md").open("a") as out:
        out.write("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
