"""What a drill's ``source.repository`` string means: where it is, how to show it, what it needs.

Why its own module: the same string is resolved against the drill's file, shown in records with
its credentials hidden, given a cache when it is remote, and given the environment and a fast
reachability probe of its storage backend. Those rules belong to the backends, not to the engine
that only asks for them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from drillbook.backends.credentials import ResticCredentials
from drillbook.util.lazy import lazy_module

if TYPE_CHECKING:
    from drillbook.backends import aws
else:
    aws = lazy_module("drillbook.backends.aws")  # botocore's errors, the audit: only for s3: repositories

REMOTE_PREFIXES = ("s3:", "sftp:", "rest:", "b2:", "azure:", "gs:", "rclone:", "swift:")
SCHEME_PREFIXES = (*REMOTE_PREFIXES, "local:")

Probe = Callable[[], str | None]


def resolve_repository(repository: str, base: Path) -> str:
    """A relative local path is relative to the drill's file, like every path in a drill."""
    if repository.startswith(SCHEME_PREFIXES) or Path(repository).is_absolute():
        return repository
    return str((base / repository).resolve())


def local_path(repository: str) -> Path | None:
    """Where a local repository lies (its files are read directly), None for a remote backend."""
    if repository.startswith(REMOTE_PREFIXES):
        return None
    return Path(repository.removeprefix("local:")).absolute()


def display_repository(repository: str) -> str:
    """Repository strings may embed credentials (rest:https://user:pass@host/): hide them."""
    return re.sub(r"//([^/@:]+):[^/]*@", r"//\1:***@", repository)  # up to the last @: p@ss


def shown_repository(repository: str, base: Path) -> str:
    """How a repository is shown to people: credentials hidden, and a relative local path
    followed by where it resolves to (relative to the drill file's folder ``base``)."""
    shown = display_repository(repository)
    resolved = resolve_repository(repository, base)
    return shown if resolved == repository else f"{shown} (= {resolved})"


def cache_dir(repository: str, cache: Path) -> Path | None:
    """Local repositories need no cache; remote ones get drillbook's cache folder (Settings.cache_dir:
    cache/ in the state folder unless ``--cache``, ``DRILLBOOK_CACHE`` or systemd's CacheDirectory=)."""
    if repository.startswith(REMOTE_PREFIXES):
        return cache
    return None


def backend_environment(repository: str) -> tuple[ResticCredentials, Probe | None]:
    """restic's credentials for the backend, and a fast reachability probe (its problem, or None)."""
    if repository.startswith("s3:"):
        return aws.restic_environment(repository), lambda: aws.probe_repository(repository)
    return ResticCredentials(), None
