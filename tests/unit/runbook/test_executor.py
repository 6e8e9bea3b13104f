"""Runbook runs as an operator lives them: steps pass, fail, get confirmed or declined, resume later.

Real ``bash`` runs the shell steps (it is fast); a fake confirmer answers the manual steps and a fake
stands in for ``run_drills`` at the executor's drill seam. Every test reads back ``run.json``: it is
what the reports, the index, ``resume`` and an auditor read.
"""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from drillbook.drill.engine import DrillOutcome, RunOptions
from drillbook.drill.runlock import DrillBusy
from drillbook.errors import BadInput
from drillbook.evidence import signing
from drillbook.runbook import executor
from drillbook.runbook.confirm import NO, SKIP, YES, Answer
from drillbook.runbook.model import Runbook, Step
from drillbook.runbook.parser import load_runbook
from drillbook.settings import Settings
from drillbook.spec.loader import DrillSet
from drillbook.util import procfs
from drillbook.util.clock import iso, utc_now
from drillbook.util.locks import LockBusy, file_lock
from drillbook.util.signals import Interrupted

Event = tuple[str, str, dict[str, Any]]


@dataclass
class FakeConfirmer:
    """Answers manual steps from a script: a choice (with a reason), or an exception to raise."""

    answers: list[tuple[str, str] | BaseException] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)
    via: str = "fake"

    def ask(self, runbook: Runbook, step: Step, operator: str) -> Answer:
        self.asked.append(step.title)
        answer = self.answers.pop(0) if self.answers else (YES, "")
        if isinstance(answer, BaseException):
            raise answer
        choice, reason = answer
        return Answer(choice, operator, self.via, iso(utc_now()) or "", reason)


@dataclass
class FakeDrills:
    """Stands in for ``run_drills``: each drill ends with the status it is given, none runs."""

    statuses: dict[str, str] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, drills: DrillSet, names: list[str], settings: Settings, options: RunOptions,
                 observer: Any = None, *, on_outcome: Callable[[DrillOutcome], None] | None = None,
                 stop_on_failure: bool = False) -> list[DrillOutcome]:
        self.calls.append({"names": list(names), "trigger": options.trigger, "stop_on_failure": stop_on_failure})
        outcomes = []
        for name in names:
            status = self.statuses.get(name, "passed")
            run_dir = settings.reports_dir / name / f"run-{name}"
            record = {"drill": name, "run_id": f"run-{name}", "status": status,
                      "reason": None if status == "passed" else f"{name} went wrong",
                      "snapshot": {"id": f"5n4p-{name}"}, "repository": f"/repos/{name}",
                      "objectives": {"rto": {"measured_seconds": 12.5}}}
            outcome = DrillOutcome(record, run_dir)
            outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)
            if status == "aborted" or (stop_on_failure and status != "passed"):
                break
        return outcomes


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv(signing.KEY_ENV, raising=False)  # the run is sealed with a key made in state/
    return Settings(drills_dir=tmp_path / "drills", reports_dir=tmp_path / "reports",
                    sandbox_root=tmp_path / "sandboxes", state_dir=tmp_path / "state",
                    runbooks_dir=tmp_path / "runbooks")


def resume_hint(record: dict[str, Any]) -> str:
    return f"; resume with: drillbook runbook resume {record['run_id']}"


def write_runbook(settings: Settings, text: str, name: str = "failover") -> Runbook:
    path = settings.runbooks_dir / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    runbook, problems = load_runbook(path)
    assert runbook is not None, problems
    return runbook


def context(settings: Settings, confirmer: FakeConfirmer | None = None, events: list[Event] | None = None,
            **kwargs: Any) -> executor.Context:
    def observe(event: str, name: str, info: dict[str, Any]) -> None:
        if events is not None:
            events.append((event, name, info))

    return executor.Context(settings=settings, operator="alice", confirmer=confirmer or FakeConfirmer(),
                            observe=observe, **kwargs)


def stored(outcome: executor.Outcome) -> dict[str, Any]:
    """run.json as written: what resume and the reports read, not the object in memory."""
    return json.loads((outcome.run_dir / "run.json").read_text())


def statuses(record: dict[str, Any]) -> list[str]:
    return [s["status"] for s in record["steps"]]


