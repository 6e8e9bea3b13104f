"""Markdown runbook -> :class:`Runbook`, with every problem located at file:line, all at once.

The format stays plain Markdown so it reads well anywhere: YAML front matter, an optional
``#`` title and introduction, then one step per ``##`` heading. A step's ``sh``/``bash`` block
makes it a shell step, a ``drill`` block (one drill name per line) a drill step, neither a manual
step. ``<!-- timeout: 5m -->`` and ``<!-- optional -->`` comments tune a step. The body is read the
way GitHub and GitLab render it (markdown-it-py): headings inside code fences or HTML comments
are not steps, and nothing hidden from the reader runs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from drillbook.errors import SpecProblem
from drillbook.runbook.model import DRILL, MANUAL, SHELL, FrontMatter, Runbook, Step
from drillbook.spec.models import NAME_PATTERN, Duration
from drillbook.spec.problems import dedupe, duplicate_keys, validation_problems
from drillbook.spec.yamlsource import UnusableYaml, load_located
from drillbook.util.durations import DurationError
from drillbook.util.lazy import lazy_module

if TYPE_CHECKING:
    import markdown_it
    from markdown_it.token import Token
else:
    markdown_it = lazy_module("markdown_it")  # ~40 ms: only when a runbook is read

SHELL_LANGS = {"sh", "bash"}
COMMENT = re.compile(r"<!--\s*(timeout|optional)\b\s*:?\s*(.*?)\s*-->", re.IGNORECASE)
HTML_COMMENT = re.compile(r"<!--(.*?)-->", re.DOTALL)
ANNOTATION = re.compile(r"\s*(timeout|optional)\b\s*:?\s*(.*?)\s*", re.IGNORECASE | re.DOTALL)


@functools.cache
def markdown() -> markdown_it.MarkdownIt:
    """CommonMark's parser, built on the first runbook read (``validate`` without runbooks never pays it)."""
    return markdown_it.MarkdownIt("commonmark")


@dataclass
class Block:
    lang: str
    line: int  # line of the opening fence
    lines: list[tuple[int, str]] = field(default_factory=list)  # (line number, text)
    closed: bool = False


@dataclass
class Section:
    title: str
    line: int
    text: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    comments: list[tuple[int, str, str]] = field(default_factory=list)  # (line, key, value)


@dataclass
class RunbookSet:
    folder: Path
    runbooks: dict[str, Runbook] = field(default_factory=dict)
    problems: list[SpecProblem] = field(default_factory=list)


