"""Wall-clock time as records and auditors read it: UTC, ISO 8601, millisecond precision, a Z."""

from __future__ import annotations

from datetime import UTC, datetime

UTC = UTC


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """The one text form of a moment in every record and report; None stays None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