SHELL_PASS_FAIL = """\
    ---
    owner: clinic-oncall@example.org
    ---
    # Fail over the clinic

    ## Check the standby
    ```sh
    echo "runbook=$DRILLBOOK_RUNBOOK step=$DRILLBOOK_STEP operator=$DRILLBOOK_OPERATOR"
    echo "in $(basename "$PWD")"
    ```

    ## Promote the standby
    ```sh
    echo promoting
    echo "standby refused" >&2
    exit 3
    ```

    ## Tell the front desk
    Call them.
    """


def test_a_failing_shell_step_fails_the_run_and_later_steps_stay_not_run(settings):
    runbook = write_runbook(settings, SHELL_PASS_FAIL)
    lines: list[str] = []
    confirmer = FakeConfirmer()
    outcome = executor.start(runbook, context(settings, confirmer, on_output=lines.append))

    record = stored(outcome)
    assert record == outcome.record
    assert statuses(record) == ["passed", "failed", "not_run"]
    check, promote, tell = record["steps"]
    assert check["exit_code"] == 0 and check["reason"] is None
    assert check["output_tail"] == ["runbook=failover step=1 operator=alice", "in runbooks"]
    assert promote["exit_code"] == 3 and promote["reason"] == "exit 3: standby refused"
    assert promote["output_tail"] == ["promoting", "standby refused"]  # stderr merged into the tail
    assert promote["attempt"] == 1 and promote["operator"] == "alice" and promote["duration_seconds"] >= 0
    assert tell["started_at"] is None and confirmer.asked == []
    assert record["status"] == "failed"
    assert record["reason"] == 'step 2 "Promote the standby" failed: exit 3: standby refused' + resume_hint(record)
    assert record["finished_at"] and record["elapsed_seconds"] >= 0
    assert record["attempts"][0]["status"] == "failed" and record["attempts"][0]["from_step"] == 1
    assert "promoting" in lines and "standby refused" in lines  # streamed to the terminal as well
    assert (outcome.run_dir / "report.html").is_file()  # the post-run outputs happened


def test_observer_hears_start_each_step_and_finish(settings):
    runbook = write_runbook(settings, SHELL_PASS_FAIL)
    events: list[Event] = []
    seen: list[str] = []  # the step's status as the observer saw it: the result itself is live

    def observe(event: str, name: str, info: dict[str, Any]) -> None:
        events.append((event, name, info))
        seen.append(info["result"].status if "result" in info else info["record"].status)

    ctx = executor.Context(settings=settings, operator="alice", confirmer=FakeConfirmer(), observe=observe)
    outcome = executor.start(runbook, ctx)

    assert seen == ["running", "running", "passed", "running", "failed", "failed"]
    assert [(e, n) for e, n, _ in events] == [
        ("start", "failover"),
        ("step-start", "Check the standby"), ("step-end", "Check the standby"),
        ("step-start", "Promote the standby"), ("step-end", "Promote the standby"),
        ("finish", "failover")]
    start, first_start, first_end, *_, finish = (info for _, _, info in events)
    assert start["first"] == 0 and start["runbook"] is runbook and start["dir"] == outcome.run_dir
    assert first_start["step"] is runbook.steps[0] and first_end["result"] is first_start["result"]
    assert finish["dir"] == outcome.run_dir and finish["record"].run_id == outcome.record["run_id"]


MANUAL = """\
    ## Declare the incident
    Say it out loud.

    ## Tell people
    <!-- optional -->
    Maybe.

    ## Switch DNS
    Point it at the standby.
    """


def test_manual_steps_confirmed_and_skipped_pass_and_say_who(settings):
    runbook = write_runbook(settings, MANUAL)
    confirmer = FakeConfirmer([(YES, ""), (SKIP, "closed on Sundays"), (YES, "")])
    outcome = executor.start(runbook, context(settings, confirmer))

    record = stored(outcome)
    assert confirmer.asked == ["Declare the incident", "Tell people", "Switch DNS"]
    assert statuses(record) == ["confirmed", "skipped", "confirmed"]
    declare, tell, _ = record["steps"]
    assert (declare["confirmed_by"], declare["confirmed_via"]) == ("alice", "fake") and declare["confirmed_at"]
    assert tell["reason"] == "skipped by alice: closed on Sundays"
    assert record["status"] == "passed" and record["reason"] is None
    assert record["attempts"][0]["confirmations"] == "fake"