def load_runbooks(folder: Path) -> RunbookSet:
    """Every ``*.md`` of ``folder`` except README.md; a missing folder holds no runbooks."""
    result = RunbookSet(folder)
    if not folder.is_dir():
        return result
    for path in sorted(folder.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        runbook, problems = load_runbook(path)
        result.problems += problems
        if runbook is not None:
            result.runbooks[runbook.name] = runbook
    return result


def load_runbook(path: Path) -> tuple[Runbook | None, list[SpecProblem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [SpecProblem(path, None, "", f"cannot read: {exc}")]
    return parse_runbook(text, path)


def parse_runbook(text: str, path: Path) -> tuple[Runbook | None, list[SpecProblem]]:
    """Parse one runbook; return it only when it has no problem at all."""
    problems: list[SpecProblem] = []
    if not re.match(NAME_PATTERN, path.stem):
        problems.append(SpecProblem(path, None, "", f'"{path.stem}" is not a valid runbook name '
                                    "(rename the file: letters, digits, . _ - only)"))
    lines = text.splitlines()
    meta, body_start, meta_problems = _front_matter(lines, path)
    problems += meta_problems
    h1, intro, sections, fence_problems = _sections(lines, body_start, path)
    problems += fence_problems
    steps: list[Step] = []
    for number, section in enumerate(sections, start=1):
        step, step_problems = _step(number, section, path)
        problems += step_problems
        if step is not None:
            steps.append(step)
    if not sections:
        problems.append(SpecProblem(path, body_start + 1 if body_start < len(lines) else None, "",
                                    "no steps: every step is a '## ' heading followed by what to do"))
    if problems or meta is None:
        return None, problems
    title = meta.title or h1 or path.stem
    return Runbook(path.stem, path, meta, title, intro, tuple(steps)), []


def check_drills(runbooks: Iterable[Runbook], known: set[str]) -> list[SpecProblem]:
    """A ``drill`` block must name drills that exist; the line is the name's own."""
    problems = []
    for runbook in runbooks:
        for step in runbook.steps:
            for name, line in zip(step.drills, step.drill_lines, strict=True):
                if name not in known:
                    choices = ", ".join(sorted(known)) or "none"
                    problems.append(SpecProblem(runbook.path, line, "", f'{step.label()} names drill "{name}", '
                                                f"which does not exist (known drills: {choices})"))
    return problems


# -- front matter -----------------------------------------------------------------------
def _front_matter(lines: list[str], path: Path) -> tuple[FrontMatter | None, int, list[SpecProblem]]:
    """The front matter and the index of the first body line."""
    if not lines or lines[0].strip() != "---":
        return FrontMatter(), 0, []
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        return None, len(lines), [SpecProblem(path, 1, "", "front matter is not closed: add a line "
                                              "with --- after its last key")]
    try:
        located = load_located("\n".join(lines[1:end]), first_line=2)
    except UnusableYaml as exc:
        return None, end + 1, [SpecProblem(path, exc.line, "", exc.message, exc.column)]
    problems = duplicate_keys(path, located)
    data = located.data if located.data is not None else {}
    if not isinstance(data, dict):
        problems.append(SpecProblem(path, 2, "", f"front matter must be a mapping of keys, "
                                    f"found a {type(data).__name__}"))
        return None, end + 1, problems
    try:
        meta = FrontMatter.model_validate(data)
    except ValidationError as exc:
        problems += validation_problems(path, located, data, exc, hints=FrontMatter, default_line=2)
        return None, end + 1, dedupe(problems)
    return (meta if not problems else None), end + 1, problems


# -- body -------------------------------------------------------------------------------
def _sections(lines: list[str], start: int,
              path: Path) -> tuple[str, str, list[Section], list[SpecProblem]]:
    """Split the body at its top-level ``##`` headings, as a Markdown renderer sees them.

    markdown-it-py parses the body (CommonMark, the block structure GitHub and GitLab render), so
    nothing a reader cannot see becomes a step: a heading or a code block inside an HTML comment is
    part of that comment. Fenced blocks belong to the step they are in, at any depth (in a list item
    or a quote, their text is what the reader sees, without the indent or the ``>``). Token line maps
    are relative to the body: ``start`` turns them into the file's line numbers.
    """
    tokens = markdown().parse("\n".join(lines[start:]))
    h1, h1_lines, sections = "", range(0), []
    current: Section | None = None
    problems: list[SpecProblem] = []
    fenced: set[int] = set()  # file line numbers inside fences: their text is never an annotation
    for i, token in enumerate(tokens):
        if token.map is None:
            continue
        first, end = token.map[0] + start + 1, token.map[1] + start  # 1-based, inclusive
        if token.type == "heading_open" and token.level == 0 and token.tag in ("h1", "h2"):
            title = tokens[i + 1].content.strip()
            if token.tag == "h2":
                current = Section(title, first)
                sections.append(current)
            elif current is None and not h1:
                h1, h1_lines = title, range(first, end + 1)
        elif token.type == "fence":
            fenced.update(range(first, end + 1))
            if not _closed(token, lines[end - 1], first, end):
                problems.append(SpecProblem(path, first, "", f"code block opened with {token.markup} is never "
                                            "closed (add a closing fence)"))
            if current is not None:
                body = token.content.splitlines()
                current.blocks.append(Block(token.info.split()[0].lower() if token.info.strip() else "", first,
                                            [(first + 1 + n, text) for n, text in enumerate(body)], True))
        elif current is not None and token.type in ("html_block", "inline"):
            current.comments += _annotations(token, first)
    intro = [line for number, line in enumerate(lines[start:], start + 1)
             if number not in h1_lines and (not sections or number < sections[0].line)]
    for n, section in enumerate(sections):
        stop = sections[n + 1].line - 1 if n + 1 < len(sections) else len(lines)
        section.text = _readable(lines, section.line + 1, stop, fenced)
    return h1, "\n".join(intro).strip(), sections, problems


def _closed(token: Token, last_line: str, first: int, end: int) -> bool:
    """markdown-it closes a fence left open at the end of its container: tell the two apart."""
    fence = re.escape(token.markup[0]) + f"{{{len(token.markup)},}}"
    return end > first and re.fullmatch(r"[\s>]*" + fence + r"\s*", last_line) is not None


def _annotations(token: Token, first: int) -> list[tuple[int, str, str]]:
    """drillbook's ``<!-- timeout: 5m -->`` and ``<!-- optional -->``: whole comments only, in an
    HTML block or among a paragraph's text; a comment that merely mentions the word is not one."""
    found = []
    if token.type == "html_block":
        for match in HTML_COMMENT.finditer(token.content):
            line = first + token.content.count("\n", 0, match.start())
            found += [(line, *a) for a in _annotation(match.group(1))]
    else:
        line = first
        for child in token.children or []:
            if child.type in ("softbreak", "hardbreak"):
                line += 1
            elif child.type == "html_inline":
                for match in HTML_COMMENT.finditer(child.content):
                    found += [(line, *a) for a in _annotation(match.group(1))]
    return found


def _annotation(comment: str) -> list[tuple[str, str]]:
    match = ANNOTATION.fullmatch(comment)
    return [(match.group(1).lower(), match.group(2))] if match else []


def _readable(lines: list[str], first: int, last: int, fenced: set[int]) -> list[str]:
    """The step's Markdown as the operator reads it: drillbook's one-line comments taken out."""
    out = []
    for number in range(first, last + 1):
        line = lines[number - 1]
        if number not in fenced:
            stripped = COMMENT.sub("", line)
            if stripped != line and not stripped.strip():
                continue  # a line that held only a drillbook comment
            line = stripped.rstrip() if stripped != line else line
        out.append(line)
    return out


def _step(number: int, section: Section, path: Path) -> tuple[Step | None, list[SpecProblem]]:
    problems: list[SpecProblem] = []
    where = f'step {number} "{section.title}"'
    if not section.title:
        problems.append(SpecProblem(path, section.line, "", f"step {number} has an empty heading"))
    shell = [b for b in section.blocks if b.lang in SHELL_LANGS]
    drill = [b for b in section.blocks if b.lang == DRILL]
    for block in shell + drill:
        if not any(text.strip() for _, text in block.lines):
            problems.append(SpecProblem(path, block.line, "", f"{where}: empty ```{block.lang} block "
                                        "(write the commands to run, or remove the block)"))
    if shell and drill:
        problems.append(SpecProblem(path, drill[0].line, "", f"{where} has both a shell and a drill "
                                    "block: split it into two steps"))
    kind = DRILL if drill else SHELL if shell else MANUAL
    script = "\n\n".join("\n".join(t for _, t in b.lines) for b in shell)
    names: list[str] = []
    name_lines: list[int] = []
    for block in drill:
        for line, text in block.lines:
            name = text.strip()
            if not name or name.startswith("#"):
                continue
            if not re.match(NAME_PATTERN, name):
                problems.append(SpecProblem(path, line, "", f'{where}: "{name}" is not a drill name '
                                            "(one name per line)"))
            names.append(name)
            name_lines.append(line)
    timeout, optional = None, False
    for line, key, value in section.comments:
        if key == "optional":
            optional = True
            if kind != MANUAL:
                problems.append(SpecProblem(path, line, "", f"{where}: <!-- optional --> applies to "
                                            "manual steps only (an automated step must pass)"))
        elif kind != SHELL:
            problems.append(SpecProblem(path, line, "", f"{where}: <!-- timeout --> applies to "
                                        "shell steps only"))
        else:
            try:
                timeout = Duration(value)
            except DurationError as exc:
                problems.append(SpecProblem(path, line, "", f"{where}: <!-- timeout --> {exc}"))
    if problems:
        return None, problems
    text = "\n".join(section.text).strip()
    return Step(number, section.title, kind, text, section.line, script, tuple(names),
                tuple(name_lines), timeout, optional), []
