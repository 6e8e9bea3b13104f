"""Benchmark: a whole `drillbook run` (with content verification) against a bare `restic restore`.

Builds a repository (sizes vary like a document store), then alternates, round by round, a bare
``restic restore --no-cache`` of the snapshot and a whole ``drillbook run`` of a drill on it, and
records in bench/RESULTS.md the median, min and max of each and of the per-round ratio, the drill's
phases, drillbook's own peak RSS and restic's (VmHWM, polled), and the machine's load (uptime).
Targets: ratio <= 1.10 at 600 MiB in 10,000 files, <= 1.50 at 200,000 small files; drillbook's
peak RSS <= 150 MB at 200,000 files; time per file flat from 10,000 to 200,000 files.

    .venv/bin/python bench/restore_overhead.py [--files 10000] [--mb 600] [--rounds 5]
    .venv/bin/python bench/restore_overhead.py --suite full    # what `make bench` runs
    .venv/bin/python bench/restore_overhead.py --suite quick   # a laptop's few minutes
    DRILLBOOK_RESTIC=.tools/restic-0.18/restic .venv/bin/python bench/restore_overhead.py ...  # restic 0.18
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
PASSWORD = "bench-password"
#: The restic both the bare restore and the drill run (drillbook reads the same variable).
RESTIC = os.environ.get("DRILLBOOK_RESTIC", "restic")


def build_tree(root: Path, files: int, megabytes: int, seed: int = 7) -> int:
    """Files with log-normal sizes scaled to ``megabytes`` in total, in nested folders."""
    rng = random.Random(seed)
    weights = [rng.lognormvariate(0, 1.2) for _ in range(files)]
    scale = megabytes * 1024 * 1024 / sum(weights)
    total = 0
    for i, weight in enumerate(weights):
        folder = root / f"dept-{i % 17:02d}" / f"box-{i % 101:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        size = max(1, int(weight * scale))
        (folder / f"record-{i:05d}.bin").write_bytes(rng.randbytes(size))
        total += size
    return total


def restic_env() -> dict[str, str]:
    return {**os.environ, "RESTIC_PASSWORD": PASSWORD}


def setup(work: Path, files: int, megabytes: int) -> tuple[Path, int]:
    repo = work / "repo"
    marker = work / f"built-{files}-{megabytes}.json"
    if marker.exists() and repo.exists():
        return repo, json.loads(marker.read_text())["bytes"]
    shutil.rmtree(work, ignore_errors=True)
    source = work / "source"
    source.mkdir(parents=True)
    total = build_tree(source / "data", files, megabytes)
    subprocess.run([RESTIC, "init", "--repo", str(repo)], env=restic_env(), check=True,
                   capture_output=True)
    subprocess.run([RESTIC, "backup", "--repo", str(repo), "--host", "bench", "--tag", "bench",
                    "data"], cwd=source, env=restic_env(), check=True, capture_output=True)
    shutil.rmtree(source)
    marker.write_text(json.dumps({"bytes": total}))
    return repo, total


def write_drill(work: Path, repo: Path) -> Path:
    drills = work / "drills"
    drills.mkdir(exist_ok=True)
    (drills / "bench.yaml").write_text(
        "description: benchmark restore\n"
        "objectives: {rto: 1h, rpo: 30d}\n"
        f"source:\n  repository: {repo}\n  password: {{env: BENCH_RESTIC_PASSWORD}}\n"
        "  snapshot: {host: bench, tags: [bench]}\n"
        "verify:\n  - type: files\n    path: data\n    min_count: 1\n"
    )
    return drills


class PeakRss:
    """Peak resident memory (VmHWM) of one process and, separately, of the restic processes under
    it, polled from /proc while it runs (a drill's restic children are not drillbook's own)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.own = 0
        self.restic = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join()

    def _poll(self) -> None:
        while not self.done.wait(0.1):
            self.own = max(self.own, _hwm(self.pid))
            for pid, name in _descendants(self.pid):
                if name == "restic":
                    self.restic = max(self.restic, _hwm(pid))


