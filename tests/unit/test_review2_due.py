"""Review 2: a frequent schedule over a long period must still count its due runs."""

from __future__ import annotations

from drillbook.evidence.due import due_count
from drillbook.evidence.period import parse_period


def test_frequent_schedule_over_a_year_is_not_reported_as_on_demand():
    year = parse_period("2026")
    assert due_count("every 5m", year.start, year.end) == 365 * 24 * 12  # 105120 > 100000
    assert due_count("* * * * *", parse_period("2026Q4").start, parse_period("2026Q4").end) == 92 * 24 * 60
