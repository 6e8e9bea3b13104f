"""Checks: one module per kind, listed in :mod:`drillbook.checks.kinds`, run by its ``run_check``.

Nothing is imported here, so that the spec can read :mod:`drillbook.checks.expectations` (and
the sandboxed reader its own modules) without loading every check kind.
"""
