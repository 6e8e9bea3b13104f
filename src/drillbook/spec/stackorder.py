"""The order a drill's services start in, and why a declared order cannot be followed.

Services start in waves: every service whose ``after:`` names only services of earlier waves
starts in the next one (the services of one wave do not depend on each other). A name ``after:``
does not declare, or a cycle, makes no order at all: the spec is refused at that line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class OrderProblem:
    """Why ``service``'s ``after:`` (item ``index``, when one item is at fault) cannot be followed."""

    service: str
    index: int | None
    message: str


def order_problems(after: Mapping[str, Sequence[str]]) -> list[OrderProblem]:
    """Unknown names first (each at its item); else the first cycle found, at its first service."""
    unknown = [OrderProblem(name, i, f'"{dep}" is not a service of this drill (declared: '
                                     f"{', '.join(after)})")
               for name, deps in after.items() for i, dep in enumerate(deps) if dep not in after]
    unknown += [OrderProblem(name, i, f"{name} cannot start after itself")
                for name, deps in after.items() for i, dep in enumerate(deps) if dep == name]
    if unknown:
        return unknown
    cycle = _cycle(after)
    if cycle:
        return [OrderProblem(cycle[0], None, "a dependency cycle, so no service of it could ever "
                                             f"start: {' -> '.join(cycle)} (drop one of these after: entries)")]
    return []


def start_waves(after: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """The services in start order, wave by wave, each wave in declaration order."""
    problems = order_problems(after)
    if problems:
        raise ValueError(problems[0].message)
    started: set[str] = set()
    waves = []
    while len(started) < len(after):
        wave = [n for n, deps in after.items() if n not in started and set(deps) <= started]
        waves.append(wave)
        started.update(wave)
    return waves


def _cycle(after: Mapping[str, Sequence[str]]) -> list[str] | None:
    """One cycle as a path that returns to its start (``a -> b -> a``), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for dep in after.get(name, ()):
            if state.get(dep) == 1:
                return [*path[path.index(dep):], dep]
            if dep not in state and (found := visit(dep)):
                return found
        state[name] = 2
        path.pop()
        return None

    for name in after:
        if name not in state and (found := visit(name)):
            return found
    return None
