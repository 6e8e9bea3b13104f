"""The line ``systemctl status`` shows for the server (STATUS=)."""

from __future__ import annotations

from datetime import UTC, datetime

from drillbook.serve.server import status_line

NOON = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_the_status_says_how_many_are_scheduled_which_run_and_which_is_next() -> None:
    line = status_line({"beta": NOON.replace(hour=14), "alpha": NOON, "manual": None}, ["gamma"])
    assert line == "2 drill(s) scheduled, 1 running (gamma); next: alpha at 2026-12-03T12:00:00.000Z"


def test_with_nothing_scheduled_the_status_says_so() -> None:
    assert status_line({"manual": None}, []) == "0 drill(s) scheduled, 0 running; nothing due"
