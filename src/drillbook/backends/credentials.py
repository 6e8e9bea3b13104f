"""What restic gets to reach a repository's storage: its own module, so that a run of a local
repository, which gets none, does not load the AWS backend (botocore's errors) to say so."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ResticCredentials:
    """What restic gets to reach an S3 repository, and the record's words for where it came from.

    ``env`` goes to every restic; ``account_env`` only to a restic run as the sandbox account,
    which cannot read drillbook's own credentials file (the file's long-lived keys, not a session).
    """

    env: dict[str, str] = field(default_factory=dict)
    account_env: dict[str, str] = field(default_factory=dict)
    described: str | None = None
