"""Checks: one module per kind, listed in :mod:`drillbook.checks.kinds`, run by :func:`run_check`."""

from drillbook.checks.base import CheckContext
from drillbook.checks.kinds import run_check

__all__ = ["CheckContext", "run_check"]
