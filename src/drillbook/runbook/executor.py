"""Walks a runbook's steps in order and keeps the record true after every one. Never prints.

A step that fails or is declined stops the run (later steps stay ``not_run``); an interrupt
stops the current step's process group and records the run ``aborted`` at that step. Both leave
the run resumable: :func:`resume` re-runs the first step not done and keeps earlier results.
RTO measured = wall clock from the first attempt's start until the last step finished, pauses and
resumes included (that is what the patients waited).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any, Protocol

from drillbook.drill.batch import run_drills
from drillbook.drill.engine import DrillOutcome, RunOptions
from drillbook.drill.phases import Observer
from drillbook.errors import BadInput, CannotRun
from drillbook.outputs import finish as postrun
from drillbook.outputs.runstore import new_run_id
from drillbook.runbook import record as rec
from drillbook.runbook.confirm import NO, SKIP, Answer
from drillbook.runbook.model import DRILL, SHELL, Runbook, Step
from drillbook.runbook.record import RunbookRecord, StepResult
from drillbook.runbook.shell import run_script
from drillbook.settings import Settings
from drillbook.spec.loader import DrillSet
from drillbook.status import Status
from drillbook.util.clock import iso, parse_iso, utc_now
from drillbook.util.durations import format_duration
from drillbook.util.locks import LockBusy, file_lock
from drillbook.util.scrub import scrub, secret_values
from drillbook.util.signals import Interrupted


class Confirmer(Protocol):
    via: str

    def ask(self, runbook: Runbook, step: Step, operator: str) -> Answer: ...


@dataclass
class Context:
    """Everything a run needs besides the runbook: injected by the CLI, fakeable in tests."""

    settings: Settings
    operator: str
    confirmer: Confirmer
    drills: DrillSet | None = None
    observe: Observer = field(default=lambda event, name, info: None)
    on_output: Callable[[str], None] = field(default=lambda line: None)
    drill_observer: Any = None


@dataclass
class Outcome:
    record: dict[str, Any]
    run_dir: Path


def start(runbook: Runbook, ctx: Context, from_step: Step | None = None) -> Outcome:
    """A new run; steps before ``from_step`` are recorded skipped (``--from``)."""
    run_id = new_run_id()
    record = RunbookRecord.new(runbook, run_id, ctx.operator, iso(utc_now()) or "")
    folder = rec.record_dir(ctx.settings.reports_dir, runbook.name, run_id)
    first = from_step.index - 1 if from_step else 0
    for result in record.steps[:first]:
        result.status, result.reason = Status.SKIPPED, f"the run was started --from step {first + 1}"
    with _run_lock(ctx.settings, run_id):
        return _Run(runbook, record, folder, ctx).execute(first)


def resume(run_id: str, runbooks: dict[str, Runbook], ctx: Context) -> Outcome:
    """Continue run ``run_id`` from its first step not done, in the same record."""
    folder = rec.find_run(ctx.settings.reports_dir, run_id)
    record = rec.load(folder) if folder else None
    if folder is None or record is None:
        raise BadInput(f'no runbook run "{run_id}" under {ctx.settings.reports_dir / "runbooks"}')
    runbook = runbooks.get(record.runbook)
    if runbook is None:
        raise BadInput(f'run {run_id} is of runbook "{record.runbook}", which is no longer in '
                       f"{ctx.settings.runbooks_dir} (or has problems: run drillbook validate)")
    _check_same_steps(runbook, record)
    with _run_lock(ctx.settings, run_id):
        record = rec.load(folder) or record  # re-read under the lock
        if record.status == Status.PASSED:
            raise BadInput(f"run {run_id} already passed; nothing to resume")
        index = record.resume_index()
        if index is None:
            raise BadInput(f"run {run_id} has every step done ({record.status}: {record.reason}); "
                           "nothing to resume: start a new run")
        if record.attempts:
            rec.keep_attempt(folder, record.attempt.number)
        return _Run(runbook, record, folder, ctx).execute(index)


def _check_same_steps(runbook: Runbook, record: RunbookRecord) -> None:
    old = [(s.index, s.title) for s in record.steps]
    new = [(s.index, s.title) for s in runbook.steps]
    if old != new:
        raise BadInput(f"{runbook.path} changed its steps since run {record.run_id} began "
                       f"({len(old)} then, {len(new)} now): fix commands inside steps, not the "
                       "steps themselves, or start a new run")


@contextmanager
def _run_lock(settings: Settings, run_id: str) -> Iterator[None]:
    """One process per run: a second ``resume`` of a live run is refused, a crashed one frees it."""
    try:
        with file_lock(settings.state_dir / "runbook-locks" / f"{run_id}.lock", timeout=0):
            yield
    except LockBusy:
        raise BadInput(f"run {run_id} is being run by another drillbook process") from None


#: What a drill step tells later steps, as environment variables and in a manual step's text.
DRILL_VARIABLES = ("DRILL_NAME", "DRILL_RUN_ID", "DRILL_SNAPSHOT_ID", "DRILL_REPOSITORY", "DRILL_STATUS")


def drill_variables(record: RunbookRecord) -> dict[str, str]:
    """The last drill run of the run so far (also after a resume: read from the record)."""
    runs = [run for step in record.steps for run in step.drill_runs]
    if not runs:
        return {}
    last = runs[-1]
    values = (last.get("drill"), last.get("run_id"), last.get("snapshot_id"), last.get("repository"),
              last.get("status"))
    return {name: str(value) for name, value in zip(DRILL_VARIABLES, values, strict=True) if value}


def shown_text(text: str, env: dict[str, str]) -> str:
    """A manual step's text with ``${DRILL_...}`` and ``${DRILLBOOK_...}`` filled in; nothing else
    of the environment (it holds secrets) and an unknown name stays as written."""
    visible = {k: v for k, v in env.items() if k in DRILL_VARIABLES or k.startswith("DRILLBOOK_")}
    return Template(text).safe_substitute(visible)


class _Run:
    def __init__(self, runbook: Runbook, record: RunbookRecord, folder: Path, ctx: Context):
        self.runbook = runbook
        self.record = record
        self.dir = folder
        self.ctx = ctx
        self.env = {**os.environ, **runbook.meta.env, "DRILLBOOK_RUNBOOK": runbook.name,
                    "DRILLBOOK_RUN_ID": record.run_id, "DRILLBOOK_OPERATOR": ctx.operator}
        self.secrets = secret_values(self.env)
        self.env.update(drill_variables(record))
        self.drill_options = RunOptions(trigger=f"runbook {runbook.name} run {record.run_id}")

    def execute(self, first: int) -> Outcome:
        self._begin_attempt(first)
        try:
            for step in self.runbook.steps[first:]:
                if not self._run_step(step):
                    break
        except (Interrupted, KeyboardInterrupt) as exc:
            self._abort(exc)
        return self._finish()

    # -- attempts ---------------------------------------------------------------------------
    def _begin_attempt(self, first: int) -> None:
        record = self.record
        record.attempts.append(rec.Attempt(
            number=len(record.attempts) + 1, started_at=iso(utc_now()) or "", operator=self.ctx.operator,
            from_step=first + 1, confirmations=self.ctx.confirmer.via,
            runbook_sha256=hashlib.sha256(self.runbook.path.read_bytes()).hexdigest()))
        record.status, record.reason, record.finished_at = Status.RUNNING, None, None
        record.process = rec.process_info(None)
        self._save()
        self.ctx.observe("start", self.runbook.name, {"record": record, "first": first, "runbook": self.runbook,
                                   "dir": self.dir})

    def _save(self) -> None:
        rec.save(self.record, self.dir)

    # -- steps ------------------------------------------------------------------------------
    def _run_step(self, step: Step) -> bool:
        """Run one step; False stops the runbook."""
        result = self.record.steps[step.index - 1]
        result.archive()
        result.status, result.started_at = Status.RUNNING, iso(utc_now())
        result.attempt, result.operator = self.record.attempt.number, self.ctx.operator
        self._save()
        self.ctx.observe("step-start", step.title, {"step": step, "result": result,
                                                    "text": shown_text(step.text, self.env)})
        started = utc_now()
        try:
            if step.kind == SHELL:
                self._shell(step, result)
            elif step.kind == DRILL:
                self._drills(step, result)
            else:
                self._manual(step, result)
        except (Interrupted, KeyboardInterrupt):
            self._end_step(result, started, Status.ABORTED, "interrupted while this step ran")
            raise
        except CannotRun as exc:  # e.g. the drill is already running elsewhere: its words say so
            result.status, result.reason = Status.FAILED, str(exc)
        except Exception as exc:  # a bug fails the step visibly, never passes it
            result.status, result.reason = Status.FAILED, f"unexpected error: {type(exc).__name__}: {exc}"
        self._end_step(result, started, result.status, result.reason)
        return result.status in rec.DONE

    def _end_step(self, result: StepResult, started: Any, status: str, reason: str | None) -> None:
        finished = utc_now()
        result.status, result.reason = status, reason
        result.finished_at = iso(finished)
        result.duration_seconds = round((finished - started).total_seconds(), 3)
        self._save()
        self.ctx.observe("step-end", result.title, {"result": result})

    def _shell(self, step: Step, result: StepResult) -> None:
        timeout = self.runbook.step_timeout(step)
        done = run_script(step.script, cwd=self.runbook.folder, env={**self.env, "DRILLBOOK_STEP":
                          str(step.index)}, timeout=float(timeout), on_line=self.ctx.on_output,
                          secrets=self.secrets)
        result.output_tail, result.exit_code = done.tail, done.exit_code
        if done.timed_out:
            result.status = Status.FAILED
            result.reason = (f"timed out after {timeout.text} (step timeout); its process group "
                             "was killed")
        elif done.exit_code != 0:
            last = done.tail[-1] if done.tail else "no output"
            result.status, result.reason = Status.FAILED, f"exit {done.exit_code}: {last}"
        else:
            result.status, result.reason = Status.PASSED, None

    def _drills(self, step: Step, result: StepResult) -> None:
        if self.ctx.drills is None:
            raise RuntimeError("drill steps need the drills loaded")

        def keep(outcome: DrillOutcome) -> None:
            data = outcome.record
            report = os.path.relpath(outcome.run_dir / "report.html", self.dir)
            result.drill_runs.append({"drill": data["drill"], "run_id": data["run_id"], "status": data["status"],
                                      "reason": data.get("reason"), "report": report,
                                      "rto_seconds": data["objectives"]["rto"]["measured_seconds"],
                                      "snapshot_id": (data.get("snapshot") or {}).get("id"),
                                      "repository": data.get("repository")})
            self.env.update(drill_variables(self.record))
            self._save()

        outcomes = run_drills(self.ctx.drills, step.drills, self.ctx.settings, self.drill_options,
                              self.ctx.drill_observer, on_outcome=keep, stop_on_failure=True)
        if outcomes and outcomes[-1].record["status"] == Status.ABORTED:
            raise Interrupted(f"an interrupt during drill {outcomes[-1].record['drill']}")
        failed = [r for r in result.drill_runs if r["status"] != Status.PASSED]
        if failed:
            first = failed[0]
            result.status = Status.FAILED
            result.reason = f"drill {first['drill']} {first['status']}: {first['reason']}"
        else:
            result.status, result.reason = Status.PASSED, None

    def _manual(self, step: Step, result: StepResult) -> None:
        answer = self.ctx.confirmer.ask(self.runbook, step, self.ctx.operator)
        result.confirmed_by, result.confirmed_via, result.confirmed_at = answer.by, answer.via, answer.at
        if answer.choice == NO:
            result.status = Status.DECLINED
            result.reason = f"not confirmed: {answer.reason}" if answer.reason else "not confirmed"
        elif answer.choice == SKIP:
            result.status, result.reason = Status.SKIPPED, f"skipped by {answer.by}: {answer.reason}"
        else:
            result.status, result.reason = Status.CONFIRMED, None

    # -- ending -----------------------------------------------------------------------------
    def _abort(self, exc: BaseException) -> None:
        cause = exc.args[0] if isinstance(exc, Interrupted) and exc.args else "SIGINT (Ctrl-C)"
        current = next((s for s in self.record.steps if s.status in (Status.ABORTED, Status.RUNNING)), None)
        where = f' at step {current.index} "{current.title}"' if current else ""
        if current and current.status == Status.RUNNING:
            current.status, current.reason = Status.ABORTED, "interrupted while this step ran"
        self.record.status = Status.ABORTED
        self.record.reason = (f"interrupted by {cause}{where}; resume with: drillbook runbook resume "
                              f"{self.record.run_id}")

    def _finish(self) -> Outcome:
        record = self.record
        now = utc_now()
        record.elapsed_seconds = round((now - parse_iso(record.started_at)).total_seconds(), 3)
        if record.status != Status.ABORTED:
            record.status, record.reason = self._verdict()
        record.finished_at = iso(now)
        record.attempt.finished_at, record.attempt.status = record.finished_at, record.status
        record.reason = scrub(record.reason, self.secrets) if record.reason else record.reason
        project = self.ctx.drills.config if self.ctx.drills else None  # its drills' drillbook.yaml
        postrun.finish(postrun.for_runbook(self.dir, record, self.ctx.settings, project))
        self.ctx.observe("finish", record.runbook, {"record": record, "dir": self.dir})
        return Outcome(record.to_dict(), self.dir)

    def _skipped_by_from(self) -> int:
        """How many leading steps the first attempt skipped (``--from``); 0 for a whole run."""
        return self.record.attempts[0].from_step - 1 if self.record.attempts else 0

    def _verdict(self) -> tuple[str, str | None]:
        stopped = next((s for s in self.record.steps if s.status not in rec.DONE), None)
        if stopped is not None:
            word = "was declined" if stopped.status == Status.DECLINED else Status.FAILED
            return Status.FAILED, (f'step {stopped.index} "{stopped.title}" {word}: {stopped.reason}; '
                                   f"resume with: drillbook runbook resume {self.record.run_id}")
        rto = self.record.objectives.get("rto")
        if (not_run := self._skipped_by_from()):
            return Status.PARTIAL, (f"started --from step {not_run + 1}: steps 1-{not_run} were not run, so "
                                    "this run does not show that the runbook works")
        if not rto:
            return Status.PASSED, None
        last = max(parse_iso(s.finished_at) for s in self.record.steps if s.finished_at) \
            if any(s.finished_at for s in self.record.steps) else utc_now()
        measured = round((last - parse_iso(self.record.started_at)).total_seconds(), 3)
        rto["measured_seconds"], rto["met"] = measured, measured <= rto["target_seconds"]
        if not rto["met"]:
            return Status.FAILED, (f"RTO missed: the runbook took {format_duration(measured)} from the first "
                                f"step to the last, its RTO target is {rto['target']}")
        return Status.PASSED, None
