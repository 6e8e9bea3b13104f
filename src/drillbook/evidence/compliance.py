"""The period compliance report: every declared drill and runbook, what ran, what it proved, the gaps.

Built from the run records (the source of truth), the declared drills and runbooks, and the
ledger's verification at rendering time; rendered to self-contained HTML, Markdown and JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drillbook.evidence import controls, ledger, sightings, trend, verify
from drillbook.evidence import notes as signed_notes
from drillbook.evidence.period import Period, Span, coverage, coverage_of
from drillbook.outputs.runstore import load_runs
from drillbook.report import render
from drillbook.runbook.parser import load_runbooks
from drillbook.settings import Settings
from drillbook.spec.loader import load_drills, load_project
from drillbook.status import Status
from drillbook.util.atomic import write_text_atomic
from drillbook.util.clock import iso, parse_iso, utc_now
from drillbook.util.durations import format_duration
from drillbook.util.plain import strip_controls

FORMAT = "drillbook-compliance/1"
UNAUDITED = {"not_audited", Status.SKIPPED, None}
#: Uncovered due times listed by date; beyond this many, the report says how many more.
MAX_LISTED_WINDOWS = 12


# -- declared items ---------------------------------------------------------------------------
def declared_drills(settings: Settings) -> list[dict[str, Any]]:
    loaded = load_drills(settings.drills_dir) if settings.drills_dir.is_dir() else None
    if loaded is None:
        return []
    return [{"kind": "drill", "name": name, "owner": d.owner, "description": d.description,
             "schedule": d.schedule, "timezone": d.timezone,
             "rto_target": d.objectives.rto.text, "rpo_target": d.objectives.rpo.text,
             "declared_immutability": d.source.immutability is not None,
             "declared_network": d.isolation.network}
            for name, d in sorted(loaded.drills.items())]


def declared_runbooks(settings: Settings) -> list[dict[str, Any]]:
    """The runbooks of the runbooks folder, as items of the period report."""
    folder = settings.runbooks_dir
    if not folder.is_dir():
        return []
    return [{"kind": "runbook", "name": name, "description": rb.title, "owner": rb.meta.owner,
             "schedule": None, "rto_target": rb.rto.text if rb.rto else None, "rpo_target": None}
            for name, rb in sorted(load_runbooks(folder).runbooks.items())]


#: A finished run's summary with its start time, parsed once: the report compares it many times.
Dated = tuple[datetime, dict[str, Any]]


def dated_runs(settings: Settings) -> list[Dated]:
    """Every finished run of the reports folder, oldest first, summarised for the report, with
    its start; a run whose start does not parse is no evidence of when it ran, and is left out."""
    chosen = []
    for run in load_runs(settings.reports_dir):
        if run.get("status") == Status.RUNNING or not run.get("started_at"):
            continue
        try:
            started = parse_iso(run["started_at"])
        except ValueError:
            continue
        chosen.append((started, _summary(run, settings.reports_dir)))
    return sorted(chosen, key=lambda d: d[1]["started_at"])


def finished_runs(settings: Settings) -> list[dict[str, Any]]:
    """Every finished run of the reports folder, oldest first, summarised for the report."""
    return [run for _, run in dated_runs(settings)]


def runs_in(settings: Settings, period: Period) -> list[dict[str, Any]]:
    """Finished runs that started in the period, oldest first."""
    return [run for started, run in dated_runs(settings) if period.contains(started)]


def _summary(run: dict[str, Any], reports: Path) -> dict[str, Any]:
    objectives = run.get("objectives") or {}
    folder = Path(run["_dir"])
    return {
        "kind": run.get("kind", "drill"),
        "name": run.get("drill") or run.get("runbook") or "?",
        "run_id": run.get("run_id"),
        "status": run.get("status"),
        "reason": run.get("reason"),
        "started_at": run.get("started_at"),
        "finished_at": run.get("finished_at"),
        "trigger": run.get("trigger"),
        "rto": objectives.get("rto") or None,
        "rpo": objectives.get("rpo") or None,
        "immutability": (run.get("immutability") or {}).get("status") if run.get("kind", "drill") == "drill" else None,
        "network": (run.get("isolation") or {}).get("network"),
        "content_status": (run.get("content") or {}).get("status"),
        "declared_first_seen": (run.get("declared") or {}).get("first_seen"),
        "restored_bytes": trend.restored_bytes(run),
        "href": (folder.relative_to(reports) / "report.html").as_posix() if folder.is_relative_to(reports) else None,
        "participants": participants(run),
    }


def participants(run: dict[str, Any]) -> list[str]:
    """Who took part, as the record says: a runbook's operator and who confirmed its steps."""
    names = [run.get("operator")] + [s.get("confirmed_by") for s in run.get("steps") or []
                                     if isinstance(s, dict) and s.get("confirmed_via") != "--yes"]
    return sorted({strip_controls(str(n), "").strip() for n in names if n and n != "--yes"} - {""})


