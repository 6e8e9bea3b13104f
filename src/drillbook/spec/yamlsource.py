"""YAML loading that remembers where every key and value came from, and refuses what could hurt.

Errors must name the line and column (``drills/portal.yaml:7:5``), so we keep a map from each
data path (``("verify", 0, "path")``) to its 1-based line and column, read from the nodes that
libyaml composes (in C: PyYAML's pure-Python loader took seconds for a thousand drills).

A drill may come from a less trusted colleague, so reading one must stay cheap whatever it holds:
files over :data:`MAX_FILE_BYTES` are refused before parsing; anchors and aliases are refused from
the parser's events before any node is built, so nothing is ever expanded (a few hundred bytes of
nested aliases, a "billion laughs", would otherwise become gigabytes here and in validation);
nesting deeper than :data:`MAX_DEPTH` is refused before anything recurses in Python (libyaml
itself stops at 1,000 levels). None of them has a use in a drill.
"""

from __future__ import annotations

import os
import re
import stat
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drillbook.spec.yamlschema import CoreSchemaCLoader
from drillbook.util.restored import kind_of

STR = "tag:yaml.org,2002:str"

Path_ = tuple[Any, ...]

MIB = 1024 * 1024
MAX_FILE_BYTES = MIB
MAX_DEPTH = 64  # a drill nests about six levels deep
TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep (no drill needs more than a few)"
#: libyaml's scanner looks ahead through flow collections ([[[...) and stops at its own limit first
LIBYAML_TOO_DEEP = "maximum nesting depth"
NO_ALIASES = "YAML anchors and aliases are not supported in drillbook files"


class Refused(yaml.YAMLError):
    """Raised while composing: what is refused, and where."""

    def __init__(self, mark: Any, message: str):
        super().__init__(message)
        self.line = mark.line if mark is not None else None  # 0-based, as yaml counts
        self.column = mark.column if mark is not None else None
        self.message = message


#: libyaml reads an anchor or alias name only as letters, digits, "-" and "_": a text without this
#: pattern has neither (a cron schedule's "* * *" is not one)
MAYBE_ANCHOR = re.compile(r"[&*][0-9A-Za-z_-]")


def screen(text: str) -> None:
    """Refuse aliases as soon as one is met (never expanded), nesting deeper than
    :data:`MAX_DEPTH`, and once the whole text is read the first anchor without an alias: from
    libyaml's events one by one, before any node is built.
    """
    depth = 0
    first_anchor: tuple[str, Any] | None = None
    loader = CoreSchemaCLoader(text)
    try:
        while (event := loader.get_event()) is not None:
            if isinstance(event, yaml.AliasEvent):
                raise Refused(event.start_mark, f"alias *{event.anchor}: {NO_ALIASES}; write the value "
                              f"out in full here instead of *{event.anchor}")
            anchor = getattr(event, "anchor", None)
            if anchor is not None and first_anchor is None:
                first_anchor = (anchor, event.start_mark)
            if isinstance(event, yaml.CollectionStartEvent):
                if depth >= MAX_DEPTH:
                    raise Refused(event.start_mark, TOO_DEEP)
                depth += 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    finally:
        loader.dispose()
    if first_anchor is not None:
        name, where = first_anchor
        raise Refused(where, f"anchor &{name}: {NO_ALIASES}; remove the anchor and write "
                      "the value out in full wherever it is needed")


@dataclass
class LocatedYaml:
    """Parsed data plus the line and column (both 1-based) of every path in it."""

    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    columns: dict[Path_, int] = field(default_factory=dict)
    duplicates: list[tuple[Path_, int, int]] = field(default_factory=list)

    def line_of(self, path: Path_) -> int | None:
        """Line of ``path``, or of its nearest ancestor that has one."""
        return self.position_of(path)[0]

    def position_of(self, path: Path_) -> tuple[int | None, int | None]:
        """Line and column of ``path``, or of its nearest ancestor that has them."""
        path = tuple(path)
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path), self.columns.get(path)

    def place(self, path: Path_, mark: Any, first_line: int) -> None:
        self.lines[path] = mark.line + first_line
        self.columns[path] = mark.column + 1


