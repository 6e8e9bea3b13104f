"""Runs one drill through its phase table and builds the RunRecord. Never prints.

Flow: plan -> sandbox -> locate snapshot (the snapshot's listing, see listing.py, starts beside
the snapshot list) -> immutability audit -> restore (only when the sandbox root has room for it,
as the listing measures it, see space.py; as the sandbox account when it can, see restoring.py;
then made safe) -> verify content -> checks -> teardown (always) -> report (always) -> evidence.
A phase that fails stops the drill; later phases are recorded as skipped, so the record shows
exactly how far recovery got. An interrupt stops it where it is: the phases not reached are not
recorded, teardown and report still are. Nothing here turns partial evidence into a pass.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from drillbook.backends.repository import shown_repository
from drillbook.backends.restic import Fault, ResticError, Snapshot, only_unmakeable_devices
from drillbook.backends.secrets import describe_source
from drillbook.drill import access, runlock
from drillbook.drill.listing import Listing, read_listing
from drillbook.drill.phases import Observer, PhaseError, PhaseFailed, PhaseLog, PhaseSkipped, PhaseStep, guarded
from drillbook.drill.record import CheckResult, Objective, RunRecord, host_versions, process_info
from drillbook.drill.seams import ResticDoor, SandboxLike, Seams
from drillbook.drill.selection import explain_no_match, future_dated, restic_selection, select_snapshot
from drillbook.drill.target import DeclaredDrill
from drillbook.evidence import sightings
from drillbook.outputs import finish as postrun
from drillbook.outputs.runstore import new_run_id, run_dir
from drillbook.settings import Settings
from drillbook.status import Status
from drillbook.util.clock import iso, utc_now
from drillbook.util.lazy import lazy_module
from drillbook.util.signals import Interrupted, Overrun

if TYPE_CHECKING:
    from drillbook.backends import aws
    from drillbook.backends.resticjson import RestoreCounts
    from drillbook.checks import base as checks
    from drillbook.checks import kinds
    from drillbook.checks.services import stack as services
    from drillbook.drill import content, controls, pathhints, restoring, space, storage, verdict
    from drillbook.sandbox import holder, inside, isolation, safety, slots
else:
    # Only the plan (restic's version, the repository's probe) and the snapshot lookup run before
    # the first restic call; what the later phases use loads when they run, so that the drill's
    # clock is restic's and not the import of checks, sandbox and services it does not need yet.
    aws = lazy_module("drillbook.backends.aws")
    checks = lazy_module("drillbook.checks.base")
    kinds = lazy_module("drillbook.checks.kinds")
    services = lazy_module("drillbook.checks.services.stack")
    content = lazy_module("drillbook.drill.content")
    controls = lazy_module("drillbook.drill.controls")
    pathhints = lazy_module("drillbook.drill.pathhints")
    restoring = lazy_module("drillbook.drill.restoring")
    space = lazy_module("drillbook.drill.space")
    storage = lazy_module("drillbook.drill.storage")
    verdict = lazy_module("drillbook.drill.verdict")
    holder = lazy_module("drillbook.sandbox.holder")
    inside = lazy_module("drillbook.sandbox.inside")
    isolation = lazy_module("drillbook.sandbox.isolation")
    safety = lazy_module("drillbook.sandbox.safety")
    slots = lazy_module("drillbook.sandbox.slots")

RESTIC_TIMEOUT = 6 * 3600.0  # one restic call of a drill; a large restore takes hours
TREE_TIMEOUT = 3600.0  # walking a restore of millions of files

T = TypeVar("T")


@dataclass(frozen=True)
class RunOptions:
    """How the caller wants this run to go: not part of the drill, not a setting of the host."""

    trigger: str = "manual"
    keep_sandbox: bool = False
    stop_after_rto: float | None = None  # the scheduler's limit, as a multiple of the drill's RTO
    run_id: str | None = None  # chosen by the caller (the scheduler) instead of a new one
    wait_lock: float = 0.0  # seconds to wait for another run of the same drill (see runlock.py)
    control: bool = False  # negative controls even when the drill does not declare them (controls.py)
    central_outputs: bool = False  # a site worker's run: notify/index/upload/seal happen centrally


@dataclass
class DrillOutcome:
    record: dict[str, Any]
    run_dir: Path


def run_drill(target: DeclaredDrill, settings: Settings, options: RunOptions | None = None,
              observer: Observer | None = None) -> DrillOutcome:
    return DrillRun(target, settings, options or RunOptions(), observer or (lambda *_: None)).execute()


def run_check(spec: Any, ctx: checks.CheckContext) -> CheckResult:
    """One check: a name of this module (tests replace it) that loads the checks when one runs."""
    return kinds.run_check(spec, ctx)


class DrillRun:
    """One run of one drill: the phase table, the state the phases hand on, the record they fill."""

    def __init__(self, target: DeclaredDrill, settings: Settings, options: RunOptions, observer: Observer,
                 seams: Seams | None = None):
        self.drill = drill = target.drill
        self.base = target.folder(settings.drills_dir)
        self.project = target.project
        self.settings = settings
        self.options = options
        self.seams = seams or Seams()
        self.observe = observer = guarded(observer)
        self.run_id = options.run_id or new_run_id()
        self.dir = run_dir(settings.reports_dir, drill.name, self.run_id)
        self.started_mono = time.monotonic()
        self.started = utc_now()
        self.record = RunRecord(
            run_id=self.run_id, drill=drill.name, started_at=iso(self.started) or "",
            description=drill.description, owner=drill.owner, schedule=drill.schedule,
            declared=sightings.entry_for(settings.state_dir, drill.name),
            trigger=options.trigger,
            repository=shown_repository(drill.source.repository, self.base),
            selector=drill.source.snapshot.describe(),
            objectives={
                "rto": Objective(float(drill.objectives.rto), drill.objectives.rto.text),
                "rpo": Objective(float(drill.objectives.rpo), drill.objectives.rpo.text),
            },
            versions=host_versions(None),
        )
        self.log = PhaseLog(self.record.phases, observer)
        self.outputs = postrun.PostRun(postrun.RunKind.DRILL, self.dir, self.record, settings, drill,
                                       project=target.project, deferred=options.central_outputs)
        self.sandbox: SandboxLike | None = None
        self.restic: ResticDoor | None = None
        self.repository = ""  # as restic gets it: a local path resolved against the drill's file
        self.snapshot: Snapshot | None = None
        self.secrets: list[str] = []
        self.failure: str | None = None
        self.checks_finished_mono: float | None = None
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="restic-ls")
        self.listing: Future[Listing] | None = None
        self.control = drill.control or options.control

    def phase_table(self) -> list[PhaseStep]:
        return [
            PhaseStep("plan", self._plan),
            PhaseStep("sandbox", self._create_sandbox),
            PhaseStep("locate snapshot", self._locate),
            PhaseStep("immutability audit", self._audit),
            PhaseStep("restore", self._restore),
            PhaseStep("verify content", self._verify_content),
            PhaseStep("checks", self._checks),
            *([PhaseStep("controls", self._controls)] if self.control else []),
            PhaseStep("teardown", self._teardown, always=True),
            PhaseStep("report", self._report, always=True, before=self._conclude),
        ]

    # -- the run ------------------------------------------------------------------
    def execute(self) -> DrillOutcome:
        """The run, holding the drill's lock throughout: a second run of it stops before recording."""
        me = runlock.Holder.me(self.run_id, self.options.trigger, self.record.started_at)
        with runlock.held(self.settings.state_dir, self.drill.name, me, self.options.wait_lock,
                          on_wait=lambda holder: self.observe("lock-wait", self.drill.name, {
                              "holder": holder, "wait": self.options.wait_lock})):
            postrun.started(self.outputs, self.run_id, self.options.trigger)  # pings, before the RTO clock
            self._start_clocks()
            return self._execute()

    def _start_clocks(self) -> None:
        """Time spent waiting for the lock is not recovery time: the RTO counts from here."""
        self.started_mono = time.monotonic()
        self.started = utc_now()
        self.record.started_at = iso(self.started) or ""

    def _execute(self) -> DrillOutcome:
        self.record.process = process_info(str(self.settings.sandbox_root / self.run_id))
        if self.options.central_outputs:
            self.record.process["outputs"] = postrun.CENTRAL
        self._save()
        self.observe("start", self.drill.name, {"run_id": self.run_id, "dir": str(self.dir)})
        table = self.phase_table()
        try:
            self._recover([step for step in table if not step.always])
        except BaseException:  # drillbook itself is stopping (SystemExit): no verdict, no sandbox left
            with suppress(PhaseError):
                self._teardown()
            raise
        for step in (step for step in table if step.always):
            self._close(step)
        return self._finish()

    def _recover(self, steps: list[PhaseStep]) -> None:
        """Plan to checks: skipped after a failure; an interrupt stops the drill where it is."""
        try:
            for step in steps:
                if self.failure:
                    self.log.skip(step.name)
                else:
                    self.failure = self.log.run(step)
        except Overrun as exc:
            self.failure = str(exc.args[0]) if exc.args else "stopped: ran past the allowed time"
        except Interrupted as exc:
            self._abort(f"interrupted by {exc.args[0] if exc.args else 'a signal'}; "
                        "the drill was stopped and torn down before it finished")
        except KeyboardInterrupt:
            self._abort("interrupted by SIGINT (Ctrl-C); the drill was stopped and torn down")

    def _close(self, step: PhaseStep) -> None:
        """Teardown and report: always run. A failed report is recorded but is not the drill's
        failure; a teardown that leaves the restored data behind is (see ``_teardown``).

        An interrupt here is passed on: the record stays ``running`` and ``cleanup`` finishes it.
        """
        if step.before:
            step.before()
        self.log.run(step)

    # -- phases ---------------------------------------------------------------------
    def _plan(self) -> str:
        source = self.drill.source
        try:
            opened = access.open_repository(source, self.base, self.settings.cache_dir, self.seams.open_restic,
                                            RESTIC_TIMEOUT)
            self.secrets += opened.secrets
            self.record.credentials = opened.credentials
            self.repository, self.restic = opened.repository, opened.restic
            self.record.versions = host_versions(access.restic_version(opened))
            access.probe(opened)
        except access.AccessFailed as exc:
            raise PhaseFailed(str(exc)) from None
        return f"password from {source.password.kind}"

    def _create_sandbox(self) -> str:
        root = self.settings.sandbox_root
        try:
            self.sandbox = self.seams.create_sandbox(root, self.run_id, self.drill.isolation, dict(self.drill.env),
                                                     self.settings.state_dir / slots.FOLDER)
        except holder.IsolationError as exc:
            raise PhaseFailed(f"sandbox could not be isolated as declared: {exc}") from None
        except OSError as exc:
            raise PhaseFailed(f"cannot create the sandbox under {root}: {exc.strerror or exc}") from None
        self.record.isolation = self.sandbox.record()
        return str(self.sandbox.path)

    def _locate(self) -> str:
        restic, sandbox = self._need(self.restic), self._need(self.sandbox)
        # The snapshot's listing (the restore's size, the content check's reference) starts now,
        # with restic's own selection, beside the snapshot list: its key derivation and tree walk
        # cost no time of their own. Which snapshot it listed is compared with the choice below.
        snapshot_arg, selection = restic_selection(self.drill.source.snapshot)
        own = sandbox.path / isolation.OWN_FOLDER
        self.listing = self.pool.submit(lambda: read_listing(restic.ls(snapshot_arg, selection), own))
        snapshots = self._restic_call(restic.snapshots, what="listing snapshots")
        selector = self.drill.source.snapshot
        chosen = select_snapshot(snapshots, selector)
        if chosen is None:
            raise PhaseFailed(explain_no_match(snapshots, selector))
        self.record.snapshot = chosen.to_dict()
        problem = future_dated(chosen, utc_now())
        if problem:  # its data age would be negative: no RPO is measured from it
            raise PhaseFailed(problem)
        self.snapshot = chosen
        return f"snapshot {chosen.short_id} of {iso(chosen.time)} ({len(snapshots)} in repository)"

    def _audit(self) -> str:
        wanted = self.drill.source.immutability
        if wanted is None:
            self.record.immutability = {
                "status": "not_audited",
                "detail": "the drill declares no immutability: the backup's Object Lock was not checked",
            }
            raise PhaseSkipped("not declared: Object Lock not audited")
        result = aws.audit_repository(self.drill.source.repository, wanted)
        self.record.immutability = result
        if result.get("status") != Status.PASSED:
            raise PhaseFailed(f"immutability audit failed: {result.get('reason')}")
        return result.get("summary", "")

    def _restore(self) -> str:
        sandbox, snapshot = self._need(self.sandbox), self._need(self.snapshot)
        who = restoring.choose(self.repository, sandbox.account, sandbox.mode, self.seams.unreadable_by)
        self.record.restore = who.record()
        measured = self._make_room(sandbox, snapshot, who.as_root)
        sandbox.prepare_restore(who.as_root)
        try:
            left_out = self._restore_as(who)
        except Exception:
            with suppress(PhaseFailed):  # a failed restore is made safe too (--keep-sandbox keeps it)
                self._make_safe(sandbox)
            raise
        made_safe = self._make_safe(sandbox)
        as_root = f" as root ({who.reason})" if who.as_root else ""
        devices = (f"; {len(left_out)} device node{'s' if len(left_out) != 1 else ''} left out "
                   "(an unprivileged restore cannot make them)") if left_out else ""
        counted = self._need(self.record.restore).get("restored")
        restored = (f"; restic restored {counted['files_restored']} of {counted['total_files']} files"
                    if counted else "")
        kept = self._need(self.record.restore)["storage"]
        into = (f" into {kept['shown']}" if kept["kind"] == "tmpfs"
                else " to disk, not in memory (see restore.storage)" if kept["reason"] else "")
        return (f"restored {snapshot.short_id} ({space.shown(measured.size_bytes)}){into} with --verify"
                f"{as_root}{restored}{devices}{made_safe}")

    def _make_room(self, sandbox: SandboxLike, snapshot: Snapshot, as_root: bool) -> space.Measured:
        """Into the sandbox's tmpfs when it holds the restore, else onto the disk; fail before
        restoring when the sandbox root's filesystem cannot hold it."""
        measured = self._measure(snapshot)
        restore = self._need(self.record.restore)
        restore.update(measured.record())
        chosen = storage.decide(sandbox.in_memory, measured.size_bytes, measured.file_count, as_root)
        restore["storage"] = chosen.record()
        if chosen.tmpfs_bytes is not None:
            return measured
        try:
            sandbox.restore_on_disk()
        except holder.IsolationError as exc:
            raise PhaseFailed(f"the sandbox could not be made again to restore to disk: {exc}") from None
        where = self.settings.sandbox_root
        try:
            free = self.seams.free_space(sandbox.restore_root)
        except OSError as exc:
            raise PhaseFailed(f"cannot read the free space on {where}: {exc.strerror or exc}") from None
        room = space.Room(measured, free, where)
        restore.update(room.record())
        problem = room.problem()
        if problem:
            raise PhaseFailed(problem)
        return measured

    def _measure(self, snapshot: Snapshot) -> space.Measured:
        """The sizes in the snapshot's listing; when it fails, or listed another snapshot than the
        one chosen (the repository changed in between), no restore."""
        try:
            listing = self._need(self.listing).result()
        except ResticError as exc:
            self.record.restic_stderr_tail = exc.stderr_tail
            raise PhaseFailed(space.unmeasured(exc.message)) from None
        if listing.snapshot_id != snapshot.id:
            raise PhaseFailed(
                f"restic's own selection for {self.drill.source.snapshot.describe()} is snapshot "
                f"{(listing.snapshot_id or 'none')[:8]}, drillbook's is {snapshot.short_id}: the "
                "repository changed while the drill read it, or the two disagree; nothing was restored. "
                "Run the drill again, or select the snapshot by id")
        return space.from_listing(listing)

    def _restore_as(self, who: restoring.RestoreAs) -> list[str]:
        """Restore; returns the device nodes left out, when restic as the account could not make them.

        restic 0.14 skips ``--verify`` after any error, so a restore whose only errors were those
        devices is done again, from an empty folder, without them: verified, or failed.
        """
        restic, sandbox, snapshot = self._need(self.restic), self._need(self.sandbox), self._need(self.snapshot)
        try:
            self._counted(restic.restore(snapshot.id, sandbox.restore_target, verify=True, account=who.account,
                                         progress=self._restore_progress))
            return []
        except ResticError as exc:
            devices = self._devices_behind(exc) if who.unprivileged else []
            if not devices:
                raise self._restic_failed(exc, "restoring") from None
        sandbox.clear_restore(who.as_root)
        self._counted(self._restic_call(restic.restore, snapshot.id, sandbox.restore_target, verify=True,
                                        account=who.account, leave_out=devices, what="restoring",
                                        progress=self._restore_progress))
        self._need(self.record.restore)["devices_left_out"] = len(devices)
        return devices

    def _restore_progress(self, counts: RestoreCounts) -> None:
        """restic >= 0.17's status: for the progress display (0.14 tells none)."""
        self.observe("restore-progress", self.drill.name, {"percent": counts.percent_done, **counts.record()})

    def _counted(self, summary: RestoreCounts | None) -> None:
        """restic >= 0.17's own counts of what it restored, kept beside the content check's."""
        if summary is not None:
            self._need(self.record.restore)["restored"] = summary.record()

    def _devices_behind(self, failure: ResticError) -> list[str]:
        """The snapshot's devices, when refusing to make them was all that failed; else nothing."""
        try:
            devices = self._need(self.listing).result().devices
        except ResticError:
            return []
        return devices if only_unmakeable_devices(failure.stderr, devices) else []

    def _make_safe(self, sandbox: SandboxLike) -> str:
        try:
            report = sandbox.make_restore_safe()
        except safety.UnsafeTree as exc:
            raise PhaseFailed(f"the restored tree could not be made safe, so nothing may read it: {exc}") from None
        self._need(self.record.restore)["made_safe"] = report.to_dict()
        undone = [f"{count} {what}" for count, what in (
            (report.owners_changed, "owners given to the sandbox account"),
            (report.setid_cleared, "setuid/setgid bits cleared"),
            (report.capabilities_removed, "file capabilities removed"),
            (report.devices_removed, "device nodes removed")) if count]
        return f"; made safe: {', '.join(undone)}" if undone else ""

    def _verify_content(self) -> str:
        sandbox, snapshot, listing = self._need(self.sandbox), self._need(self.snapshot), self._need(self.listing)
        listed: Listing = self._restic_call(listing.result, what="listing the snapshot")
        try:
            compared = inside.read_inside(sandbox.launcher, sandbox.path / isolation.OWN_FOLDER, sandbox.restore_root,
                                   {"op": "tree", "root": str(sandbox.restore_root),
                                    "listing": str(listed.path)}, TREE_TIMEOUT)
            found, problem = content.verify_restore(compared, snapshot.id, snapshot.short_id)
        except (inside.ReaderFailed, ValueError) as exc:
            raise PhaseFailed(f"the restored tree could not be compared with the snapshot: {exc}") from None
        self.record.content = found
        if problem:
            raise PhaseFailed(problem)
        return f"{found['files_expected']} files, {found['bytes_expected']} bytes match the snapshot"

    def _check_context(self, sandbox: SandboxLike) -> checks.CheckContext:
        return checks.CheckContext(sandbox.restore_root, sandbox.work_dir, sandbox.launcher,
                            env=dict(self.drill.env), secrets=self.secrets)

    def _checks(self) -> str:
        """The data checks, then the drill's services in order with the checks that address them."""
        sandbox = self._need(self.sandbox)
        ctx = self._check_context(sandbox)
        has_services = bool(self.drill.services)
        for spec in self.drill.verify:
            if not services.addresses_stack(spec, has_services):
                self._sweep_after(sandbox, self._check(spec, ctx))
        stack_failure = self._stack(ctx) if has_services else None
        self.checks_finished_mono = self.checks_finished_mono or time.monotonic()
        failed = [c for c in self.record.checks if c.status not in (Status.PASSED, Status.SKIPPED)]
        if stack_failure or failed:
            names = ", ".join(f"{c.name} ({c.detail})" for c in failed[:3])
            checks = f"{len(failed)} of {len(self.record.checks)} checks failed: {names}" if failed else ""
            raise PhaseFailed("; ".join(r for r in (stack_failure, checks) if r))
        count = len(self.record.checks)
        up = f"{len(self.drill.services)} services ready; " if has_services else ""
        return up + (f"{count} check{'s' if count != 1 else ''} passed" if count else "no checks declared")

    def _check(self, spec: Any, ctx: checks.CheckContext) -> CheckResult:
        self.observe("check-start", checks.default_name(spec), {})
        result = run_check(spec, ctx)
        if result.status != Status.PASSED:
            self._hint_paths(spec, result)
        self.record.checks.append(result)
        self.observe("check-end", result.name, {"status": result.status, "detail": result.detail})
        return result

    def _stack(self, ctx: checks.CheckContext) -> str | None:
        """Start the services in order, run the checks addressing them, stop them in reverse order.

        The RTO counts until the last of those checks ends (so until the last service was
        ready); stopping the stack is not recovery time.
        """
        stack = services.Stack(ctx, dict(self.drill.services), self.dir, self.observe)
        self.record.services = stack.records
        try:
            failure = stack.start()
            for spec in (s for s in self.drill.verify if services.addresses_stack(s, True)):
                if failure:
                    self.record.checks.append(CheckResult(spec.type, checks.default_name(spec), Status.SKIPPED,
                                                          "not run: the stack did not start"))
                else:
                    self._check(spec, replace(ctx, stack=stack))
            self.checks_finished_mono = time.monotonic()
        finally:
            try:
                stack.stop()
            except holder.IsolationError as exc:
                raise PhaseFailed(f"what the stack left running could not be stopped: {exc}") from None
        return failure

    def _controls(self) -> str:
        """Every check again on damaged copies of the restore (controls.py); after the checks'
        clock stopped, so timed as this phase and never in the RTO."""
        sandbox = self._need(self.sandbox)
        tried, left = controls.controllable(self.drill.verify, bool(self.drill.services))
        try:
            found = controls.run_controls(tried, self._check_context(sandbox), run_check,
                                          lambda result: self._sweep_after(sandbox, result))
        except (controls.ControlFailed, inside.ReaderFailed) as exc:
            raise PhaseFailed(f"the negative controls could not run, so the checks are not proven: {exc}") from None
        self.record.controls = [control.record() for control in found]
        problem = controls.vacuous(found)
        shown = controls.summary(self.record.controls)
        if left:
            shown += f"; not tried on damage: {', '.join(left)} (checks of the running stack)"
        if problem:
            raise PhaseFailed(problem, shown)
        return shown if found else "no checks declared"

    def _hint_paths(self, spec: Any, result: CheckResult) -> None:
        """A failed check whose path the snapshot does not hold: what was restored, and the path it
        may have meant (``data/docs`` for a snapshot of /srv/clinic: ``srv/clinic/data/docs``)."""
        listing, snapshot = self.listing, self.snapshot
        if listing is None or snapshot is None or not listing.done():
            return
        try:
            hint = pathhints.missing_hint(spec, listing.result().nodes(), snapshot.paths)
        except (ResticError, OSError):
            return
        if hint:
            result.detail = f"{result.detail}; {hint}"

    def _sweep_after(self, sandbox: SandboxLike, result: CheckResult) -> None:
        """Checks share the drill's namespaces, never its processes: whatever a check left running
        (a daemon, a double fork, a setsid) is killed before the next check starts."""
        try:
            left = sandbox.launcher.sweep()
        except holder.IsolationError as exc:
            raise PhaseFailed(f'what check "{result.name}" left running could not be stopped, so no '
                              f"later check may run beside it: {exc}") from None
        if left:
            result.data["left_running"] = left

    def _teardown(self) -> str:
        if self.restic is not None:  # a listing still running is of no use now: end it, do not wait it out
            self.restic.stop()
        self.pool.shutdown(wait=True, cancel_futures=True)  # no restic ls outlives its sandbox
        if self.sandbox is None:
            raise PhaseSkipped("no sandbox was created")
        in_memory = self.sandbox.in_memory is not None  # the tmpfs ends with the namespace
        if self.options.keep_sandbox:
            self.sandbox.launcher.kill_all()
            return (f"kept for debugging at {self.sandbox.path} (--keep-sandbox)"
                    + ("; the restore was in the sandbox's tmpfs and went with its namespace" if in_memory else ""))
        path, problem = self.sandbox.path, None
        try:
            self.sandbox.teardown()
        except Exception as exc:
            problem = f"teardown incomplete: {exc}"
        if os.path.lexists(path):
            # The restored data is patient data: a run that leaves a copy behind has not passed.
            problem = problem or "teardown left the sandbox in place"
            self._fail_late(f"restored data left at {path} ({problem}); remove it, or run drillbook "
                            "cleanup to retry")
        elif problem:
            self._fail_late(problem)
        if problem:
            raise PhaseFailed(problem)
        return "sandbox removed; its tmpfs unmounted with the namespace" if in_memory else "sandbox removed"

    def _report(self) -> str:
        return ", ".join(postrun.write_record_and_reports(self.outputs))

    # -- helpers --------------------------------------------------------------------
    def _save(self) -> None:
        """Write the record as it stands: ``running`` at the start, so a crash leaves a trace."""
        postrun.write_outputs(self.record, self.dir, self.drill, self.settings)

    def _restic_call(self, fn: Callable[..., Any], *args: Any, what: str, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ResticError as exc:
            raise self._restic_failed(exc, what) from None

    def _restic_failed(self, exc: ResticError, what: str) -> PhaseFailed:
        self.record.restic_stderr_tail = exc.stderr_tail
        source = ""
        if exc.kind == Fault.WRONG_PASSWORD:
            source = f"; the password came from {describe_source(self.drill.source.password, self.base)}"
        return PhaseFailed(f"{exc.message} (while {what} from {self.record.repository}{source})")

    @staticmethod
    def _need(value: T | None) -> T:
        """What an earlier phase made; a phase only runs when every earlier one passed."""
        if value is None:
            raise RuntimeError("an earlier phase did not leave what this phase needs")
        return value

    def _fail_late(self, reason: str) -> None:
        """A failure found after the drill stopped (teardown): added to whatever stopped it."""
        if self.record.status == Status.ABORTED:
            self.record.reason = "; ".join(r for r in (self.record.reason, reason) if r)
        self.failure = "; ".join(f for f in (self.failure, reason) if f)

    def _abort(self, reason: str) -> None:
        self.record.status = Status.ABORTED
        self.record.reason = reason
        self.failure = self.failure or reason

    # -- ending ---------------------------------------------------------------------
    def _conclude(self) -> None:
        """The verdict and its notifications, before the report is written."""
        objectives = self.record.objectives
        verdict.measure_rto(objectives["rto"], self.started_mono, self.checks_finished_mono)
        verdict.measure_rpo(objectives["rpo"], self.started, self.snapshot.time if self.snapshot else None)
        if self.record.status != Status.ABORTED:
            self.record.status = verdict.status(self.failure, objectives)
            self.record.reason = verdict.reason(self.failure, objectives)
        self.record.finished_at = iso(utc_now())
        postrun.notify(self.outputs)

    def _finish(self) -> DrillOutcome:
        postrun.after_outputs(self.outputs)  # writes the record again first: it now holds the report phase
        outcome = DrillOutcome(self.record.to_dict(), self.dir)
        self.observe("finish", self.drill.name, {"status": self.record.status,
                                                 "reason": self.record.reason,
                                                 "run_id": self.run_id, "dir": str(self.dir)})
        return outcome


__all__ = ["DeclaredDrill", "DrillOutcome", "DrillRun", "RunOptions", "run_drill"]
