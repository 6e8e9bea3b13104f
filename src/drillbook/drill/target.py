"""A drill as the engine runs it, kept apart from the engine so that ``list`` and ``plan`` can
name a drill's folder without importing the engine (and all it needs to restore and report)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from drillbook.spec.models import Drill, ProjectConfig


@dataclass(frozen=True)
class DeclaredDrill:
    """A drill as declared: its spec, its file (paths in it are relative to the file's folder),
    and the project's ``drillbook.yaml`` shared by every drill (notify, evidence)."""

    drill: Drill
    file: Path | None = None
    project: ProjectConfig | None = None

    def folder(self, drills_dir: Path) -> Path:
        """Where its relative paths (repository, password file) start: its file's folder, or the
        drills folder for a drill declared without a file."""
        return self.file.parent if self.file else drills_dir
