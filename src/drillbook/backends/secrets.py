"""Resolve a repository password from its declared source without ever logging it.

Sources: ``env``, ``file``, ``aws_secret``, ``ssm``, and:

- ``command``: like restic's ``--password-command``: argv run without a shell, stdin empty,
  drillbook's environment (a vault client needs its token and address), killed after the source's
  ``timeout`` (30s unless given). The first line of its output is the password. Its output may
  hold the password even when it fails, so nothing it printed is logged or recorded: a failure
  names argv[0] and the exit code only. Which commands may run is decided in drillbook.yaml
  (``password_commands``, checked when the drills are loaded); here, before it runs, argv[0] must
  be a program no other account can change (owned by root or drillbook's account, not writable
  by group or others, in folders with the same rule: util/trust's rule for folders).
- ``credential``: a systemd credential, ``$CREDENTIALS_DIRECTORY/<name>`` (``LoadCredential=`` or
  ``LoadCredentialEncrypted=`` in the unit): the secret never sits in the environment or in a
  file other accounts could read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from drillbook.errors import PasswordError
from drillbook.spec.models import PasswordSource
from drillbook.util.lazy import lazy_module
from drillbook.util.process import run_bounded
from drillbook.util.trust import WRITABLE_BY_OTHERS, account, ancestor_problem

if TYPE_CHECKING:
    from drillbook.backends import aws
else:
    aws = lazy_module("drillbook.backends.aws")  # only passwords kept in AWS load it

COMMAND_OPTION = "password_commands in drillbook.yaml"


def resolve_password(source: PasswordSource, base_dir: Path) -> str:
    if source.env:
        value = os.environ.get(source.env)
        if not value:
            raise PasswordError(f"password variable {source.env} is not set")
        return value
    if source.file:
        path = password_file(source.file, base_dir)
        return read_secret_file(path, f"password file {path}")
    if source.aws_secret:
        return aws.secret_value(source.aws_secret, source.key)
    if source.ssm:
        return aws.ssm_parameter(source.ssm)
    if source.command:
        return from_command(source.command, source.command_timeout)
    if source.credential:
        return from_credential(source.credential)
    raise PasswordError("no password source given")


def password_file(file: str, base_dir: Path) -> Path:
    """A relative password file is relative to the drill's file, like every path in a drill."""
    path = Path(os.path.expanduser(file))
    return path if path.is_absolute() else base_dir / path


def describe_source(source: PasswordSource, base_dir: Path) -> str:
    """Which source gave the password, in words a person can check: kind and name, never the value."""
    if source.file:
        path = password_file(source.file, base_dir)
        return f"file {source.file}" + ("" if str(path) == source.file else f" (= {path})")
    if source.command:
        return f"command {source.command[0]}"
    name = {"env": source.env, "aws_secret": source.aws_secret, "ssm": source.ssm,
            "credential": source.credential}[source.kind]
    return f"{source.kind} {name}" + (f" key {source.key}" if source.key else "")


def read_secret_file(path: Path, what: str) -> str:
    try:
        value = path.read_text(encoding="utf-8").rstrip("\r\n")
    except FileNotFoundError:
        raise PasswordError(f"{what} does not exist") from None
    except OSError as exc:
        raise PasswordError(f"cannot read {what}: {exc.strerror}") from None
    if not value:
        raise PasswordError(f"{what} is empty")
    return value


def from_command(argv: list[str], timeout: float) -> str:
    """The first line of the command's output; a failure says only what ran and how it ended."""
    what = f"password command {argv[0]}"
    problem = program_problem(Path(argv[0]))
    if problem:
        raise PasswordError(f"{what} {problem}")
    try:
        done = run_bounded(argv, timeout=timeout)
    except OSError as exc:
        raise PasswordError(f"{what} cannot start: {exc.strerror or exc}") from None
    if done.timed_out:
        raise PasswordError(f"{what} did not finish within {timeout:g}s and was killed "
                            "(raise timeout: in source.password; the default is 30s)")
    if done.returncode != 0:
        raise PasswordError(f"{what} exited with {done.returncode} (what it printed is not shown: "
                            "it may hold the password; run it by hand to see why)")
    first = (done.stdout.splitlines() or [""])[0].rstrip("\r")
    if not first:
        raise PasswordError(f"{what} printed no password (the first line of its output is empty)")
    return first


def program_problem(program: Path) -> str | None:
    """Why drillbook must not run ``program`` (another account could change it); None if it may."""
    real = Path(os.path.realpath(program))
    try:
        info = real.stat()
    except OSError as exc:
        return f"cannot be run: {exc.strerror or exc}"
    if not stat.S_ISREG(info.st_mode):
        return "is not a program file"
    uid = os.geteuid()
    if info.st_uid not in (0, uid):
        return (f"belongs to {account(info.st_uid)}: that account could change what drillbook runs; "
                "use a program owned by root or by drillbook's account")
    if info.st_mode & WRITABLE_BY_OTHERS:
        who = " and ".join(w for w, bit in (("group", stat.S_IWGRP), ("world", stat.S_IWOTH)) if info.st_mode & bit)
        return f"is {who}-writable (mode {stat.S_IMODE(info.st_mode):04o}): chmod go-w {real}"
    problem = ancestor_problem(real, uid, COMMAND_OPTION)
    return f"{problem}" if problem else None


def from_credential(name: str) -> str:
    folder = os.environ.get("CREDENTIALS_DIRECTORY")
    if not folder:
        raise PasswordError(
            f"password credential {name}: $CREDENTIALS_DIRECTORY is not set, so drillbook was not "
            f"started by systemd with the credential: add LoadCredential={name}:/path/to/secret (or "
            f"LoadCredentialEncrypted={name}:...) to its unit, or use systemd-run -p LoadCredential=...")
    path = Path(folder) / name
    if not path.exists():
        raise PasswordError(f"password credential {name}: no credential {name} in {folder} "
                            f"(the unit needs LoadCredential={name}:... with that name)")
    return read_secret_file(path, f"password credential {name} ({path})")
