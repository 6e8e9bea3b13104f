"""What a runbook is once parsed: front matter plus an ordered list of steps.

The front matter is declared as a strict pydantic model (like the drill spec) so that a typo in a
key or a duration is an error with its line, never silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field

from drillbook.spec.models import Duration, DurationValue, Env, Strict

MANUAL, SHELL, DRILL = "manual", "shell", "drill"
DEFAULT_STEP_TIMEOUT = "30m"


class RunbookObjectives(Strict):
    rto: DurationValue | None = Field(None, description="Longest acceptable time for the whole runbook.")


class FrontMatter(Strict):
    """The YAML between the leading ``---`` lines of a runbook."""

    title: str = Field("", description="Shown in reports; defaults to the first # heading.")
    owner: str = Field("", description="Who keeps this runbook true.")
    objectives: RunbookObjectives = Field(default_factory=RunbookObjectives)
    env: Env = Field(default_factory=dict,
                     description="Passed to shell steps; loader variables such as LD_PRELOAD are refused.")
    timeout: DurationValue = Field(default_factory=lambda: Duration(DEFAULT_STEP_TIMEOUT),
                                   description="Default timeout of each shell step.")


@dataclass(frozen=True)
class Step:
    """One ``##`` section. ``kind`` follows from its code blocks: shell, drill, or manual."""

    index: int  # 1-based, as people count steps
    title: str
    kind: str
    text: str  # the Markdown an operator reads (without drillbook's comments)
    line: int
    script: str = ""
    drills: tuple[str, ...] = ()
    drill_lines: tuple[int, ...] = ()  # where each drill is named, for errors
    timeout: Duration | None = None  # from <!-- timeout: 5m -->
    optional: bool = False

    def label(self) -> str:
        return f"step {self.index} \"{self.title}\""


@dataclass(frozen=True)
class Runbook:
    name: str
    path: Path
    meta: FrontMatter
    title: str
    intro: str
    steps: tuple[Step, ...] = field(default_factory=tuple)

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def rto(self) -> Duration | None:
        return self.meta.objectives.rto

    def step_timeout(self, step: Step) -> Duration:
        return step.timeout if step.timeout is not None else self.meta.timeout

    def drill_names(self) -> list[str]:
        names: list[str] = []
        for step in self.steps:
            names += [n for n in step.drills if n not in names]
        return names

    def counts(self) -> dict[str, int]:
        out = {MANUAL: 0, SHELL: 0, DRILL: 0}
        for step in self.steps:
            out[step.kind] += 1
        return out

    def find_step(self, ref: str) -> Step | None:
        """A step by its number or its exact (case-insensitive) title."""
        if ref.isdigit():
            index = int(ref)
            return self.steps[index - 1] if 1 <= index <= len(self.steps) else None
        matches = [s for s in self.steps if s.title.lower() == ref.strip().lower()]
        return matches[0] if len(matches) == 1 else None
