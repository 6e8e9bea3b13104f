#!/usr/bin/env python3
"""How soon ``drillbook run`` reaches restic: the drill's clock should be the restore's.

``DRILLBOOK_RESTIC`` points at a tiny script that notes ``time.time()`` when it starts and then
execs the real restic; the figure is the first restic start minus the moment just before the
``drillbook run`` process was spawned (Python's start-up, imports, loading the drill, preparing
the sandbox). A small repository (20 files) is built once in ``--work``. Each round is a new
process; the median, minimum and maximum over ``--rounds`` are printed (and with ``--record``
appended to bench/RESULTS.md) with the load average, since the machine may be shared.

    .venv/bin/python bench/run_startup.py --record
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from restore_overhead import PASSWORD, setup, write_drill

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

FAKE = """#!{python} -S
import os, sys, time
now = time.time()
with open(f"/proc/{{os.getppid()}}/stat") as stat:  # drillbook's CPU time so far: user + system
    fields = stat.read().rpartition(")")[2].split()
cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
with open({stamps!r}, "a") as out:
    out.write(f"{{now!r}} {{cpu!r}} {{' '.join(sys.argv[1:3])}}\\n")
os.execv({real!r}, [{real!r}, *sys.argv[1:]])
"""


def fake_restic(work: Path, real: str) -> tuple[Path, Path]:
    """A restic that notes when (and as what) it starts, then becomes the real one."""
    stamps = work / "restic-starts.txt"
    script = work / "restic-stamp"
    script.write_text(FAKE.format(python=sys.executable, stamps=str(stamps), real=real))
    script.chmod(0o755)
    return script, stamps


def one_round(work: Path, drills: Path, script: Path, stamps: Path) -> tuple[float, float, str]:
    stamps.unlink(missing_ok=True)
    env = {**os.environ, "BENCH_RESTIC_PASSWORD": PASSWORD, "DRILLBOOK_DRILLS": str(drills),
           "DRILLBOOK_REPORTS": str(work / "reports"), "DRILLBOOK_SANDBOX_ROOT": str(work / "sandboxes"),
           "DRILLBOOK_STATE": str(work / "state"), "DRILLBOOK_RESTIC": str(script),
           "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed drillbook has its bytecode compiled
    started = time.time()
    done = subprocess.run([sys.executable, "-m", "drillbook", "run", "bench", "--plain"], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"drillbook run exited {done.returncode}:\n{done.stderr[-2000:]}")
    first, cpu, what = stamps.read_text().splitlines()[0].split(" ", 2)
    return float(first) - started, float(cpu), what


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--work", type=Path, default=Path("/tmp/drillbook-bench-startup"))
    parser.add_argument("--fresh", action="store_true",
                        help="Empty the reports folder before each run (no earlier run to reap or look up)")
    parser.add_argument("--record", action="store_true", help="Append the result to bench/RESULTS.md")
    args = parser.parse_args()
    repo, _ = setup(args.work, 20, 1)
    drills = write_drill(args.work, repo)
    real = os.environ.get("DRILLBOOK_RESTIC") or shutil.which("restic") or "restic"
    script, stamps = fake_restic(args.work, real)
    one_round(args.work, drills, script, stamps)  # not timed: writes the bytecode, warms the caches
    delays, cpus, loads, first = [], [], [], ""
    for _ in range(args.rounds):
        if args.fresh:
            shutil.rmtree(args.work / "reports", ignore_errors=True)
        loads.append(round(os.getloadavg()[0], 1))
        delay, cpu, first = one_round(args.work, drills, script, stamps)
        delays.append(delay)
        cpus.append(cpu)
    result = {"median": round(statistics.median(delays), 3), "min": round(min(delays), 3),
              "max": round(max(delays), 3), "cpu_median": round(statistics.median(cpus), 3),
              "cpu_min": round(min(cpus), 3), "first_restic_call": first, "load_1min": loads}
    print(json.dumps(result, indent=2))
    if args.record:
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        reports = ("an empty reports folder each run" if args.fresh
                   else "the earlier runs' records in the reports folder")
        flag = " --fresh" if args.fresh else ""
        with (HERE / "RESULTS.md").open("a") as out:
            out.write(f"\n## {when}: `drillbook run` start to its first restic call, {args.rounds} runs\n\n"
                      f"Median {result['median']} s (min {result['min']}, max {result['max']}); drillbook's CPU "
                      f"time by then median {result['cpu_median']} s (min {result['cpu_min']}); {reports}; the "
                      f"first call is `restic {first}`. Load (1 min) at each run: {loads}.  \n"
                      f"Command: `.venv/bin/python bench/run_startup.py --rounds {args.rounds}{flag} --record`.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