def test_a_declined_manual_step_fails_the_run(settings):
    runbook = write_runbook(settings, MANUAL)
    confirmer = FakeConfirmer([(YES, ""), (SKIP, "nobody there"), (NO, "alice answered not done")])
    outcome = executor.start(runbook, context(settings, confirmer))

    record = stored(outcome)
    assert statuses(record) == ["confirmed", "skipped", "declined"]
    assert record["steps"][2]["reason"] == "not confirmed: alice answered not done"
    assert record["status"] == "failed"
    declined = 'step 3 "Switch DNS" was declined: not confirmed: alice answered not done'
    assert record["reason"] == declined + resume_hint(record)


DRILLS = """\
    ## Restore the records
    ```drill
    clinic-docs
    clinic-db
    ```

    ## Check by hand
    Open a letter.
    """


def drill_set(settings: Settings) -> DrillSet:
    return DrillSet(folder=settings.drills_dir)


def test_a_drill_step_records_each_drill_run_and_passes_when_all_pass(settings, monkeypatch):
    runbook = write_runbook(settings, DRILLS)
    fake = FakeDrills()
    monkeypatch.setattr(executor, "run_drills", fake)
    outcome = executor.start(runbook, context(settings, drills=drill_set(settings)))

    record = stored(outcome)
    assert fake.calls == [{"names": ["clinic-docs", "clinic-db"], "stop_on_failure": True,
                           "trigger": f"runbook failover run {record['run_id']}"}]
    assert statuses(record) == ["passed", "confirmed"] and record["status"] == "passed"
    runs = record["steps"][0]["drill_runs"]
    assert [(r["drill"], r["run_id"], r["status"], r["rto_seconds"]) for r in runs] == [
        ("clinic-docs", "run-clinic-docs", "passed", 12.5), ("clinic-db", "run-clinic-db", "passed", 12.5)]
    assert runs[0]["report"] == "../../../clinic-docs/run-clinic-docs/report.html"  # relative to the run


def test_later_steps_see_the_drills_snapshot_and_a_manual_step_shows_it(settings, monkeypatch):
    text = "Compare with snapshot ${DRILL_SNAPSHOT_ID} of ${DRILL_REPOSITORY}, not ${HOME}."
    runbook = write_runbook(settings, textwrap.dedent(DRILLS).replace("Open a letter.", text) + textwrap.dedent("""
        ## Note the id
        ```sh
        echo "$DRILL_SNAPSHOT_ID $DRILL_RUN_ID"
        ```
        """))
    monkeypatch.setattr(executor, "run_drills", FakeDrills())
    events: list[Event] = []
    outcome = executor.start(runbook, context(settings, events=events, drills=drill_set(settings)))
    record = stored(outcome)
    assert record["steps"][0]["drill_runs"][1]["snapshot_id"] == "5n4p-clinic-db"
    shown = [info["text"] for e, _, info in events if e == "step-start" and info["step"].title == "Check by hand"]
    assert shown == ["Compare with snapshot 5n4p-clinic-db of /repos/clinic-db, not ${HOME}."]
    assert record["steps"][2]["output_tail"] == ["5n4p-clinic-db run-clinic-db"]


def test_a_declined_or_failed_step_says_how_to_resume(settings):
    runbook = write_runbook(settings, FOUR_STEPS)
    outcome = executor.start(runbook, context(settings, FakeConfirmer([(NO, "not yet")])))
    assert outcome.record["reason"].endswith(f"; resume with: drillbook runbook resume {outcome.record['run_id']}")


def test_a_failed_drill_fails_its_step_and_stops_the_runbook(settings, monkeypatch):
    runbook = write_runbook(settings, DRILLS)
    monkeypatch.setattr(executor, "run_drills", FakeDrills({"clinic-docs": "failed"}))
    confirmer = FakeConfirmer()
    outcome = executor.start(runbook, context(settings, confirmer, drills=drill_set(settings)))

    record = stored(outcome)
    assert statuses(record) == ["failed", "not_run"] and confirmer.asked == []
    assert [r["drill"] for r in record["steps"][0]["drill_runs"]] == ["clinic-docs"]
    assert record["steps"][0]["reason"] == "drill clinic-docs failed: clinic-docs went wrong"
    assert record["status"] == "failed"


