"""Checks: one module per kind behind :func:`run_check`."""

from drillbook.checks.base import CheckContext, run_check

__all__ = ["CheckContext", "run_check"]
