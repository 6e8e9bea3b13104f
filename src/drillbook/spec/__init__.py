"""Drill specs: the models users write, loaded with every error located at file:line."""

from drillbook.spec.loader import DrillSet, load_drill, load_drills
from drillbook.spec.models import Drill

__all__ = ["Drill", "DrillSet", "load_drill", "load_drills"]
