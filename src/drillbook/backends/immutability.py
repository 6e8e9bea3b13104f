"""Judge an Object Lock audit from facts read by drillbook.backends.aws: pure logic, no AWS calls.

Why separate: the rules (which mode satisfies which, what counts as locked, when a missing field is
*unknown* rather than *unlocked*) are what an auditor reads and what unit tests pin down; fetching
the facts is aws.py's job. The result dict is stored under ``immutability`` in run.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from drillbook.spec.models import Immutability
from drillbook.status import Status
from drillbook.util.clock import iso

FIRST_KEYS = 10
ACCEPTED = {"compliance": {"COMPLIANCE"}, "governance": {"GOVERNANCE", "COMPLIANCE"}}


@dataclass
class BucketFacts:
    name: str
    endpoint: str = ""
    versioning: str = "unknown"  # Enabled, Suspended, disabled, unknown
    object_lock: str = "unknown"  # Enabled, disabled, unknown
    default_mode: str | None = None
    default_retention: str | None = None
    default_retention_seconds: float | None = None
    missing_permissions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "endpoint": self.endpoint, "versioning": self.versioning,
                "object_lock": self.object_lock, "default_mode": self.default_mode,
                "default_retention": self.default_retention}


@dataclass
class ObjectFact:
    key: str
    mode: str | None = None
    retain_until: datetime | None = None
    state: str = "read"  # read, unknown (not allowed to see the lock), error
    permission: str | None = None
    error: str | None = None


def failed(wanted: Immutability, prefix: str, reason: str) -> dict[str, Any]:
    """The audit could not look at the bucket at all."""
    return {"status": Status.FAILED, "reason": reason, "summary": "", "declared_mode": wanted.mode,
            "min_retention": wanted.min_retention.text, "prefix": prefix,
            "bucket": None, "objects": None}


def evaluate(wanted: Immutability, prefix: str, bucket: BucketFacts, objects: list[ObjectFact],
             delete_markers: list[str], now: datetime, notes: list[str] | None = None) -> dict[str, Any]:
    problems = bucket_problems(wanted, bucket)
    object_problems = [(fact.key, why) for fact in objects
                       if (why := object_problem(wanted, fact, now))]
    permissions = list(dict.fromkeys(
        bucket.missing_permissions + [f.permission for f in objects if f.permission]))
    if not objects:
        problems.append(f"no objects under {prefix or 'the bucket root'}: nothing to prove immutable")
    if object_problems:
        shown = object_problems if len(object_problems) <= 3 else object_problems[:1]
        first = ", ".join(f"{key} ({why})" for key, why in shown)
        more = f" and {len(object_problems) - len(shown)} more" if len(object_problems) > len(shown) else ""
        problems.append(f"{len(object_problems)} of {len(objects)} objects not locked as "
                        f"{wanted.mode} requires: {first}{more}")
    if permissions:
        problems.append("lock state unknown: the credentials lack " + ", ".join(permissions))
    summary = object_summary(objects, object_problems, delete_markers)
    result: dict[str, Any] = {
        "status": Status.FAILED if problems else Status.PASSED,
        "reason": "; ".join(problems) or None,
        "summary": "",
        "declared_mode": wanted.mode,
        "min_retention": wanted.min_retention.text,
        "prefix": prefix,
        "bucket": bucket.to_dict(),
        "objects": summary,
        "missing_permissions": permissions,
        "notes": notes or [],
        "audited_at": iso(now),
    }
    if not problems:
        result["summary"] = (
            f"{len(objects)} objects locked ({_modes_text(summary['by_mode'])}), earliest "
            f"until {summary['earliest_retain_until']}; bucket default "
            f"{bucket.default_mode} {bucket.default_retention}")
    return result


def bucket_problems(wanted: Immutability, bucket: BucketFacts) -> list[str]:
    problems = []
    if bucket.versioning not in ("Enabled", "unknown"):
        problems.append(f"bucket {bucket.name} has versioning {bucket.versioning}, not Enabled")
    if bucket.object_lock == "unknown":
        return problems
    if bucket.object_lock != "Enabled":
        problems.append(f"bucket {bucket.name} does not have Object Lock enabled")
        return problems
    if not bucket.default_mode:
        problems.append(f"bucket {bucket.name} has Object Lock but no default retention")
    elif bucket.default_mode not in ACCEPTED[wanted.mode]:
        problems.append(f"bucket {bucket.name} default retention is {bucket.default_mode}, "
                        f"{wanted.mode} requires COMPLIANCE")
    if bucket.default_mode and (bucket.default_retention_seconds or 0) < float(wanted.min_retention):
        problems.append(f"bucket {bucket.name} default retention {bucket.default_retention} is "
                        f"shorter than min_retention {wanted.min_retention.text}")
    return problems


def object_problem(wanted: Immutability, fact: ObjectFact, now: datetime) -> str | None:
    """Why one object does not meet the declared lock, or None when it does."""
    if fact.state == "unknown":
        return f"lock unknown: needs {fact.permission}"
    if fact.state == "error":
        return fact.error or "could not be read"
    if not fact.mode or fact.retain_until is None:
        return "no Object Lock retention"
    if fact.mode not in ACCEPTED[wanted.mode]:
        return f"{fact.mode}, {wanted.mode} requires COMPLIANCE"
    if fact.retain_until <= now:
        return f"{fact.mode} retention ended {iso(fact.retain_until)}"
    return None


def object_summary(objects: list[ObjectFact], problems: list[tuple[str, str]],
                   delete_markers: list[str]) -> dict[str, Any]:
    by_mode: dict[str, int] = {}
    for fact in objects:
        mode = "unknown" if fact.state != "read" else (fact.mode or "none")
        by_mode[mode] = by_mode.get(mode, 0) + 1
    dates = [f.retain_until for f in objects if f.retain_until is not None]
    return {
        "total": len(objects),
        "by_mode": dict(sorted(by_mode.items())),
        "earliest_retain_until": iso(min(dates)) if dates else None,
        "not_locked_count": len(problems),
        "unlocked": [key for key, _ in problems[:FIRST_KEYS]],
        "problems": [{"key": key, "problem": why} for key, why in problems[:FIRST_KEYS]],
        "delete_markers_count": len(delete_markers),
        "delete_markers": delete_markers[:FIRST_KEYS],
    }


def _modes_text(by_mode: dict[str, int]) -> str:
    return ", ".join(f"{mode} {n}" for mode, n in by_mode.items())


__all__ = ["BucketFacts", "ObjectFact", "evaluate", "failed"]