def _hwm(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _descendants(top: int) -> list[tuple[int, str]]:
    parents: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                text = (entry / "stat").read_text()
            except OSError:
                continue
            name = text[text.index("(") + 1:text.rindex(")")]
            parents[int(entry.name)] = (int(text[text.rindex(")") + 2:].split()[1]), name)
    found, frontier = [], {top}
    while frontier:
        frontier = {pid for pid, (ppid, _) in parents.items() if ppid in frontier}
        found += [(pid, parents[pid][1]) for pid in frontier]
    return found


def settle() -> None:
    """Flush the previous round's writes and deletions so they do not slow the next one down."""
    os.sync()
    time.sleep(1.0)


def time_bare_restore(repo: Path, target: Path) -> float:
    shutil.rmtree(target, ignore_errors=True)
    settle()
    started = time.monotonic()
    subprocess.run([RESTIC, "restore", "latest", "--repo", str(repo), "--target", str(target),
                    "--no-lock", "--no-cache"], env=restic_env(), check=True, capture_output=True)
    elapsed = time.monotonic() - started
    shutil.rmtree(target)
    return elapsed


def time_drill(work: Path, drills: Path) -> tuple[float, dict, PeakRss]:
    env = {**os.environ, "BENCH_RESTIC_PASSWORD": PASSWORD, "DRILLBOOK_DRILLS": str(drills),
           "DRILLBOOK_REPORTS": str(work / "reports"), "DRILLBOOK_SANDBOX_ROOT": str(work / "sandboxes"),
           "DRILLBOOK_STATE": str(work / "state")}
    settle()
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "drillbook", "run", "bench", "--plain"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = PeakRss(proc.pid)
    _, stderr = proc.communicate()
    elapsed = time.monotonic() - started
    peak.stop()
    runs = sorted((work / "reports" / "bench").glob("*/run.json"))
    record = json.loads(runs[-1].read_text())
    if proc.returncode != 0:
        raise SystemExit(f"drill failed: {record.get('reason')}\n{stderr[-2000:]}")
    return elapsed, record, peak


#: (files, MiB) measured by each suite; the first ones hold the ratio targets, all of them
#: together show the cost per file at each size.
SUITES = {
    "full": [(10_000, 600), (200_000, 200), (10_000, 10), (50_000, 50)],
    "quick": [(2_000, 60), (20_000, 20), (2_000, 2), (5_000, 5)],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--mb", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--suite", choices=sorted(SUITES), help="Every size of a suite, then the table per file")
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--no-record", action="store_true", help="Do not append to RESULTS.md")
    args = parser.parse_args()
    sizes = SUITES[args.suite] if args.suite else [(args.files, args.mb)]
    summaries = []
    for files, mb in sizes:
        work = (args.work / f"{files}-{mb}" if args.suite else args.work).resolve()  # restic runs elsewhere
        command = ((f"DRILLBOOK_RESTIC={RESTIC} " if RESTIC != "restic" else "")
                   + f"bench/restore_overhead.py --files {files} --mb {mb} --rounds {args.rounds}"
                   + (f" --work {work}" if args.suite else ""))
        summary = measure(work, files, mb, args.rounds, command)
        summaries.append(summary)
        if not args.no_record:
            record_results(summary)
    if args.suite and not args.no_record:
        record_scaling(summaries)
    return 0


def measure(work: Path, files: int, mb: int, rounds: int, command: str) -> dict:
    started = time.monotonic()
    repo, total = setup(work, files, mb)
    print(f"repository ready: {files} files, {total / 2**20:.0f} MiB "
          f"({time.monotonic() - started:.0f}s)", flush=True)
    drills = write_drill(work, repo)
    bare, drill, phases, own_rss, restic_rss, loads = [], [], [], [], [], []
    for i in range(rounds):
        loads.append(os.getloadavg()[0])
        bare.append(time_bare_restore(repo, work / "bare-target"))
        elapsed, record, peak = time_drill(work, drills)
        drill.append(elapsed)
        own_rss.append(peak.own)
        restic_rss.append(peak.restic)
        phases.append({p["name"]: p["duration_seconds"] for p in record["phases"]})
        print(f"round {i + 1}: bare restore {bare[-1]:.2f}s, drillbook run {drill[-1]:.2f}s, "
              f"ratio {drill[-1] / bare[-1]:.3f}, drillbook peak RSS {peak.own / 1e6:.0f} MB, "
              f"restic {peak.restic / 1e6:.0f} MB", flush=True)
    ratios = [d / b for d, b in zip(drill, bare, strict=True)]
    median_phases = {k: statistics.median(p[k] for p in phases) for k in phases[0]}
    summary = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "files": files, "mib": round(total / 2**20), "rounds": rounds,
        "bare_s": spread(bare), "drill_s": spread(drill), "ratio": spread(ratios, 3),
        "drill_ms_per_file": round(statistics.median(drill) / files * 1000, 3),
        "bare_ms_per_file": round(statistics.median(bare) / files * 1000, 3),
        "drillbook_peak_rss_mb": round(max(own_rss) / 1e6), "restic_peak_rss_mb": round(max(restic_rss) / 1e6),
        "phases_median_s": {k: round(v, 2) for k, v in median_phases.items()},
        "load_1min": [round(x, 1) for x in loads],
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "restic": subprocess.run([RESTIC, "version"], capture_output=True, text=True).stdout.strip(),
    }
    print(json.dumps(summary, indent=2), flush=True)
    return summary