class UnusableYaml(ValueError):
    """Why a YAML text cannot be used, at its 1-based line when there is one."""

    def __init__(self, line: int | None, message: str, column: int | None = None):
        super().__init__(message)
        self.line = line
        self.column = column  # 1-based, as editors count
        self.message = message


class YamlSyntaxError(UnusableYaml):
    """Not YAML at all."""


class YamlNotSupported(UnusableYaml):
    """YAML, but something drillbook refuses: anchors, aliases, absurd nesting."""


class YamlTooLarge(UnusableYaml):
    """A file over :data:`MAX_FILE_BYTES`, refused unread."""


def load_located(text: str, first_line: int = 1) -> LocatedYaml:
    """Parse ``text`` safely; ``first_line`` offsets lines (front matter inside Markdown)."""
    loader = CoreSchemaCLoader(text)
    located = LocatedYaml(data=None)
    try:
        if MAYBE_ANCHOR.search(text):
            screen(text)
        else:
            with suppress(Unusual):
                return from_events(text, first_line)
        node = loader.get_single_node()
        if node is not None:
            _walk(node, (), located, first_line)  # refuses deep nesting before anything recurses in Python
        located.data = loader.construct_document(node) if node is not None else None
    except Refused as exc:
        line = exc.line + first_line if exc.line is not None else None
        column = exc.column + 1 if exc.column is not None else None
        raise YamlNotSupported(line, exc.message, column) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if LIBYAML_TOO_DEEP in str(exc.problem):
            raise YamlNotSupported(mark.line + first_line if mark else None, TOO_DEEP,
                                   mark.column + 1 if mark else None) from None
        line = mark.line + first_line if mark else None
        raise YamlSyntaxError(line, f"YAML syntax error: {exc.problem or exc}",
                              mark.column + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(None, f"YAML syntax error: {exc}") from None
    finally:
        loader.dispose()
    return located


class Unusual(Exception):
    """Something :func:`from_events` leaves to the composer: an explicit tag, a key that is no
    plain text, more than one document."""


@dataclass
class _Open:
    """A mapping or list being filled, at ``path``; a mapping's key waiting for its value."""

    value: Any
    path: Path_
    key: Any = None
    key_text: str | None = None
    seen: set[Any] = field(default_factory=set)


def from_events(text: str, first_line: int = 1) -> LocatedYaml:
    """The data and its positions in one pass over libyaml's events, without building nodes.

    Composing nodes calls PyYAML's resolver in Python three times per node; a thousand drills
    spent most of their load time there. Plain scalars resolve here by the same core schema
    (:data:`CORE_SCHEMA` via the loader's own resolvers and constructors), and positions follow
    the same rules as :func:`_walk`. The caller has screened out anchors and aliases; what is
    unusual raises :class:`Unusual` and is composed the ordinary way.
    """
    loader = CoreSchemaCLoader(text)
    out = LocatedYaml(data=None)
    stack: list[_Open] = []
    documents = 0
    try:
        while True:
            event: Any = loader.get_event()
            if event is None:
                break
            kind = type(event)
            if kind is yaml.ScalarEvent:
                if event.tag is not None and not event.implicit[0] and not event.implicit[1]:
                    raise Unusual(event.tag)
                _add(stack, out, _scalar(loader, event), event, first_line)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if event.tag is not None and not event.implicit:
                    raise Unusual(event.tag)
                value: Any = {} if kind is yaml.MappingStartEvent else []
                path = _add(stack, out, value, event, first_line)
                if len(path) >= MAX_DEPTH:
                    raise Refused(event.start_mark, TOO_DEEP)
                stack.append(_Open(value, path))
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                stack.pop()
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise Unusual("more than one document")
    finally:
        loader.dispose()
    return out


def _scalar(loader: CoreSchemaCLoader, event: Any) -> Any:
    if not event.implicit[0]:  # quoted, or a block scalar: text as written
        return event.value
    text = event.value
    if text in _PLAIN:
        return _PLAIN[text]
    tag = loader.resolve(yaml.ScalarNode, text, event.implicit)
    value = text if tag == STR else loader.construct_object(
        yaml.ScalarNode(tag, text, event.start_mark, event.end_mark, event.style))
    if len(_PLAIN) < PLAIN_KEPT:
        _PLAIN[text] = value
    return value


#: Plain scalars as the core schema read them (null, bool, int, float or text: nothing mutable),
#: by their text: a thousand drills repeat the same keys and values, and each resolution runs the
#: resolver's patterns in Python. Bounded, so a huge or hostile file cannot grow it for ever.
_PLAIN: dict[str, Any] = {}
PLAIN_KEPT = 20_000


def _add(stack: list[_Open], out: LocatedYaml, value: Any, event: Any, first_line: int) -> Path_:
    """Put ``value`` in the open mapping or list (as a key, when a mapping waits for one)."""
    if not stack:
        out.data = value
        out.place((), event.start_mark, first_line)
        return ()
    top = stack[-1]
    if isinstance(top.value, list):
        path = (*top.path, len(top.value))
        out.place(path, event.start_mark, first_line)
        top.value.append(value)
        return path
    if top.key_text is None:
        if not isinstance(value, (str, int, float, bool)) and value is not None:
            raise Unusual("a key that is not plain text")
        text = event.value
        path = (*top.path, text)
        if text in top.seen:
            out.duplicates.append((path, event.start_mark.line + first_line, event.start_mark.column + 1))
        top.seen.add(text)
        out.place(path, event.start_mark, first_line)
        top.key, top.key_text = value, text
        return path
    path = (*top.path, top.key_text)
    top.value[top.key] = value
    top.key = top.key_text = None
    return path


def _walk(node: yaml.Node, path: Path_, out: LocatedYaml, first_line: int) -> None:
    if len(path) >= MAX_DEPTH:
        raise Refused(node.start_mark, TOO_DEEP)
    if path not in out.lines:
        out.place(path, node.start_mark, first_line)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise Refused(key_node.start_mark, "a key must be plain text, not a list or a mapping")
            key = key_node.value
            if key in seen:
                out.duplicates.append(((*path, key), key_node.start_mark.line + first_line,
                                       key_node.start_mark.column + 1))
            seen.add(key)
            out.place((*path, key), key_node.start_mark, first_line)
            _walk_child(value_node, (*path, key), out, first_line)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out.place((*path, index), item.start_mark, first_line)
            _walk_child(item, (*path, index), out, first_line)


def _walk_child(node: yaml.Node, path: Path_, out: LocatedYaml, first_line: int) -> None:
    """A nested mapping or list keeps the position of the key (or item) that holds it."""
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        _walk(node, path, out, first_line)


def read_located(path: Path) -> LocatedYaml:
    """A drill or ``drillbook.yaml``: refused unparsed when over :data:`MAX_FILE_BYTES`, and
    unread when it is no regular file (a FIFO would block the reader, a device never ends)."""
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnusableYaml(None, f"is {kind_of(info.st_mode)}, not a regular file: drill and "
                               "config files are regular files")
        size = info.st_size
        if size > MAX_FILE_BYTES:
            raise YamlTooLarge(None, too_large(f"{size / MIB:.1f} MiB ({size} bytes)"))
        raw = stream.read(MAX_FILE_BYTES + 1)  # st_size may lie (a file still growing)
    if len(raw) > MAX_FILE_BYTES:
        raise YamlTooLarge(None, too_large(f"more than {MAX_FILE_BYTES} bytes"))
    return load_located(raw.decode("utf-8"))


def too_large(size: str) -> str:
    return (f"the file is {size}; the limit is {MAX_FILE_BYTES // MIB} MiB for drill and config "
            "files (split it, or remove what is not needed)")
