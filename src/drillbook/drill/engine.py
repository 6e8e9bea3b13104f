"""Runs one drill through its phases and builds the RunRecord. Never prints.

Flow (DESIGN.md): plan -> sandbox -> locate snapshot -> immutability audit -> restore ->
verify content -> checks -> teardown (always) -> record -> reports -> evidence.
A phase that fails stops the drill; later phases are recorded as skipped, so the record shows
exactly how far recovery got. Nothing here turns partial evidence into a pass.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drillbook.backends.restic import Restic, ResticError
from drillbook.backends.secrets import resolve_password
from drillbook.checks import CheckContext, run_check
from drillbook.checks.base import default_name
from drillbook.drill.content import compare_tree
from drillbook.drill.record import CheckResult, Objective, Phase, RunRecord, host_versions, process_info
from drillbook.drill.selection import explain_no_match, select_snapshot
from drillbook.outputs import finish as postrun
from drillbook.outputs.runstore import new_run_id, run_dir
from drillbook.sandbox.holder import IsolationError, Sandbox
from drillbook.settings import Settings
from drillbook.spec.models import Drill
from drillbook.status import Status
from drillbook.util.clock import iso, utc_now
from drillbook.util.durations import format_duration
from drillbook.util.scrub import secret_values

PHASES = ["plan", "sandbox", "locate snapshot", "immutability audit", "restore",
          "verify content", "checks", "teardown", "report"]

Observer = Callable[[str, str, dict[str, Any]], None]


class Interrupted(BaseException):
    """SIGTERM/SIGINT arrived: tear down, record ``aborted``."""


class Overrun(Interrupted):
    """The run went far past its RTO (the scheduler's limit): tear down, record ``failed``."""


class PhaseFailure(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass
class DrillOutcome:
    record: dict[str, Any]
    run_dir: Path


def run_drill(drill: Drill, settings: Settings, observer: Observer | None = None,
              drill_file: Path | None = None, run_id: str | None = None) -> DrillOutcome:
    return DrillRun(drill, settings, observer or (lambda *_: None), drill_file, run_id).execute()


class DrillRun:
    def __init__(self, drill: Drill, settings: Settings, observer: Observer,
                 drill_file: Path | None = None, run_id: str | None = None):
        self.drill = drill
        self.settings = settings
        self.observe = observer
        self.drill_file = drill_file
        self.run_id = run_id or new_run_id()  # given by `drillbook serve`, which names its runs
        self.dir = run_dir(settings.reports_dir, drill.name, self.run_id)
        self.started_mono = time.monotonic()
        self.started = utc_now()
        self.record = RunRecord(
            run_id=self.run_id, drill=drill.name, started_at=iso(self.started) or "",
            description=drill.description, owner=drill.owner, schedule=drill.schedule,
            trigger=settings.trigger, repository=_display_repository(drill.source.repository),
            selector=drill.source.snapshot.describe(),
            objectives={
                "rto": Objective(float(drill.objectives.rto), drill.objectives.rto.text),
                "rpo": Objective(float(drill.objectives.rpo), drill.objectives.rpo.text),
            },
        )
        self.sandbox: Sandbox | None = None
        self.restic: Restic | None = None
        self.snapshot = None
        self.secrets: list[str] = []
        self.failure: str | None = None
        self.checks_finished_mono: float | None = None
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="restic-ls")
        self.listing: Future[list[dict[str, Any]]] | None = None

    # -- the run ------------------------------------------------------------------
    def execute(self) -> DrillOutcome:
        sandbox_path = self.settings.sandbox_root / self.run_id
        self.record.process = process_info(str(sandbox_path))
        self._save()
        self.observe("start", self.drill.name, {"run_id": self.run_id, "dir": str(self.dir)})
        try:
            self._run_phases()
        except Overrun as exc:
            self.failure = str(exc.args[0]) if exc.args else "stopped: ran past the allowed time"
        except Interrupted as exc:
            self._abort(f"interrupted by {exc.args[0] if exc.args else 'a signal'}; "
                        "the drill was stopped and torn down before it finished")
        except KeyboardInterrupt:
            self._abort("interrupted by SIGINT (Ctrl-C); the drill was stopped and torn down")
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self._teardown()
        return self._finish()

    def _run_phases(self) -> None:
        steps = [
            ("plan", self._plan),
            ("sandbox", self._create_sandbox),
            ("locate snapshot", self._locate),
            ("immutability audit", self._audit),
            ("restore", self._restore),
            ("verify content", self._verify_content),
            ("checks", self._checks),
        ]
        for name, step in steps:
            if self.failure:
                self._skip(name)
                continue
            with self._phase(name) as detail:
                detail.append(step() or "")

    @contextmanager
    def _phase(self, name: str) -> Iterator[list[str]]:
        started_at = iso(utc_now()) or ""
        started = time.monotonic()
        self.observe("phase-start", name, {})
        detail: list[str] = []
        status = Status.PASSED
        try:
            yield detail
        except PhaseFailure as failure:
            status = Status.FAILED
            self.failure = failure.reason
            detail.append(failure.detail or failure.reason)
        except (Interrupted, KeyboardInterrupt):
            self._append_phase(name, Status.ABORTED, started_at, started, "interrupted")
            raise
        except Exception as exc:  # a bug must fail the drill visibly, never pass it
            status = Status.FAILED
            self.failure = f"{name} failed unexpectedly: {type(exc).__name__}: {exc}"
            detail.append(self.failure)
        if detail and detail[0].startswith("__skipped__"):
            status, detail = Status.SKIPPED, [detail[0].removeprefix("__skipped__").strip(), *detail[1:]]
        self._append_phase(name, status, started_at, started, " ".join(d for d in detail if d))

    def _append_phase(self, name: str, status: str, started_at: str, started: float, detail: str) -> None:
        duration = round(time.monotonic() - started, 3)
        self.record.phases.append(Phase(name, status, started_at, duration, detail))
        self.observe("phase-end", name, {"status": status, "duration": duration, "detail": detail})

    def _skip(self, name: str) -> None:
        self.record.phases.append(Phase(name, Status.SKIPPED, iso(utc_now()) or "", 0.0, "not reached"))
        self.observe("phase-end", name, {"status": Status.SKIPPED, "duration": 0.0, "detail": ""})

    # -- phases ---------------------------------------------------------------------
    def _plan(self) -> str:
        base = self.drill_file.parent if self.drill_file else self.settings.drills_dir
        try:
            password = resolve_password(self.drill.source.password, base)
        except Exception as exc:  # PasswordError, or any fault of an AWS secret store
            raise PhaseFailure(f"cannot read the repository password: {exc}") from None
        self.secrets.append(password)
        env, preflight = _backend_environment(self.drill.source.repository)
        self.secrets += secret_values(env)
        self.restic = Restic(
            resolve_repository(self.drill.source.repository, base), password, env=env,
            cache_dir=_cache_dir(self.settings, self.drill), timeout=self.settings.restic_timeout,
        )
        try:
            self.record.versions = host_versions(self.restic.version())
        except ResticError as exc:
            raise PhaseFailure(exc.message) from None
        if preflight:
            preflight()
        return f"password from {self.drill.source.password.kind}"

    def _create_sandbox(self) -> str:
        try:
            self.sandbox = Sandbox.create(self.settings.sandbox_root, self.run_id,
                                          self.drill.isolation, dict(self.drill.env))
        except IsolationError as exc:
            raise PhaseFailure(f"sandbox could not be isolated as declared: {exc}") from None
        except OSError as exc:
            raise PhaseFailure(f"cannot create the sandbox under {self.settings.sandbox_root}: "
                               f"{exc.strerror or exc}") from None
        self.record.isolation = self.sandbox.record()
        return str(self.sandbox.path)

    def _locate(self) -> str:
        assert self.restic is not None
        snapshots = self._restic_call(self.restic.snapshots, what="listing snapshots")
        selector = self.drill.source.snapshot
        chosen = select_snapshot(snapshots, selector)
        if chosen is None:
            raise PhaseFailure(explain_no_match(snapshots, selector))
        self.snapshot = chosen
        self.record.snapshot = chosen.to_dict()
        return f"snapshot {chosen.short_id} of {iso(chosen.time)} ({len(snapshots)} in repository)"

    def _audit(self) -> str:
        wanted = self.drill.source.immutability
        if wanted is None:
            self.record.immutability = {
                "status": "not_audited",
                "detail": "the drill declares no immutability: the backup's Object Lock was not checked",
            }
            return "__skipped__ not declared: Object Lock not audited"
        from drillbook.backends import aws

        result = aws.audit_repository(self.drill.source.repository, wanted)
        self.record.immutability = result
        if result.get("status") != Status.PASSED:
            raise PhaseFailure(f"immutability audit failed: {result.get('reason')}")
        return result.get("summary", "")

    def _restore(self) -> str:
        assert self.restic and self.sandbox and self.snapshot
        # The snapshot's listing is the reference for the content check; fetching it while the
        # restore runs hides its cost (a second key derivation and a tree walk) from the RTO.
        restic, snapshot_id = self.restic, self.snapshot.id
        self.listing = self.pool.submit(lambda: list(restic.ls(snapshot_id)))
        self._restic_call(restic.restore, snapshot_id, self.sandbox.restore_root,
                          verify=True, what="restoring")
        return f"restored {self.snapshot.short_id} with --verify"

    def _verify_content(self) -> str:
        assert self.restic and self.sandbox and self.snapshot
        nodes = self._restic_call(self.listing.result, what="listing the snapshot")
        content = compare_tree(nodes, self.sandbox.restore_root)
        content.update({
            "method": "restic restore --verify (every restored file re-read and each blob's "
                      "SHA-256 compared with the repository) + presence and size of every node "
                      "of restic ls against the restored tree",
            "reference": f"snapshot {self.snapshot.id}",
            "files_verified": content["files_expected"] - content["missing_count"],
            "bytes_verified": content["bytes_present"],
        })
        self.record.content = content
        if content["missing_count"] or content["wrong_size_count"]:
            parts = []
            if content["missing_count"]:
                parts.append(f"{content['missing_count']} missing (first: {content['missing'][0]})")
            if content["wrong_size_count"]:
                parts.append(f"{content['wrong_size_count']} with wrong size "
                             f"(first: {content['wrong_size'][0]})")
            content["status"] = Status.FAILED
            raise PhaseFailure("restored tree is incomplete: " + "; ".join(parts))
        if not content["files_expected"]:
            content["status"] = Status.FAILED  # e.g. a backup of an unmounted volume: nothing to recover
            raise PhaseFailure(f"snapshot {self.snapshot.short_id} holds no files: nothing was "
                               "recovered (was the source empty or unmounted when it was taken?)")
        content["status"] = Status.PASSED
        return (f"{content['files_expected']} files, {content['bytes_expected']} bytes "
                "match the snapshot")

    def _checks(self) -> str:
        assert self.sandbox is not None
        ctx = CheckContext(self.sandbox.restore_root, self.sandbox.work_dir, self.sandbox.launcher,
                           env=dict(self.drill.env), secrets=self.secrets)
        for spec in self.drill.verify:
            self.observe("check-start", default_name(spec), {})
            result = run_check(spec, ctx)
            self.record.checks.append(result)
            self.observe("check-end", result.name, {"status": result.status, "detail": result.detail})
        self.checks_finished_mono = time.monotonic()
        failed = [c for c in self.record.checks if c.status != Status.PASSED]
        if failed:
            names = ", ".join(f"{c.name} ({c.detail})" for c in failed[:3])
            raise PhaseFailure(f"{len(failed)} of {len(self.record.checks)} checks failed: {names}")
        count = len(self.record.checks)
        return f"{count} check{'s' if count != 1 else ''} passed" if count else "no checks declared"

    # -- ending ---------------------------------------------------------------------
    def _save(self) -> None:
        """Write the record as it stands: ``running`` at the start, so a crash leaves a trace."""
        postrun.write_outputs(self.record, self.dir, self.drill, self.settings)

    def _restic_call(self, fn: Callable[..., Any], *args: Any, what: str, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ResticError as exc:
            self.record.restic_stderr_tail = exc.stderr_tail
            raise PhaseFailure(f"{exc.message} (while {what} from "
                               f"{_display_repository(self.drill.source.repository)})") from None

    def _abort(self, reason: str) -> None:
        self.record.status = Status.ABORTED
        self.record.reason = reason
        self.failure = self.failure or reason

    def _teardown(self) -> None:
        started_at, started = iso(utc_now()) or "", time.monotonic()
        status, detail = Status.PASSED, "sandbox removed"
        if self.sandbox is None:
            status, detail = Status.SKIPPED, "no sandbox was created"
        elif self.settings.keep_sandbox:
            self.sandbox.launcher.kill_all()
            detail = f"kept for debugging at {self.sandbox.path} (--keep-sandbox)"
        else:
            try:
                self.sandbox.teardown()
            except Exception as exc:
                status, detail = Status.FAILED, f"teardown incomplete: {exc}"
        self._append_phase("teardown", status, started_at, started, detail)

    def _finish(self) -> DrillOutcome:
        self._measure_objectives()
        if self.record.status != Status.ABORTED:
            self.record.status = Status.FAILED if self.failure or self._objective_missed() else Status.PASSED
            self.record.reason = self._reason()
        self.record.finished_at = iso(utc_now())
        post = postrun.PostRun(postrun.RunKind.DRILL, self.dir, self.record, self.settings, self.drill)
        postrun.notify(post)
        started_at, started = iso(utc_now()) or "", time.monotonic()
        written = postrun.write_record_and_reports(post)
        self._append_phase("report", Status.PASSED, started_at, started, ", ".join(written))
        postrun.after_outputs(post)  # writes the files again first: they now hold the report phase
        outcome = DrillOutcome(self.record.to_dict(), self.dir)
        self.observe("finish", self.drill.name, {"status": self.record.status,
                                                 "reason": self.record.reason,
                                                 "run_id": self.run_id, "dir": str(self.dir)})
        return outcome

    def _measure_objectives(self) -> None:
        rto = self.record.objectives["rto"]
        rpo = self.record.objectives["rpo"]
        if self.checks_finished_mono is not None:
            rto.measured_seconds = round(self.checks_finished_mono - self.started_mono, 3)
            rto.met = rto.measured_seconds <= rto.target_seconds
        if self.snapshot is not None:
            rpo.measured_seconds = round((self.started - self.snapshot.time).total_seconds(), 3)
            rpo.met = rpo.measured_seconds <= rpo.target_seconds

    def _objective_missed(self) -> bool:
        return any(o.met is False for o in self.record.objectives.values())

    def _reason(self) -> str | None:
        reasons = [self.failure] if self.failure else []
        for key, label in (("rto", "RTO"), ("rpo", "RPO")):
            o = self.record.objectives[key]
            if o.met is False:
                reasons.append(f"{label} missed: measured {format_duration(o.measured_seconds)}, "
                               f"target {o.target}")
        return "; ".join(reasons) or None


REMOTE_PREFIXES = ("s3:", "sftp:", "rest:", "b2:", "azure:", "gs:", "rclone:", "swift:")
SCHEME_PREFIXES = (*REMOTE_PREFIXES, "local:")


def resolve_repository(repository: str, base: Path) -> str:
    """A relative local path is relative to the drill's file, like every path in a drill."""
    if repository.startswith(SCHEME_PREFIXES) or Path(repository).is_absolute():
        return repository
    return str((base / repository).resolve())


def _display_repository(repository: str) -> str:
    """Repository strings may embed credentials (rest:https://user:pass@host/): hide them."""
    return re.sub(r"//([^/@:]+):[^/]*@", r"//\1:***@", repository)  # up to the last @: p@ss


def _cache_dir(settings: Settings, drill: Drill) -> Path | None:
    """Local repositories need no cache; remote ones get one under drillbook's state."""
    if drill.source.repository.startswith(REMOTE_PREFIXES):
        return settings.state_dir / "cache"
    return None


def _backend_environment(repository: str) -> tuple[dict[str, str], Callable[[], None] | None]:
    """Extra child environment and a fast reachability probe for remote backends."""
    if repository.startswith("s3:"):
        from drillbook.backends import aws

        env = aws.restic_environment(repository)

        def preflight() -> None:
            problem = aws.probe_repository(repository)
            if problem:
                raise PhaseFailure(problem)

        return env, preflight
    return {}, None


__all__ = ["PHASES", "CheckResult", "DrillOutcome", "DrillRun", "Interrupted", "run_drill"]
