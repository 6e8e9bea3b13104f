"""Benchmark: a whole `drillbook run` (with content verification) against a bare `restic restore`.

Builds a repository of about 600 MB in 10,000 files (sizes vary like a document store), then
alternates, round by round, a bare ``restic restore`` of the snapshot and a whole
``drillbook run`` of a drill on it, and records the median ratio in bench/RESULTS.md.
Target: drill / bare restore <= 1.25.

    .venv/bin/python bench/restore_overhead.py [--files 10000] [--mb 600] [--rounds 3]
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
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
PASSWORD = "bench-password"


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
    subprocess.run(["restic", "init", "--repo", str(repo)], env=restic_env(), check=True,
                   capture_output=True)
    subprocess.run(["restic", "backup", "--repo", str(repo), "--host", "bench", "--tag", "bench",
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


def settle() -> None:
    """Flush the previous round's writes and deletions so they do not slow the next one down."""
    os.sync()
    time.sleep(1.0)


def time_bare_restore(repo: Path, target: Path) -> float:
    shutil.rmtree(target, ignore_errors=True)
    settle()
    started = time.monotonic()
    subprocess.run(["restic", "restore", "latest", "--repo", str(repo), "--target", str(target),
                    "--no-lock", "--no-cache"], env=restic_env(), check=True, capture_output=True)
    elapsed = time.monotonic() - started
    shutil.rmtree(target)
    return elapsed


def time_drill(work: Path, drills: Path) -> tuple[float, dict]:
    env = {**os.environ, "BENCH_RESTIC_PASSWORD": PASSWORD, "DRILLBOOK_DRILLS": str(drills),
           "DRILLBOOK_REPORTS": str(work / "reports"), "DRILLBOOK_SANDBOX_ROOT": str(work / "sandboxes"),
           "DRILLBOOK_STATE": str(work / "state")}
    settle()
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "drillbook", "run", "bench", "--plain"], env=env,
                          capture_output=True, text=True)
    elapsed = time.monotonic() - started
    runs = sorted((work / "reports" / "bench").glob("*/run.json"))
    record = json.loads(runs[-1].read_text())
    if proc.returncode != 0:
        raise SystemExit(f"drill failed: {record.get('reason')}\n{proc.stderr[-2000:]}")
    return elapsed, record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--mb", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--no-record", action="store_true", help="Do not append to RESULTS.md")
    args = parser.parse_args()
    started = time.monotonic()
    repo, total = setup(args.work, args.files, args.mb)
    print(f"repository ready: {args.files} files, {total / 2**20:.0f} MiB "
          f"({time.monotonic() - started:.0f}s)", flush=True)
    drills = write_drill(args.work, repo)
    bare, drill, phases = [], [], []
    for i in range(args.rounds):
        bare.append(time_bare_restore(repo, args.work / "bare-target"))
        elapsed, record = time_drill(args.work, drills)
        drill.append(elapsed)
        phases.append({p["name"]: p["duration_seconds"] for p in record["phases"]})
        print(f"round {i + 1}: bare restore {bare[-1]:.2f}s, drillbook run {drill[-1]:.2f}s, "
              f"ratio {drill[-1] / bare[-1]:.3f}", flush=True)
    ratios = [d / b for d, b in zip(drill, bare, strict=True)]
    median_phases = {k: statistics.median(p[k] for p in phases) for k in phases[0]}
    summary = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "files": args.files, "mib": round(total / 2**20), "rounds": args.rounds,
        "bare_median_s": round(statistics.median(bare), 2),
        "drill_median_s": round(statistics.median(drill), 2),
        "ratio_median": round(statistics.median(ratios), 3),
        "phases_median_s": {k: round(v, 2) for k, v in median_phases.items()},
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    print(json.dumps(summary, indent=2))
    if not args.no_record:
        record_results(summary)
    return 0


def record_results(summary: dict) -> None:
    path = HERE / "RESULTS.md"
    if not path.exists():
        path.write_text("# Benchmark results\n\nAppended by `bench/restore_overhead.py`; newest last.\n")
    phases = ", ".join(f"{k} {v}s" for k, v in summary["phases_median_s"].items())
    with path.open("a") as fh:
        fh.write(
            f"\n## {summary['date']}: {summary['files']} files, {summary['mib']} MiB, "
            f"{summary['rounds']} rounds\n\n"
            f"| bare `restic restore` (median) | whole `drillbook run` (median) | ratio (median) |\n"
            f"|---:|---:|---:|\n"
            f"| {summary['bare_median_s']} s | {summary['drill_median_s']} s | "
            f"**{summary['ratio_median']}** |\n\n"
            f"Drill phases (median): {phases}.  \nMachine: {summary['machine']}.\n"
        )


if __name__ == "__main__":
    sys.exit(main())
