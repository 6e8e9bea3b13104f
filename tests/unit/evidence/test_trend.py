"""The RTO forecast's arithmetic, with numbers worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drillbook.evidence import trend
from drillbook.evidence.trend import GIB, MONTH_SECONDS, Line, Outlook, Point, fit, forecast

JAN1 = datetime(2026, 1, 1, tzinfo=UTC)
MONTH = timedelta(seconds=MONTH_SECONDS)


def grown(sizes_gib: list[float], rto: list[float]) -> list[Point]:
    """One run a month from Jan 1, 2026."""
    pairs = enumerate(zip(sizes_gib, rto, strict=True))
    return [Point(f"r{i}", JAN1 + i * MONTH, r, round(s * GIB)) for i, (s, r) in pairs]


def test_least_squares_line():
    assert fit([1, 2, 3], [2, 4, 6]) == Line(0.0, 2.0)
    line = fit([0, 1, 2, 3], [1, 3, 2, 4])  # mean x 1.5, mean y 2.5, sxy 2.5, sxx 5
    assert line is not None and (line.slope, line.intercept) == (0.8, pytest.approx(1.3))
    assert fit([5, 5, 5], [1, 2, 3]) is None and fit([1], [1]) is None


def test_growth_meets_the_target_on_the_day_the_lines_say():
    """10, 13.1, 16.2 GiB a month apart: +3.1 GiB/month. RTO = 100 s + 40 s/GiB reaches 900 s (15m)
    at 20 GiB, 10/3.1 months after the first run."""
    found = grown([10, 13.1, 16.2], [500, 624, 748])
    result = forecast(found, 900, "15m")
    assert result.outlook is Outlook.REACHES and result.runs == 3
    assert result.growth_per_month == pytest.approx(3.1 * GIB)
    assert result.seconds_per_gib == pytest.approx(40)
    expected = JAN1 + timedelta(seconds=10 / 3.1 * MONTH_SECONDS)
    assert result.reaches_at is not None and abs((result.reaches_at - expected).total_seconds()) < 60
    assert result.reaches_at.strftime("%Y-%m-%d") == "2026-04-09"
    assert result.text() == "at +3.1 GiB/month, RTO reaches 15m around 2026-04 (from 3 passed run(s))"
    assert result.seconds_left(JAN1 + 2 * MONTH) == pytest.approx((expected - JAN1 - 2 * MONTH).total_seconds(),
                                                                  abs=60)
    assert result.within(JAN1 + 4 * MONTH) and not result.within(JAN1 + 3 * MONTH)


def test_no_forecast_from_two_runs_and_flat_bytes_say_no_growth():
    assert forecast(grown([10, 13.1], [500, 624]), 900).text() == (
        "no forecast: 2 passed run(s) with a measured RTO and size, 3 needed")
    flat = forecast(grown([10, 10, 10, 10], [500, 520, 480, 510]), 900, "15m")
    assert flat.outlook is Outlook.NO_GROWTH and flat.reaches_at is None and flat.seconds_left(JAN1) is None
    assert flat.text() == "no growth: the restored size is flat (from 4 passed run(s))"
    shrinking = forecast(grown([16.2, 13.1, 10], [748, 624, 500]), 900)
    assert shrinking.outlook is Outlook.NO_GROWTH


def test_already_over_target_and_far_away():
    over = forecast(grown([10, 13.1, 16.2], [500, 624, 748]), 600, "10m")
    assert over.outlook is Outlook.REACHED and over.seconds_left(JAN1 + 3 * MONTH) == 0
    slow = forecast(grown([10, 10.001, 10.002], [500, 500.04, 500.08]), 900, "15m")
    assert slow.outlook is Outlook.BEYOND and slow.reaches_at is None
    assert slow.text().startswith("at +0.0 GiB/month, RTO stays under 15m for more than 10 years")


def test_points_come_from_passed_records_with_a_size():
    def record(status: str, rto: float | None, restored: int | None, expected: int | None = None) -> dict:
        return {"run_id": "x", "status": status, "started_at": "2026-01-01T00:00:00.000Z",
                "objectives": {"rto": {"measured_seconds": rto}},
                "restore": {"restored": {"total_bytes": restored}} if restored else None,
                "content": {"bytes_expected": expected}}
    found = trend.points([record("passed", 60, 2048), record("passed", 60, None, 4096),
                          record("failed", 60, 2048), record("passed", None, 2048)])
    assert [p.restored_bytes for p in found] == [2048, 4096]
