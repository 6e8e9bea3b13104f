"""The control table: which runs give evidence for which control, and where the gaps are.

Each control is data: which runs count as evidence, and which declared item is a gap. The
mapping is drillbook's reading of the controls (restore tests, integrity and completeness,
RTO/RPO, testing of contingency procedures); an auditor can see the rule beside each row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drillbook.status import Status

Run = dict[str, Any]
Item = dict[str, Any]


def finished(run: Run) -> bool:
    return run.get("status") in (Status.PASSED, Status.FAILED, Status.ABORTED)


def passed(run: Run) -> bool:
    return run.get("status") == Status.PASSED


def restore_proven(run: Run) -> bool:
    return run.get("kind") == "drill" and passed(run)


def integrity_proven(run: Run) -> bool:
    return restore_proven(run) and (run.get("content_status") == Status.PASSED)


def objectives_met(run: Run) -> bool:
    measured = [o for o in (run.get("rto"), run.get("rpo")) if o and o.get("target")]
    return passed(run) and bool(measured) and all(o.get("met") is True for o in measured)


def gap_no_passing(item: Item) -> str | None:
    return None if item["passed"] else ("never ran" if not item["runs_made"] else "no passing run")


def gap_not_tested(item: Item) -> str | None:
    if not item["runs_made"]:
        return "not tested in the period"
    if item.get("uncovered_count"):
        covered = item["due"] - item["uncovered_count"] - item.get("open_windows", 0)
        days = ", ".join(t[:10] for t in item["uncovered"])
        return f"passed in {covered} of {item['due']} due windows (not covered: {days})"
    return None


def gap_objectives(item: Item) -> str | None:
    if not item["runs_made"]:
        return "objectives not measured (no run)"
    if item["kind"] == "drill" and not any(objectives_met(r) for r in item["runs"]):
        return "no run met its RTO and RPO"
    return None


def gap_integrity(item: Item) -> str | None:
    if item["kind"] != "drill":
        return None
    if not any(integrity_proven(r) for r in item["runs"]):
        return "no restore with verified content"
    return None


def gap_criticality(item: Item) -> str | None:
    missing = [w for w, ok in (("owner", item.get("owner")), ("RTO target", item["rto"].get("target")))
               if not ok]
    if item["kind"] == "drill" and not item["rpo"].get("target"):
        missing.append("RPO target")
    return f"no {' or '.join(missing)} declared" if missing else None


def gap_backup(item: Item) -> str | None:
    if item["kind"] != "drill":
        return None
    gap = gap_no_passing(item)
    if gap:
        return gap
    if item["immutability"]["audited"] == 0:
        return "backups restored, but immutability never audited"
    return None


REVISION_NOTES = ("review", "corrective-action")


@dataclass(frozen=True)
class Control:
    framework: str
    ref: str
    title: str
    rule: str
    evidence: Callable[[Run], bool]
    gap: Callable[[Item], str | None]
    kinds: tuple[str, ...] = ("drill", "runbook")
    #: Kinds of signed notes that are evidence too (a review of a test's results, a corrective action).
    notes: tuple[str, ...] = ()


CONTROLS = [
    Control("HIPAA", "164.308(a)(7)(ii)(B)", "Disaster recovery plan",
            "passed drill and runbook runs: the restore procedure works", passed, gap_no_passing),
    Control("HIPAA", "164.308(a)(7)(ii)(D)", "Testing and revision procedures",
            "every finished run: the plan was tested as scheduled; reviews and corrective actions "
            "noted on runs: it was revised", finished, gap_not_tested, notes=REVISION_NOTES),
    Control("HIPAA", "164.308(a)(7)(ii)(E)", "Applications and data criticality analysis",
            "runs measured against declared owner, RTO and RPO", objectives_met, gap_criticality),
    Control("SOC 2", "A1.3", "Recovery plan testing",
            "passed restores with verified content that met RTO and RPO",
            lambda r: integrity_proven(r) and objectives_met(r), gap_objectives),
    Control("ISO 27001:2022", "A.5.30", "ICT readiness for business continuity",
            "runs that met their recovery objectives", objectives_met, gap_objectives),
    Control("ISO 27001:2022", "A.8.13", "Information backup",
            "passed restores of backups (with the immutability audit where declared)",
            restore_proven, gap_backup, ("drill",)),
    Control("NIST SP 800-53", "CP-4", "Contingency plan testing",
            "every finished drill and runbook run; reviews of results and corrective actions noted on runs",
            finished, gap_not_tested, notes=REVISION_NOTES),
    Control("NIST SP 800-53", "CP-9(1)", "System backup: testing for reliability and integrity",
            "passed restores whose content was verified against the snapshot",
            integrity_proven, gap_integrity, ("drill",)),
]


def control_table(items: list[Item]) -> list[dict[str, Any]]:
    rows = []
    for control in CONTROLS:
        scoped = [i for i in items if i["kind"] in control.kinds]
        evidence = [_ref(i, r) for i in scoped for r in i["runs"] if control.evidence(r)]
        gaps = []
        for item in scoped:
            if item.get("declared"):
                gap = control.gap(item)
                if gap:
                    gaps.append(f"{item['kind']} {item['name']}: {gap}")
        notes = [_note_ref(i, r, n) for i in scoped for r in i["runs"] for n in r.get("notes") or []
                 if n.get("kind") in control.notes]
        rows.append({"framework": control.framework, "ref": control.ref, "title": control.title,
                     "rule": control.rule, "evidence": evidence, "notes": notes, "gaps": gaps})
    return rows


def not_covered(run: Run) -> list[str]:
    """The controls (framework and reference) this run gives no evidence for, said plainly per run."""
    return [f"{c.framework} {c.ref}" for c in CONTROLS
            if run.get("kind", "drill") in c.kinds and not c.evidence(run)]


def _note_ref(item: Item, run: Run, note: dict[str, Any]) -> dict[str, Any]:
    return {"name": item["name"], "kind": item["kind"], "run_id": run["run_id"], "note_kind": note.get("kind"),
            "by": note.get("by"), "seq": note.get("seq"), "href": run.get("href")}


def _ref(item: Item, run: Run) -> dict[str, Any]:
    return {"name": item["name"], "kind": item["kind"], "run_id": run["run_id"],
            "status": run["status"], "href": run.get("href")}
