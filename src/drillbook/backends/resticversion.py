"""Which restic runs, and what that version lets drillbook ask of it.

drillbook supports Debian 12's restic 0.14 to Debian 13's 0.18. Newer ones say more, and say it
better: exit codes for a missing repository, a lock and a wrong password (0.17.0; 12 since
0.17.1), restore progress and counts as JSON (0.17.0; its errors as JSON too since 0.17.1), a
timeout after which a stuck request to remote storage is retried (``--stuck-request-timeout``,
0.17.1). Older ones get what 0.14 understood, and their stderr is read instead.

``restic version`` is read once per process and binary: every call of a drill asks the same restic,
and ``drillbook serve`` runs each drill in its own ``drillbook run``, which reads it afresh.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

VERSION = re.compile(r"restic (\d+\.\d+\.\d+\S*)")  # in what `restic version` prints
_NUMBERS = re.compile(r"^(\d+(?:\.\d+)*)")

EXIT_CODES_SINCE = (0, 17, 0)
RESTORE_JSON_SINCE = (0, 17, 0)
STUCK_REQUEST_TIMEOUT_SINCE = (0, 17, 1)


def parse_version(text: str) -> tuple[int, ...] | None:
    """``0.17.3-dev`` is (0, 17, 3): compared as numbers, so 0.9 comes before 0.14."""
    match = _NUMBERS.match(text.strip())
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def version_in(output: str) -> str | None:
    """The version in what ``restic version`` printed, else None."""
    match = VERSION.search(output)
    return match.group(1) if match else None


@dataclass(frozen=True)
class Features:
    """What the restic of ``version`` understands; an unknown version is treated like 0.14."""

    version: str | None
    exit_codes: bool = False
    restore_json: bool = False
    stuck_request_timeout: bool = False

    @classmethod
    def of(cls, version: str | None) -> Features:
        number = parse_version(version or "") or ()
        return cls(version, exit_codes=number >= EXIT_CODES_SINCE, restore_json=number >= RESTORE_JSON_SINCE,
                   stuck_request_timeout=number >= STUCK_REQUEST_TIMEOUT_SINCE)


class VersionCache:
    """restic's version by binary path, for the life of this process."""

    def __init__(self) -> None:
        self._versions: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, binary: str) -> str | None:
        with self._lock:
            return self._versions.get(binary)

    def put(self, binary: str, version: str) -> None:
        with self._lock:
            self._versions[binary] = version


VERSIONS = VersionCache()
