"""Manual confirmations (never hang, EOF = not confirmed) and the record's resume point."""

from __future__ import annotations

import io
from pathlib import Path

from drillbook.runbook import record as rec
from drillbook.runbook.confirm import LineConfirmer, YesConfirmer, choose, stream_reader
from drillbook.runbook.parser import parse_runbook
from drillbook.status import Status
from drillbook.util.scrub import scrub, secret_values

RUNBOOK, _ = parse_runbook("## Declare\nDo it.\n\n## Tell people\n<!-- optional -->\nMaybe.\n\n"
                           "## Run\n```sh\ntrue\n```\n", Path("runbooks/r.md"))
DECLARE, TELL, RUN = RUNBOOK.steps


def confirmer(answers: str) -> tuple[LineConfirmer, io.StringIO]:
    prompts = io.StringIO()
    return LineConfirmer(stream_reader(io.StringIO(answers)), prompts, "stdin"), prompts


def test_yes_and_no_record_who_and_how():
    c, prompts = confirmer("y\nno\n")
    first = c.ask(RUNBOOK, DECLARE, "alice")
    assert (first.choice, first.by, first.via) == ("y", "alice", "stdin") and first.at
    second = c.ask(RUNBOOK, DECLARE, "alice")
    assert second.choice == "n" and "alice answered not done" in second.reason
    assert 'step 1 "Declare"' in prompts.getvalue()


def test_end_of_input_means_not_confirmed():
    c, prompts = confirmer("")
    answer = c.ask(RUNBOOK, DECLARE, "alice")
    assert answer.choice == "n" and "end of input" in answer.reason
    assert "not confirmed" in prompts.getvalue()


def test_unclear_answers_are_asked_again_and_skip_needs_an_optional_step_and_a_reason():
    c, prompts = confirmer("maybe\ns\ny\n")
    assert c.ask(RUNBOOK, DECLARE, "alice").choice == "y"
    assert "please answer" in prompts.getvalue() and "not optional" in prompts.getvalue()
    c, _ = confirmer("s closed on Sundays\n")
    answer = c.ask(RUNBOOK, TELL, "alice")
    assert answer.choice == "s" and answer.reason == "closed on Sundays"
    c, _ = confirmer("s\n\nfront desk gone home\n")
    assert c.ask(RUNBOOK, TELL, "alice").reason == "front desk gone home"
    c, _ = confirmer("s\n")
    assert c.ask(RUNBOOK, TELL, "alice").choice == "n"  # no reason before end of input


def test_yes_confirmer_says_it_was_not_a_person():
    answer = YesConfirmer().ask(RUNBOOK, DECLARE, "alice")
    assert (answer.choice, answer.by, answer.via) == ("y", "--yes", "--yes")


def test_choose_picks_stdin_lines_without_a_terminal():
    assert choose(True).via == "--yes"
    assert choose(False, stdin=io.StringIO("y\n"), prompt_to=io.StringIO()).via == "stdin"


def test_resume_point_is_the_first_step_not_done_and_history_keeps_old_attempts():
    record = rec.RunbookRecord.new(RUNBOOK, "r1", "alice", "2026-01-01T00:00:00.000Z")
    assert record.resume_index() == 0
    record.steps[0].status = Status.CONFIRMED
    record.steps[1].status = Status.SKIPPED
    record.steps[2].status, record.steps[2].reason, record.steps[2].attempt = Status.FAILED, "exit 1", 1
    assert record.resume_index() == 2
    again = rec.RunbookRecord.from_dict(record.to_dict())
    assert again.resume_index() == 2 and again.steps[2].reason == "exit 1"
    again.steps[2].archive()
    assert again.steps[2].status == Status.NOT_RUN and again.steps[2].reason is None
    assert again.steps[2].history == [dict(again.steps[2].history[0], status="failed")]
    assert again.steps[2].history[0]["attempt"] == 1
    again.steps[2].status = Status.PASSED
    assert again.resume_index() is None


def test_record_has_the_fields_reports_and_the_index_read():
    data = rec.RunbookRecord.new(RUNBOOK, "r1", "alice", "2026-01-01T00:00:00.000Z").to_dict()
    assert data["kind"] == "runbook" and data["runbook"] == "r" and data["status"] == "running"
    assert data["objectives"] == {"rto": None}
    assert [s["kind"] for s in data["steps"]] == ["manual", "manual", "shell"]
    assert data["process"]["pid"] > 0


def test_secrets_are_found_by_name_and_scrubbed():
    env = {"DB_PASSWORD": "hunter2-long", "API_TOKEN": "tok-123456", "HOME": "/root", "PIN": "1"}
    secrets = secret_values(env)
    assert set(secrets) == {"hunter2-long", "tok-123456"}
    assert scrub("pw hunter2-long tok tok-123456 home /root", secrets) == "pw *** tok *** home /root"


def test_a_decline_asks_for_the_reason_like_a_skip():
    c, prompts = confirmer("n\n\nstandby still replicating\nn the pager is down\n")
    first = c.ask(RUNBOOK, DECLARE, "alice")
    assert (first.choice, first.reason) == ("n", "alice answered not done: standby still replicating")
    assert prompts.getvalue().count("Reason it is not done: ") == 2  # an empty reason is asked again
    second = c.ask(RUNBOOK, DECLARE, "alice")
    assert second.reason == "alice answered not done: the pager is down"