def spread(values: list[float], digits: int = 2) -> dict[str, float]:
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits)}


def record_results(summary: dict) -> None:
    path = HERE / "RESULTS.md"
    if not path.exists():
        path.write_text("# Benchmark results\n\nAppended by `bench/restore_overhead.py`; newest last.\n")
    phases = ", ".join(f"{k} {v}s" for k, v in summary["phases_median_s"].items())
    cells = " | ".join(f"{summary[k]['median']} ({summary[k]['min']}-{summary[k]['max']})"
                       for k in ("bare_s", "drill_s", "ratio"))
    with path.open("a") as fh:
        fh.write(
            f"\n## {summary['date']}: {summary['files']} files, {summary['mib']} MiB, "
            f"{summary['rounds']} alternated rounds\n\n"
            f"`{summary['command']}`\n\n"
            "| bare `restic restore` s, median (min-max) | whole `drillbook run` s | ratio per round |\n"
            "|---:|---:|---:|\n"
            f"| {cells} |\n\n"
            f"Drill phases (median): {phases}.  \n"
            f"Peak RSS: drillbook {summary['drillbook_peak_rss_mb']} MB, restic "
            f"{summary['restic_peak_rss_mb']} MB.  \n"
            f"Load (1 min) at each round: {summary['load_1min']}; `uptime` after: {summary['uptime']}.  \n"
            f"Machine: {summary['machine']}; {summary['restic']}.\n"
        )


def record_scaling(summaries: list[dict]) -> None:
    rows = sorted((s for s in summaries if s["mib"] * 1000 <= s["files"] * 1.1), key=lambda s: s["files"])
    with (HERE / "RESULTS.md").open("a") as fh:
        fh.write("\nTime per file (small files, about 1 KiB each, medians):\n\n"
                 "| files | drill s | drill ms/file | bare ms/file | ratio |\n|---:|---:|---:|---:|---:|\n")
        for s in rows:
            fh.write(f"| {s['files']} | {s['drill_s']['median']} | {s['drill_ms_per_file']} | "
                     f"{s['bare_ms_per_file']} | {s['ratio']['median']} |\n")


if __name__ == "__main__":
    sys.exit(main())
