"""How ``drillbook`` logs, from ``--log-format``/``--log-level``/``-v`` or the environment.

Defaults keep each command as people and programs knew it: text at ``warning`` for a command
run by hand; ``drillbook serve`` writes logfmt at ``info`` (its events are its output). A
structured format (logfmt, json) defaults to ``info``: the run's progress is then info records,
so that every stderr line is one a program can parse.
"""

from __future__ import annotations

import click

from drillbook.util.logformat import ENV_FORMAT, ENV_LEVEL, FORMATS, LEVELS, LOGFMT, TEXT, LogSetup

SERVE = "serve"

log_format_option = click.option(
    "--log-format", type=click.Choice(FORMATS, case_sensitive=False), envvar=ENV_FORMAT,
    show_envvar=True, help="Log lines on stderr as text, logfmt or json (one record a line) "
                           "[default: text; logfmt for serve].")
log_level_option = click.option(
    "--log-level", type=click.Choice(tuple(LEVELS), case_sensitive=False), envvar=ENV_LEVEL,
    show_envvar=True, help="Least severe level logged [default: warning; info for serve and with logfmt/json].")


def log_setup(command: str | None, form: str | None, level: str | None, verbose: bool) -> LogSetup:
    """What was asked for, else the command's default; ``-v`` is ``--log-level debug``."""
    chosen = (form or (LOGFMT if command == SERVE else TEXT)).lower()
    if verbose:
        return LogSetup(chosen, "debug")
    quiet = command != SERVE and chosen == TEXT
    return LogSetup(chosen, (level or ("warning" if quiet else "info")).lower())