def test_a_drill_already_running_elsewhere_fails_its_step_in_drillbooks_words(settings, monkeypatch):
    def busy(*args, **kwargs):
        raise DrillBusy("clinic-docs", "pid 4242, run r-1", 0.0)

    monkeypatch.setattr(executor, "run_drills", busy)
    outcome = executor.start(write_runbook(settings, DRILLS), context(settings, drills=drill_set(settings)))

    step = stored(outcome)["steps"][0]
    assert step["status"] == "failed"
    assert step["reason"].startswith('drill "clinic-docs" is already being run by another drillbook '
                                     "process (pid 4242, run r-1)")


def test_an_aborted_drill_aborts_the_runbook(settings, monkeypatch):
    runbook = write_runbook(settings, DRILLS)
    monkeypatch.setattr(executor, "run_drills", FakeDrills({"clinic-db": "aborted"}))
    outcome = executor.start(runbook, context(settings, drills=drill_set(settings)))

    record = stored(outcome)
    assert statuses(record) == ["aborted", "not_run"] and record["status"] == "aborted"
    assert [r["status"] for r in record["steps"][0]["drill_runs"]] == ["passed", "aborted"]
    assert "an interrupt during drill clinic-db" in record["reason"]
    assert f"drillbook runbook resume {record['run_id']}" in record["reason"]


def test_a_bug_in_a_step_fails_it_visibly_instead_of_passing(settings):
    runbook = write_runbook(settings, DRILLS)
    outcome = executor.start(runbook, context(settings, drills=None))  # drill steps need the drills

    record = stored(outcome)
    assert statuses(record) == ["failed", "not_run"] and record["status"] == "failed"
    assert record["steps"][0]["reason"].startswith("unexpected error: RuntimeError")


FOUR_STEPS = """\
    ## Declare
    Say it.

    ## Stop writes
    ```sh
    echo stopped
    ```

    ## Promote
    ```sh
    test -f promote-ok || { echo "standby not ready"; exit 1; }
    echo promoted
    ```

    ## Announce
    Tell people.
    """


def test_from_a_step_records_earlier_steps_skipped(settings):
    runbook = write_runbook(settings, FOUR_STEPS)
    (settings.runbooks_dir / "promote-ok").touch()
    events: list[Event] = []
    confirmer = FakeConfirmer()
    outcome = executor.start(runbook, context(settings, confirmer, events), from_step=runbook.steps[2])

    record = stored(outcome)
    assert statuses(record) == ["skipped", "skipped", "passed", "confirmed"]
    assert [s["reason"] for s in record["steps"][:2]] == ["the run was started --from step 3"] * 2
    assert record["steps"][0]["started_at"] is None and confirmer.asked == ["Announce"]
    assert record["attempts"][0]["from_step"] == 3
    assert events[0][2]["first"] == 2
    assert record["status"] == "partial"  # steps 1 and 2 never ran: not a rehearsal of the runbook
    assert record["reason"] == ("started --from step 3: steps 1-2 were not run, so this run does not show "
                                "that the runbook works")


def test_a_partial_run_is_not_measured_against_the_rto(settings):
    runbook = write_runbook(settings, "---\nobjectives: {rto: 10m}\n---\n" + textwrap.dedent(FOUR_STEPS))
    (settings.runbooks_dir / "promote-ok").touch()
    outcome = executor.start(runbook, context(settings), from_step=runbook.steps[3])
    record = stored(outcome)
    assert record["status"] == "partial"
    assert record["objectives"]["rto"]["measured_seconds"] is None and record["objectives"]["rto"]["met"] is None


