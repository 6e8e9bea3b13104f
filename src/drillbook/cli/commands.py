"""The table of drillbook's commands: where each lives and its one-line help.

A command's module is imported when that command runs (click's documented lazy-group pattern),
so ``drillbook --help`` and ``drillbook run`` load only what they use: importing every command
pulls in pydantic, boto3, cryptography, jinja2 and APScheduler, seconds on a busy host before
restic is even started. The help lines are kept here so ``--help`` needs no command's module;
a unit test keeps them equal to the commands' own.
"""

from __future__ import annotations

#: name -> ("module:attribute", the command's short help)
COMMANDS: dict[str, tuple[str, str]] = {
    "cleanup": ("drillbook.cli.cleanup:cleanup_command",
                "Kill what crashed runs left running, remove their sandboxes, mark them aborted."),
    "completion": ("drillbook.cli.completion:completion_command",
                   "Print the completion script for SHELL; drill and runbook names complete from their folders."),
    "coverage": ("drillbook.cli.coverage:coverage_command",
                 "List the snapshot groups (host, paths, tags) of the drills' repositories that no drill selects."),
    "dispatch": ("drillbook.cli.sites:dispatch_command",
                 "Run drills NAMES now on their sites' workers; with --wait, exit as run does."),
    "evidence": ("drillbook.cli.evidence:evidence_group",
                 "Tamper-evident evidence: verify the signed ledger, export a bundle, show the key."),
    "init": ("drillbook.cli.init:init_command",
             "Write a first drill for the newest snapshot of one host and path: objectives to set, a files "
             "check of the restored path, and every other kind of check as a commented example."),
    "list": ("drillbook.cli.drills:list_command", "List declared drills with their objectives and last run."),
    "paths": ("drillbook.cli.paths:paths_command",
              "Show each folder drillbook uses, why, and whether it exists and is writable."),
    "plan": ("drillbook.cli.plan:plan_command",
             "Show what running drills NAMES would restore and check, without restoring or recording anything."),
    "report": ("drillbook.cli.evidence:report_cmd",
               "Write the period compliance report (compliance-<period>.html, .md, .json) in the reports folder."),
    "run": ("drillbook.cli.drills:run_command", "Run drills NAMES (or --all) now; exit 0 only when every one passed."),
    "runbook": ("drillbook.cli.runbook:runbook_group",
                "Executable runbooks: the recovery procedure people read, run step by step and recorded."),
    "schedule": ("drillbook.cli.serve:schedule_command",
                 "Each drill's schedule, next run (UTC and the drill's zone), last run, and overdue flag."),
    "schema": ("drillbook.cli.schema:schema_command",
               "Print the drill spec: JSON Schema, or with --markdown the field reference."),
    "serve": ("drillbook.cli.serve:serve_command",
              "Run the declared drills on their schedules until SIGTERM/SIGINT (exit 0)."),
    "validate": ("drillbook.cli.drills:validate_command",
                 "Check drill files (all, or NAMES) and runbooks; report every problem of every file at once."),
    "worker": ("drillbook.cli.sites:worker_command",
               "Run the drills of one site as they are dispatched, until stopped (a Celery worker)."),
    "workers": ("drillbook.cli.sites:workers_command",
                "Workers online, their sites, concurrency and runs; sites with drills but no worker are problems."),
}
