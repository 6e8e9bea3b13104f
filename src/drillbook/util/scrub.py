"""The one rule for what a secret is, and the one way to keep secrets out of what we write.

Secrets are values, not names: a password read from a file, a token in an environment variable
whose name says it is secret, AWS credentials handed to restic. Anything that reaches a record,
a report, a log or a notification passes through :class:`Scrubber` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MASK = "***"
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_KEY", re.I)
MIN_NAMED_SECRET = 4  # shorter values of secret-named variables would mask ordinary words


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values of variables whose names say they are secret."""
    return [v for k, v in env.items() if is_secret_name(k) and len(v) >= MIN_NAMED_SECRET]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***``; longest first, so masks never nest wrong."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


class Scrubber:
    """The secrets of one run, collected as they become known, applied to everything written."""

    def __init__(self, secrets: Iterable[str] = ()):
        self.secrets: list[str] = [s for s in secrets if s]

    def add(self, *secrets: str) -> None:
        self.secrets += [s for s in secrets if s and s not in self.secrets]

    def add_env(self, env: Mapping[str, str]) -> None:
        self.add(*secret_values(env))

    def __call__(self, text: str) -> str:
        return scrub(text, self.secrets)

    def tail(self, text: str, lines: int = 15, width: int = 400) -> list[str]:
        """The last non-empty ``lines`` of ``text``, scrubbed and cut to ``width``."""
        kept = [line.rstrip() for line in text.splitlines() if line.strip()]
        return [self(line)[:width] for line in kept[-lines:]]
