"""Each drill's history page and RTO forecast, over run histories written by the real record,
post-run and ledger code (run.json, reports, index, seal)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drillbook.evidence import compliance, signing, trend
from drillbook.evidence.period import parse_period
from drillbook.evidence.trend import MONTH_SECONDS
from drillbook.outputs import finish
from drillbook.settings import Settings
from drillbook.status import Status
from tests.support import finished_run

JAN1 = datetime(2026, 1, 1, 3, tzinfo=UTC)
MONTH = timedelta(seconds=MONTH_SECONDS)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    return Settings(drills_dir=tmp_path / "drills", reports_dir=tmp_path / "reports",
                    state_dir=tmp_path / "state", runbooks_dir=tmp_path / "runbooks")


@pytest.fixture
def growing(settings: Settings) -> Settings:
    """+3.1 GiB a month; RTO = 100 s + 40 s/GiB: 15m at 20 GiB, about 2026-04-09. One failed run
    (not part of the fit) and a flat drill beside it."""
    for i, (size, rto) in enumerate([(10, 500), (13.1, 624), (16.2, 748)]):
        finished_run(settings, "clinic", JAN1 + i * MONTH, rto, size)
    finished_run(settings, "clinic", JAN1 + 2 * MONTH + timedelta(days=3), 30, 1, Status.FAILED)
    for i in range(3):
        finished_run(settings, "flat", JAN1 + i * MONTH, 300 + i, 5)
    return settings


def test_the_forecast_over_recorded_runs(growing: Settings) -> None:
    runs = [r for r in compliance.load_runs(growing.reports_dir) if r["drill"] == "clinic"]
    forecast = trend.of_records(runs)
    assert forecast.text() == "at +3.1 GiB/month, RTO reaches 15m around 2026-04 (from 3 passed run(s))"
    flat = trend.of_records([r for r in compliance.load_runs(growing.reports_dir) if r["drill"] == "flat"])
    assert flat.text() == "no growth: the restored size is flat (from 3 passed run(s))"


def test_the_history_page_has_the_chart_the_forecast_and_every_run(growing: Settings) -> None:
    page = (growing.reports_dir / "clinic" / "index.html").read_text()
    assert "at +3.1 GiB/month, RTO reaches 15m around 2026-04 (from 3 passed run(s))" in page
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert "target 15m" in svg and svg.count("<circle") == 8  # 4 runs, RTO and size each
    assert "<script" not in page
    assert len(re.findall(r'href="\d{8}T\d{6}Z-00000a/report.html"', page)) == 4
    assert "16.2 GiB" in page and "a check failed" in page
    index = (growing.reports_dir / "index.html").read_text()
    assert 'href="clinic/index.html"' in index and 'href="flat/index.html"' in index
    assert "no growth" in (growing.reports_dir / "flat" / "index.html").read_text()


def test_two_runs_give_no_forecast(settings: Settings) -> None:
    for i in range(2):
        finished_run(settings, "young", JAN1 + i * MONTH, 500 + 100 * i, 10 + i)
    assert "no forecast: 2 passed run(s)" in (settings.reports_dir / "young" / "index.html").read_text()


def test_the_period_report_flags_a_drill_whose_forecast_meets_the_target_next_period(growing: Settings) -> None:
    report = compliance.build(growing, parse_period("2026-01"), now=datetime(2026, 3, 10, tzinfo=UTC))
    items = {i["name"]: i for i in report["items"]}
    # Runs on Jan 1 and Jan 31: 2 passed runs by the end of January, no forecast yet.
    assert items["clinic"]["trend"]["runs"] == 2 and not items["clinic"]["trend"]["soon"]
    march = compliance.build(growing, parse_period("2026-03"), now=datetime(2026, 3, 10, tzinfo=UTC))
    clinic = next(i for i in march["items"] if i["name"] == "clinic")
    assert clinic["trend"]["soon"] and clinic["trend"]["reaches_at"].startswith("2026-04-09")
    assert ("RTO forecast reaches the target by the end of the next period: at +3.1 GiB/month, RTO reaches "
            "15m around 2026-04 (from 3 passed run(s))") in clinic["attention"]
    flat = next(i for i in march["items"] if i["name"] == "flat")
    assert not flat["trend"]["soon"] and not any("forecast" in n for n in flat["attention"])
    html = compliance.write(growing, march)[0].read_text()
    assert "RTO trend: at +3.1 GiB/month" in html


def test_a_run_rewrites_its_own_drills_history_page_only_and_a_full_rebuild_all(growing: Settings) -> None:
    flat_page, clinic_page = (growing.reports_dir / name / "index.html" for name in ("flat", "clinic"))
    flat_before = flat_page.stat().st_ino  # written atomically: a rewrite is a new file
    finished_run(growing, "clinic", JAN1 + 4 * MONTH, 900, 19.3)
    assert len(re.findall(r'href="\d{8}T\d{6}Z-00000a/report.html"', clinic_page.read_text())) == 5
    assert flat_page.stat().st_ino == flat_before
    assert 'href="flat/index.html"' in (growing.reports_dir / "index.html").read_text()

    flat_page.unlink()  # a page missing is written even when its drill did not run
    finished_run(growing, "clinic", JAN1 + 5 * MONTH, 950, 20)
    assert "no growth" in flat_page.read_text()
    flat_before = flat_page.stat().st_ino
    compliance.write(growing, compliance.build(growing, parse_period("2026-01")))  # `drillbook report`
    assert flat_page.stat().st_ino != flat_before
    flat_before = flat_page.stat().st_ino
    last = finished_run(growing, "clinic", JAN1 + 6 * MONTH, 960, 20.5)
    assert flat_page.stat().st_ino == flat_before
    finish.seal_late(last, json.loads((last / "run.json").read_text()), growing)  # what the reaper does
    assert flat_page.stat().st_ino != flat_before
