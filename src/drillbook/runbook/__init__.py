"""Executable runbooks: Markdown people read, which drillbook walks through step by step.

``parser`` turns ``runbooks/<name>.md`` into a :class:`model.Runbook` (errors with file:line),
``executor`` runs its steps, ``record`` keeps the run record (and its resume point), ``render``
writes the reports. Nothing here prints except the presentation helpers the CLI injects
(``confirm``, ``progress``).
"""