def test_resume_continues_at_the_failed_step_and_keeps_what_was_done(settings):
    runbook = write_runbook(settings, FOUR_STEPS)
    confirmer = FakeConfirmer()
    first = executor.start(runbook, context(settings, confirmer))
    run_id = first.record["run_id"]
    assert statuses(stored(first)) == ["confirmed", "passed", "failed", "not_run"]
    done_before = stored(first)["steps"][:2]

    (settings.runbooks_dir / "promote-ok").touch()  # the operator fixed the standby
    events: list[Event] = []
    again = executor.resume(run_id, {"failover": runbook}, context(settings, confirmer, events))

    record = stored(again)
    assert again.run_dir == first.run_dir and record["run_id"] == run_id
    assert confirmer.asked == ["Declare", "Announce"]  # step 1 was not asked again
    assert statuses(record) == ["confirmed", "passed", "passed", "confirmed"]
    assert record["steps"][:2] == done_before
    promote = record["steps"][2]
    assert promote["attempt"] == 2 and promote["output_tail"] == ["promoted"]
    assert [(h["status"], h["attempt"], h["reason"]) for h in promote["history"]] == [
        ("failed", 1, "exit 1: standby not ready")]
    assert [(a["number"], a["from_step"], a["status"]) for a in record["attempts"]] == [
        (1, 1, "failed"), (2, 3, "passed")]
    assert record["status"] == "passed" and record["started_at"] == first.record["started_at"]
    assert events[0][2]["first"] == 2
    assert [n for e, n, _ in events if e == "step-start"] == ["Promote", "Announce"]


def test_resume_is_refused_while_another_process_holds_the_run(settings):
    runbook = write_runbook(settings, FOUR_STEPS)
    first = executor.start(runbook, context(settings))
    run_id = first.record["run_id"]
    before = (first.run_dir / "run.json").read_bytes()

    with file_lock(settings.state_dir / "runbook-locks" / f"{run_id}.lock", timeout=0), \
            pytest.raises(BadInput, match="being run by another drillbook process"):
        executor.resume(run_id, {"failover": runbook}, context(settings))
    assert (first.run_dir / "run.json").read_bytes() == before  # nothing ran, nothing written

    (settings.runbooks_dir / "promote-ok").touch()  # once the other process is gone, it resumes
    assert executor.resume(run_id, {"failover": runbook}, context(settings)).record["status"] == "passed"


def test_resume_refuses_what_it_cannot_continue(settings):
    runbook = write_runbook(settings, FOUR_STEPS)
    (settings.runbooks_dir / "promote-ok").touch()
    passed = executor.start(runbook, context(settings)).record["run_id"]
    with pytest.raises(BadInput, match="already passed"):
        executor.resume(passed, {"failover": runbook}, context(settings))
    with pytest.raises(BadInput, match='no runbook run "nope"'):
        executor.resume("nope", {"failover": runbook}, context(settings))
    with pytest.raises(BadInput, match="no longer in"):
        executor.resume(passed, {}, context(settings))
    changed = write_runbook(settings, MANUAL)  # same name, other steps
    (settings.runbooks_dir / "promote-ok").unlink()
    failed = executor.start(runbook, context(settings)).record["run_id"]
    with pytest.raises(BadInput, match="changed its steps"):
        executor.resume(failed, {"failover": changed}, context(settings))


def test_secrets_of_the_environment_never_reach_the_record(settings, monkeypatch):
    monkeypatch.setenv("CLINIC_API_TOKEN", "tok-from-the-shell-1234")
    runbook = write_runbook(settings, """\
        ---
        env:
          DB_PASSWORD: hunter2-very-long
        ---
        ## Connect
        ```sh
        echo "token $CLINIC_API_TOKEN"
        echo "cannot log in with $DB_PASSWORD"
        exit 1
        ```
        """)
    lines: list[str] = []
    outcome = executor.start(runbook, context(settings, on_output=lines.append))

    record = stored(outcome)
    step = record["steps"][0]
    assert step["output_tail"] == ["token ***", "cannot log in with ***"]
    assert step["reason"] == "exit 1: cannot log in with ***"
    assert record["reason"] == 'step 1 "Connect" failed: exit 1: cannot log in with ***' + resume_hint(record)
    assert lines == ["token ***", "cannot log in with ***"]
    for path in outcome.run_dir.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert "hunter2-very-long" not in text and "tok-from-the-shell-1234" not in text, path


def test_an_rto_missed_fails_a_run_whose_steps_all_passed(settings):
    runbook = write_runbook(settings, """\
        ---
        objectives: {rto: 1s}
        ---
        ## Slow restore
        ```sh
        sleep 1.2
        ```
        """)
    record = stored(executor.start(runbook, context(settings)))

    assert statuses(record) == ["passed"]
    rto = record["objectives"]["rto"]
    assert rto["target"] == "1s" and rto["target_seconds"] == 1.0
    assert rto["met"] is False and rto["measured_seconds"] >= 1.2
    assert record["status"] == "failed" and record["reason"].startswith("RTO missed: the runbook took ")
    assert record["reason"].endswith("its RTO target is 1s")