def review_days(settings: Settings) -> int:
    """drillbook.yaml's failed_run_review_days (the default without one)."""
    if not settings.drills_dir.is_dir():
        return signed_notes.DEFAULT_REVIEW_DAYS
    return load_project(settings.drills_dir)[0].failed_run_review_days


def attach_notes(runs: list[dict[str, Any]], by_run: dict[str, list[dict[str, Any]]], now: datetime,
                 days: int) -> None:
    """Each run's signed notes, their authors among its participants, whether a failure went
    unanswered for ``days`` (``unanswered`` holds the days then), and the controls it leaves uncovered."""
    for run in runs:
        run["notes"] = by_run.get(str(run.get("run_id")), [])
        run["participants"] = sorted(set(run.get("participants") or []) | {str(n["by"]) for n in run["notes"]})
        run["unanswered"] = days if signed_notes.unanswered(run, run["notes"], now, days) else None
        run["not_covered"] = controls.not_covered(run)


# -- since when a drill existed ---------------------------------------------------------------
@dataclass(frozen=True)
class Existence:
    """When a drill was first seen declared (or earlier, when a sealed run shows it), when its
    schedule last changed, when it was removed, and the stretches of the period it existed in."""

    declared_at: datetime
    schedule_since: datetime
    removed_at: datetime | None
    spans: list[Span]


def existence(sighting: sightings.Sighting, current: bool, runs: list[Dated],
              period: Period, until: datetime) -> Existence:
    """``runs``: the drill's vouched runs, of any time; ``current``: declared in the folder now
    (a removal the state file still shows is then one no command has noticed the undoing of)."""
    if current and sighting.removed_at is not None:
        sighting = sightings.Sighting(sighting.name, sighting.history[:-1])
    shown = [started for started, _ in runs] + [parse_iso(r["declared_first_seen"]) for _, r in runs
                                                 if r.get("declared_first_seen")]
    since = min([sighting.first_seen, *shown])
    return Existence(since, sighting.schedule_since, sighting.removed_at,
                     sighting.spans(period.start, until, since=since))


def removed_declaration(sighting: sightings.Sighting) -> dict[str, Any]:
    """What the period report knows of a drill no longer in the folder: its last schedule."""
    last = sighting.last_declared
    return {"kind": "drill", "name": sighting.name, "schedule": last.schedule, "timezone": last.timezone,
            "removed": True}


