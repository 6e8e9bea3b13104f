"""The central outbox: a run is its drill and due time, one open run per drill, closed once."""

import sqlite3

from drillbook.sites.outbox import DB_NAME, SCHEMA, Outbox, State


def test_one_open_run_per_drill_and_one_run_per_due_time(tmp_path):
    box = Outbox(tmp_path)
    first = box.add("r1", "east-docs", "clinic-east", 100.0, "schedule", 100.0)
    assert first is not None and first.state == State.QUEUED and first.open
    assert box.add("r2", "east-docs", "clinic-east", 200.0, "schedule", 200.0) is None  # r1 still open
    assert box.add("r3", "west-docs", "clinic-west", 100.0, "schedule", 100.0) is not None  # other drill
    assert box.closed("r1", State.DONE, "passed", None, 300.0)
    assert not box.closed("r1", State.LOST, "aborted", "late", 301.0)  # written once
    assert box.add("r4", "east-docs", "clinic-east", 100.0, "schedule", 400.0) is None  # that due time ran
    assert box.add("r5", "east-docs", "clinic-east", 500.0, "schedule", 500.0) is not None


def test_a_run_survives_the_process_and_remembers_how_often_it_was_published(tmp_path):
    box = Outbox(tmp_path)
    box.add("r1", "east-docs", "clinic-east", 100.0, "dispatch", 100.0)
    box.republished("r1", 160.0)
    box.started("r1", "clinic-east@host", 170.0)
    box.started("r1", "clinic-east@host", 180.0)
    box.close()
    again = Outbox(tmp_path)
    row = again.get("r1")
    assert row is not None and row.publishes == 2 and row.published == 160.0
    assert row.state == State.STARTED and row.worker == "clinic-east@host"
    assert (row.began, row.beat) == (170.0, 180.0)  # when it started, and its latest heartbeat
    assert [r.run_id for r in again.open_rows()] == ["r1"] and again.open_for("east-docs") == row


def test_an_outbox_made_before_the_overrun_limit_opens_and_keeps_its_runs(tmp_path):
    old = sqlite3.connect(tmp_path / DB_NAME)
    old.executescript(SCHEMA.replace("stop_after real, ", ""))
    old.execute("insert into site_runs (run_id, drill, site, due, trigger, state, published) "
                "values ('r0', 'east-docs', 'clinic-east', 1.0, 'schedule', 'started', 1.0)")
    old.commit()
    old.close()
    box = Outbox(tmp_path)
    row = box.get("r0")
    assert row is not None and row.open and row.stop_after is None  # no limit known: never stopped for it
    assert box.add("r1", "west-docs", "clinic-west", 2.0, "schedule", 2.0, stop_after=180.0).stop_after == 180.0
