"""How manual steps get confirmed: by a person at a terminal, by stdin lines, or by ``--yes``.

Never hang: without a terminal, answers come from stdin lines and end of input means *not
confirmed*. ``--yes`` confirms without asking and the record says so (confirmed by ``--yes``,
not by a person).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from drillbook.runbook.model import Runbook, Step
from drillbook.util.clock import iso, utc_now

YES, NO, SKIP = "y", "n", "s"


@dataclass
class Answer:
    choice: str  # y, n or s
    by: str  # who confirmed: the operator, or "--yes"
    via: str  # terminal, stdin or --yes
    at: str
    reason: str = ""


class YesConfirmer:
    """``--yes``: rehearsals and automation. Nobody looked at the step; the record says so."""

    via = "--yes"

    def ask(self, runbook: Runbook, step: Step, operator: str) -> Answer:
        return Answer(YES, "--yes", self.via, iso(utc_now()) or "")


class LineConfirmer:
    """Asks on ``prompt_to`` and reads answers line by line; ``None`` from ``read`` is end of input."""

    def __init__(self, read: Callable[[], str | None], prompt_to: TextIO, via: str):
        self.read = read
        self.out = prompt_to
        self.via = via

    def ask(self, runbook: Runbook, step: Step, operator: str) -> Answer:
        choices = "y = done, n = not done" + (", s = skip (optional step)" if step.optional else "")
        while True:
            self._say(f"Confirm {step.label()} is done, {operator}? [{choices}] ")
            line = self.read()
            if self.via == "stdin":
                self._say((line or "").strip() + "\n")  # echo: the log reads like the dialogue
            if line is None:
                self._say("(end of input: not confirmed)\n")
                return self._answer(NO, operator, "end of input: not confirmed")
            choice, _, rest = line.strip().partition(" ")
            choice = choice.lower()[:1]
            if choice == YES:
                return self._answer(YES, operator)
            if choice == NO:
                why = rest.strip() or self._ask_reason("Reason it is not done: ")
                said = f": {why}" if why else " (no reason given: end of input)"
                return self._answer(NO, operator, f"{operator} answered not done{said}")
            if choice == SKIP and step.optional:
                reason = rest.strip() or self._ask_reason("Reason for skipping: ")
                if reason is None:
                    return self._answer(NO, operator, "end of input: no reason to skip; not confirmed")
                return self._answer(SKIP, operator, reason)
            elif choice == SKIP:
                self._say("this step is not optional: it cannot be skipped\n")
            else:
                self._say(f"please answer {choices}\n")

    def _ask_reason(self, prompt: str) -> str | None:
        """A skip or a decline needs a reason: ask until one comes or the input ends."""
        while True:
            self._say(prompt)
            line = self.read()
            if line is None or line.strip():
                return None if line is None else line.strip()

    def _answer(self, choice: str, operator: str, reason: str = "") -> Answer:
        return Answer(choice, operator, self.via, iso(utc_now()) or "", reason)

    def _say(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


def stream_reader(stream: TextIO) -> Callable[[], str | None]:
    def read() -> str | None:
        line = stream.readline()
        return line if line else None

    return read


def choose(yes: bool, stdin: TextIO | None = None, prompt_to: TextIO | None = None) -> YesConfirmer | LineConfirmer:
    """``--yes``, else the terminal when stdin is one, else stdin lines."""
    if yes:
        return YesConfirmer()
    stdin = stdin or sys.stdin
    via = "terminal" if stdin.isatty() else "stdin"
    return LineConfirmer(stream_reader(stdin), prompt_to or sys.stderr, via)