def test_an_rto_met_is_measured_and_the_run_passes(settings):
    runbook = write_runbook(settings, "---\nobjectives: {rto: 10m}\n---\n## Quick\n```sh\ntrue\n```\n")
    record = stored(executor.start(runbook, context(settings)))
    rto = record["objectives"]["rto"]
    assert rto["met"] is True and 0 <= rto["measured_seconds"] < 600
    assert record["status"] == "passed"


def test_a_shell_step_past_its_timeout_is_killed_and_fails(settings):
    runbook = write_runbook(settings, "## Hang\n<!-- timeout: 1s -->\n```sh\necho waiting\nsleep 30\n```\n")
    began = time.monotonic()
    record = stored(executor.start(runbook, context(settings)))

    assert time.monotonic() - began < 15
    step = record["steps"][0]
    assert step["status"] == "failed" and step["exit_code"] is None and step["output_tail"] == ["waiting"]
    assert step["reason"] == "timed out after 1s (step timeout); its process group was killed"


def test_an_interrupt_at_a_manual_step_records_the_run_aborted(settings):
    runbook = write_runbook(settings, FOUR_STEPS)
    confirmer = FakeConfirmer([Interrupted("SIGTERM")])
    events: list[Event] = []
    outcome = executor.start(runbook, context(settings, confirmer, events))

    record = stored(outcome)
    assert statuses(record) == ["aborted", "not_run", "not_run", "not_run"]
    assert record["steps"][0]["reason"] == "interrupted while this step ran"
    assert record["steps"][0]["finished_at"]
    assert record["status"] == "aborted" and record["attempts"][0]["status"] == "aborted"
    assert record["reason"] == (f'interrupted by SIGTERM at step 1 "Declare"; resume with: '
                                f"drillbook runbook resume {record['run_id']}")
    assert [e for e, _, _ in events] == ["start", "step-start", "step-end", "finish"]

    (settings.runbooks_dir / "promote-ok").touch()  # an aborted run resumes at the aborted step
    again = executor.resume(record["run_id"], {"failover": runbook}, context(settings))
    assert statuses(stored(again)) == ["confirmed", "passed", "passed", "confirmed"]


def test_an_interrupt_during_a_shell_step_stops_its_processes(settings):
    runbook = write_runbook(settings, """\
        ## Long copy
        ```sh
        sleep 60 &
        echo "$!" > child.pid
        echo started
        wait
        ```
        """)

    def interrupt(line: str) -> None:
        if line == "started":
            raise KeyboardInterrupt

    began = time.monotonic()
    record = stored(executor.start(runbook, context(settings, on_output=interrupt)))

    assert time.monotonic() - began < 15
    assert record["steps"][0]["status"] == "aborted" and record["status"] == "aborted"
    assert record["reason"].startswith('interrupted by SIGINT (Ctrl-C) at step 1 "Long copy"')
    child = int((settings.runbooks_dir / "child.pid").read_text())
    assert not procfs.alive(child, None)


def test_the_run_lock_excludes_a_second_holder_and_its_file_survives_the_run(settings):
    """Unlinking a lock file after unlocking lets two holders exist: it stays, and still excludes."""
    runbook = write_runbook(settings, SHELL_PASS_FAIL)
    seen: list[tuple[bool, int]] = []

    def observe(event: str, name: str, info: dict[str, Any]) -> None:
        if event == "step-start" and not seen:
            path = next((settings.state_dir / "runbook-locks").glob("*.lock"))
            try:
                with file_lock(path, timeout=0):
                    seen.append((False, path.stat().st_ino))
            except LockBusy:
                seen.append((True, path.stat().st_ino))

    ctx = executor.Context(settings=settings, operator="alice", confirmer=FakeConfirmer(), observe=observe)
    outcome = executor.start(runbook, ctx)
    lock = settings.state_dir / "runbook-locks" / f"{outcome.record['run_id']}.lock"
    assert seen and seen[0][0], "a second holder took the lock of a live run"
    assert lock.exists() and lock.stat().st_ino == seen[0][1]  # the same file, never unlinked
    assert lock.stat().st_mode & 0o777 == 0o600
    with file_lock(lock, timeout=0):  # free once the run has ended
        pass
