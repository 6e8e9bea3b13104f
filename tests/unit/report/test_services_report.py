"""The report of a drill with services: a Services section and the start-up in the timeline."""

from __future__ import annotations

from drillbook.report.render import run_html, run_markdown

RUN = {
    "run_id": "r1", "drill": "portal", "kind": "drill", "status": "failed", "started_at": "2026-12-01T10:00:00.000Z",
    "reason": 'service "portal" never got ready', "phases": [
        {"name": "restore", "status": "passed", "started_at": "2026-12-01T10:00:00.000Z", "duration_seconds": 2.0},
        {"name": "checks", "status": "failed", "started_at": "2026-12-01T10:00:02.000Z", "duration_seconds": 9.0},
        {"name": "teardown", "status": "passed", "started_at": "2026-12-01T10:00:11.000Z", "duration_seconds": 1.0}],
    "checks": [], "immutability": {"status": "not_audited"}, "notifications": [],
    "services": [
        {"name": "db", "type": "postgres", "source": "dump srv/portal/db/clinic.sql", "after": [], "port": 5432,
         "status": "passed", "started_at": "2026-12-01T10:00:02.500Z", "ready_seconds": 4.2, "duration_seconds": 4.2,
         "detail": "PostgreSQL 15.8 ready after 4.2 s", "log": "services/db.log"},
        {"name": "portal", "type": "process", "source": "python3 srv/portal/app/portal.py", "after": ["db"],
         "port": None, "status": "failed", "started_at": "2026-12-01T10:00:06.800Z", "duration_seconds": 4.0,
         "detail": "http://127.0.0.1:8080/health answered 503", "log": "services/portal.log"},
        {"name": "reports", "type": "process", "source": "python3 -m http.server", "after": ["portal"],
         "port": 8090, "status": "skipped", "detail": "not started: an earlier service never got ready"}],
    "objectives": {"rto": {"target_seconds": 900, "target": "15m", "measured_seconds": 11.0, "met": True},
                   "rpo": {"target_seconds": 86400, "target": "1d", "measured_seconds": 60.0, "met": True}},
}


def test_the_html_report_lists_each_service_with_its_log_and_the_timeline_its_start_up() -> None:
    html = run_html(RUN)
    section = html[html.index("<h2>Services</h2>"):html.index("<h2>Checks</h2>")]
    assert section.index(">db<") < section.index(">portal<") < section.index(">reports<")
    assert '<a href="services/portal.log">' in section and "answered 503" in section
    assert "4.2 s" in section and ">ready<" in section and ">skipped<" in section
    timeline = html[html.index("<h2>Timeline</h2>"):html.index("<h2>Services</h2>")]
    labels = [label for label in ("checks", "service db", "service portal", "teardown") if label in timeline]
    assert labels == ["checks", "service db", "service portal", "teardown"]
    assert timeline.index("service db") < timeline.index("service portal") < timeline.index(">teardown<")
    assert "service reports" not in timeline  # never started


def test_the_markdown_report_has_the_services_table() -> None:
    md = run_markdown(RUN)
    assert "## Services" in md
    assert ("| db | postgres | dump srv/portal/db/clinic.sql | - | 2026-12-01T10:00:02.500Z | 4.2 s | ready "
            "| services/db.log |") in md
    assert "| reports | process | python3 -m http.server | portal | - | - | skipped | - |" in md
