"""The text of a first drill for one group of snapshots, as ``drillbook init`` writes it.

What the repository told is filled in (where it is, where its password is, which host and path,
how many files a restore of that path holds); what only people can decide (the objectives, the
checks that prove the data is usable) is a placeholder with a comment saying so, and every kind of
check follows as a commented example generated from the models. The host and the paths come from
the backed-up host and may hold anything: each is written as a YAML scalar that reads back as
itself (:mod:`drillbook.spec.yamltext`).
"""

from __future__ import annotations

from dataclasses import dataclass

from drillbook.spec.examples import commented_examples
from drillbook.spec.yamltext import flow, scalar

PLACEHOLDER_RTO = "4h"
PLACEHOLDER_RPO = "26h"  # a nightly backup, and two hours for it to finish


@dataclass(frozen=True)
class FirstDrill:
    """What a first drill says; ``min_count`` is None when the snapshot's files were not counted."""

    name: str
    repository: str
    password_file: str
    host: str
    path: str  # the snapshot path the selector names
    snapshot: str  # short id, for the comments
    restored: str  # where that path lies below the restore root: the files check's path
    min_count: int | None


def render(first: FirstDrill, write_name: bool = False) -> str:
    """The drill file's text; it loads as written (``drillbook init`` checks that before writing).

    ``write_name``: the file's stem is not the drill's name, so the name is written in it.
    """
    where = f"{_one_line(first.host)}:{_one_line(first.path)}"
    lines = [
        f"# A first drill for the snapshots of {where}, written by drillbook init.",
        "# Set the objectives, add the checks that prove the data is usable (examples below), then:",
        f"#   drillbook validate {first.name} && drillbook run {first.name}",
        "# Every field: drillbook schema --markdown.",
        *([f"name: {first.name}"] if write_name else []),
        f"description: {flow(f'Restore of {first.host}:{first.path}')}",
        'owner: ""  # who answers for this recovery (a team address)',
        "objectives:",
        "  # Placeholders: the longest a restore may take (rto) and the oldest the newest backup may",
        "  # be (rpo). Set the targets agreed for this service.",
        f"  rto: {PLACEHOLDER_RTO}",
        f"  rpo: {PLACEHOLDER_RPO}",
        "source:",
        f"  repository: {scalar(first.repository)}",
        f"  password: {{file: {scalar(first.password_file)}}}",
        f"  snapshot: {{host: {scalar(first.host)}, path: {scalar(first.path)}}}",
        "verify:",
        f"  # {_count_comment(first)}",
        "  - type: files",
        f"    path: {scalar(first.restored)}",
        f"    min_count: {first.min_count if first.min_count is not None else 1}",
        "  # More checks: uncomment one (remove one # from each of its lines) and set its values.",
        "  #",
    ]
    return "\n".join(lines) + "\n" + commented_examples("  ")


def _count_comment(first: FirstDrill) -> str:
    if first.min_count is None:
        return ("min_count 1: the snapshot was not listed (too large to list here): set path to the "
                "restored folder and min_count to the files it should hold.")
    return (f"min_count {first.min_count}: the files and links snapshot {first.snapshot} holds there "
            "(lower it if files may go away).")


def _one_line(text: str) -> str:
    """A host or path inside a comment: the quoted form when it holds anything but plain text."""
    shown = scalar(text)
    return shown if shown == text else shown[1:-1]