# -- per item ---------------------------------------------------------------------------------
def build_item(declared: dict[str, Any] | None, kind: str, name: str, runs: list[dict[str, Any]],
               period: Period, now: datetime, passes: list[datetime] | None = None,
               life: Existence | None = None, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``runs`` are the item's runs in the period; ``passes`` the start times of all its passing
    runs, also after the period, since a pass in a due time's window covers that due time.
    ``life``, when drillbook has seen the drill declared, limits the due times to when it existed;
    ``history`` (the drill's vouched runs up to the period's end) gives the RTO trend."""
    decl = declared or {}
    removed = bool(decl.get("removed"))
    all_runs, runs = runs, [r for r in runs if r.get("vouched", True)]
    until = min(period.end, now)
    passes = passes if passes is not None else _passes(runs)
    if life is not None:
        covered = coverage_of(life.spans, now, passes, MAX_LISTED_WINDOWS)
    else:
        covered = coverage(decl.get("schedule"), decl.get("timezone", "UTC"), period.start, until, now,
                           passes, MAX_LISTED_WINDOWS)
    due = covered.due if covered else None
    item = {
        "kind": kind, "name": name, "declared": declared is not None and not removed,
        "declared_at": iso(life.declared_at) if life else None,
        "declared_in_period": bool(life and life.declared_at > period.start),
        "schedule_since": iso(life.schedule_since) if life else None,
        "removed_at": iso(life.removed_at) if life and removed else None,
        "description": decl.get("description") or "", "owner": decl.get("owner") or _latest(runs, "owner"),
        "schedule": decl.get("schedule"), "due": due, "due_partial": until < period.end,
        "uncovered": [iso(t) for t in covered.uncovered] if covered else [],
        "uncovered_count": covered.uncovered_count if covered else 0,
        "open_windows": covered.open_windows if covered else 0,
        "runs_made": len(runs),
        "passed": sum(r["status"] == Status.PASSED for r in runs),
        "failed": sum(r["status"] == Status.FAILED for r in runs),
        "aborted": sum(r["status"] == Status.ABORTED for r in runs),
        "partial": sum(r["status"] == Status.PARTIAL for r in runs),
        "rto": _objective(runs, "rto", decl.get("rto_target")),
        "rpo": _objective(runs, "rpo", decl.get("rpo_target")),
        "immutability": _immutability(runs, kind),
        "networks": sorted({str(r["network"]) for r in runs if r.get("network")}),
        "unvouched": len(all_runs) - len(runs),
        "runs": all_runs,
        "trend": _trend(history, period) if kind == "drill" and history is not None else None,
    }
    item["attention"] = attention(item, decl)
    return item


def _trend(history: list[dict[str, Any]], period: Period) -> dict[str, Any]:
    """The RTO forecast over the drill's runs; ``soon`` when it meets the target by the end of the
    period after this one (as long as this one)."""
    found = [p for r in history if (p := trend.point(r["run_id"], r["started_at"], r["status"],
                                                      (r.get("rto") or {}).get("measured_seconds"),
                                                      r.get("restored_bytes"))) is not None]
    newest: dict[str, Any] = next((r["rto"] for r in reversed(history) if r.get("rto")), {})
    forecast = trend.forecast(sorted(found, key=lambda p: p.started), newest.get("target_seconds"),
                              newest.get("target") or "")
    return {"text": forecast.text(), "outlook": str(forecast.outlook), "runs": forecast.runs,
            "reaches_at": iso(forecast.reaches_at),
            "soon": forecast.within(period.end + (period.end - period.start))}


def _passes(runs: list[dict[str, Any]]) -> list[datetime]:
    return [parse_iso(r["started_at"]) for r in runs if r["status"] == Status.PASSED]


def _latest(runs: list[dict[str, Any]], key: str) -> str:
    return next((str(r[key]) for r in reversed(runs) if r.get(key)), "")


def _objective(runs: list[dict[str, Any]], key: str, declared_target: str | None) -> dict[str, Any]:
    values = [r[key] for r in runs if r.get(key)]
    measured = [v["measured_seconds"] for v in values if v.get("measured_seconds") is not None]
    target_seconds = next((v.get("target_seconds") for v in reversed(values)), None)
    return {
        "target": declared_target or next((v.get("target") for v in reversed(values)), None),
        "target_seconds": target_seconds,
        "best": min(measured) if measured else None,
        "worst": max(measured) if measured else None,
        "measured": len(measured),
        "missed": sum(v.get("met") is False for v in values),
    }


def _immutability(runs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    if kind != "drill":
        return {"audited": 0, "passed": 0, "failed": 0, "not_audited": 0, "last": None}
    statuses = [r.get("immutability") for r in runs]
    return {
        "audited": sum(s not in UNAUDITED for s in statuses),
        "passed": sum(s == Status.PASSED for s in statuses),
        "failed": sum(s not in UNAUDITED and s != Status.PASSED for s in statuses),
        "not_audited": sum(s in UNAUDITED for s in statuses),
        "last": statuses[-1] if statuses else None,
    }


def attention(item: dict[str, Any], decl: dict[str, Any]) -> list[str]:
    """What a reviewer must look at, in words; an empty list means nothing to flag."""
    notes = []
    if item.get("removed_at"):
        notes.append(f"removed from the drills folder on {item['removed_at'][:10]}")
    elif not item["declared"]:
        notes.append("ran in the period but is no longer declared")
    if item["unvouched"]:
        notes.append(f"{item['unvouched']} run(s) the ledger cannot vouch for, not counted")
    if not item["runs_made"]:
        if item["due"] or not item.get("declared_in_period"):  # nothing was due since it appeared
            notes.append("no run in the period" + (f" ({item['due']} due)" if item["due"] else ""))
        return notes
    if not item["passed"]:
        counts = [f"{item[k]} {k}" for k in (Status.FAILED, Status.ABORTED, Status.PARTIAL) if item[k]]
        notes.append(f"no passing run ({', '.join(counts)})")
    if item["partial"]:
        notes.append(f"{item['partial']} partial run(s) started --from a later step: not counted as rehearsals")
    if item["uncovered_count"]:
        notes.append(uncovered_note(item))
    for key in ("rto", "rpo"):
        if item[key]["missed"]:
            notes.append(f"{key.upper()} missed in {item[key]['missed']} run(s) (worst "
                         f"{format_duration(item[key]['worst'])}, target {item[key]['target']})")
    if item["kind"] == "drill" and item["immutability"]["not_audited"]:
        notes.append(f"{item['immutability']['not_audited']} run(s) without an immutability audit")
    if item["immutability"]["failed"]:
        notes.append(f"immutability audit failed in {item['immutability']['failed']} run(s)")
    if "host" in item["networks"]:
        notes.append("ran with network: host (services could reach the network)")
    late = [r for r in item["runs"] if r.get("unanswered")]
    if late:
        notes.append(f"{len(late)} failed run(s) without a review or corrective action after "
                     f"{late[0]['unanswered']} days: {', '.join(str(r['run_id']) for r in late)} "
                     "(drillbook evidence note RUN_ID --kind review|corrective-action)")
    if item.get("trend") and item["trend"]["soon"]:
        notes.append(f"RTO forecast reaches the target by the end of the next period: {item['trend']['text']}")
    return notes


def uncovered_note(item: dict[str, Any]) -> str:
    """The due times no pass covered, by date; the list is cut after MAX_LISTED_WINDOWS."""
    days = ", ".join(t[:10] for t in item["uncovered"])
    more = item["uncovered_count"] - len(item["uncovered"])
    return (f"{item['uncovered_count']} of {item['due']} due times without a passing run in their "
            f"window: {days}" + (f" and {more} more" if more > 0 else ""))


# -- the whole report -------------------------------------------------------------------------
def build(settings: Settings, period: Period, names: list[str] | None = None,
          now: datetime | None = None, verification: verify.Result | None = None,
          never_drilled: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report's data; ``never_drilled`` is drill/coverage.py's record for the period, when the
    caller read the repositories (the report's "Backups never drilled" section)."""
    now = now or datetime.now(UTC)
    result = verification or verify.verify_folder(settings.reports_dir)
    doubted = result.doubted_runs()
    dated = dated_runs(settings)
    every_run = _mark_vouched([run for _, run in dated], doubted)
    attach_notes(every_run, signed_notes.by_run(ledger.read_entries(settings.reports_dir)), now, review_days(settings))
    runs = [run for started, run in dated if period.contains(started)]
    vouched = _vouched_by_item(dated)
    until = min(period.end, now)
    declared = {(d["kind"], d["name"]): d for d in declared_drills(settings) + declared_runbooks(settings)}
    lives = _lives(settings, declared, vouched, period, until)
    for key, (life, sighting) in lives.items():
        if key not in declared and life.spans:
            declared[key] = removed_declaration(sighting)  # removed, but existed in the period
    keys = set(declared) | {(r["kind"], r["name"]) for r in runs}
    if names:
        keys = {k for k in keys if k[1] in names}
    in_period = _by_item(runs)
    items = [build_item(declared.get(k), k[0], k[1], in_period.get(k, []), period, now,
                        [started for started, r in vouched.get(k, []) if r["status"] == Status.PASSED],
                        lives[k][0] if k in lives else None,
                        [r for started, r in vouched.get(k, []) if started < until])
             for k in sorted(keys, key=lambda k: (k[0] != "drill", k[1]))]
    return {
        "format": FORMAT,
        "period": {"label": period.label, "start": iso(period.start), "end": iso(period.end),
                   "text": period.describe(), "ongoing": now < period.end},
        "generated_at": iso(utc_now()),
        "attention": _ledger_attention(result, doubted) + [
            {"kind": i["kind"], "name": i["name"], "notes": i["attention"]} for i in items if i["attention"]],
        "items": items,
        "totals": _totals(items),
        "ledger": _ledger(result),
        "controls": controls.control_table(items),
        "lacking_pass": [f"{i['kind']} {i['name']}" for i in items if i["declared"] and not i["passed"]],
        "never_drilled": never_drilled,
    }


def _by_item(runs: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Runs by (kind, name), each list in the order given: one pass, not one per item."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        found.setdefault((run["kind"], run["name"]), []).append(run)
    return found


def _vouched_by_item(dated: list[Dated]) -> dict[tuple[str, str], list[Dated]]:
    """The runs the ledger vouches for (marked already), by (kind, name), oldest first."""
    found: dict[tuple[str, str], list[Dated]] = {}
    for started, run in dated:
        if run["vouched"]:
            found.setdefault((run["kind"], run["name"]), []).append((started, run))
    return found


def _lives(settings: Settings, declared: dict[tuple[str, str], dict[str, Any]],
           vouched: dict[tuple[str, str], list[Dated]], period: Period,
           until: datetime) -> dict[tuple[str, str], tuple[Existence, sightings.Sighting]]:
    """Each drill drillbook has seen declared (the state folder's declared.json), with its existence."""
    found = {}
    for name, sighting in sightings.read(settings.state_dir).items():
        key = ("drill", name)
        found[key] = (existence(sighting, key in declared, vouched.get(key, []), period, until), sighting)
    return found


def _mark_vouched(runs: list[dict[str, Any]], doubted: set[str] | None) -> list[dict[str, Any]]:
    """Only a run the ledger vouches for is evidence (``doubted``: :meth:`verify.Result.doubted_runs`);
    the others stay visible, marked."""
    for run in runs:
        run["vouched"] = doubted is not None and run["run_id"] not in doubted
    return runs


def _ledger_attention(result: verify.Result, doubted: set[str] | None) -> list[dict[str, Any]]:
    """A ledger that does not verify comes first: every count below depends on it."""
    if result.ok:
        return []
    scope = ("no run can be vouched for" if doubted is None
             else "the runs it names are not counted")
    return [{"kind": "evidence", "name": "ledger",
             "notes": [f"the evidence ledger did not verify ({len(result.problems)} problem(s)): {scope}"]}]


def _totals(items: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "declared": sum(i["declared"] for i in items),
        "runs": sum(i["runs_made"] for i in items),
        "passed": sum(i["passed"] for i in items),
        "failed": sum(i["failed"] for i in items),
        "aborted": sum(i["aborted"] for i in items),
        "unvouched": sum(i["unvouched"] for i in items),
        "attention": sum(bool(i["attention"]) for i in items),
    }


def _ledger(result: verify.Result) -> dict[str, Any]:
    return {"ok": result.ok, "entries": result.entries, "head": result.head, "head_seq": result.head_seq,
            "keys": result.keys, "problems": [str(p) for p in result.problems]}


def write(settings: Settings, report: dict[str, Any], folder: Path | None = None) -> list[Path]:
    """compliance-<label>.html/.md/.json in the reports folder (or ``folder``)."""
    folder = folder or settings.reports_dir
    base = folder / f"compliance-{report['period']['label']}"
    paths = [base.with_suffix(".html"), base.with_suffix(".md"), base.with_suffix(".json")]
    write_text_atomic(paths[0], render.ENV.get_template("compliance.html.j2").render(r=report))
    write_text_atomic(paths[1], render.MD_ENV.get_template("compliance.md.j2").render(r=report))
    write_text_atomic(paths[2], json.dumps(report, indent=2, default=str) + "\n")
    if folder == settings.reports_dir:
        render.write_index(settings.reports_dir)  # the index links the period reports
    return paths
