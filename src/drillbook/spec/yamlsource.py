"""YAML loading that remembers where every key and value came from.

Errors must name the line (``drills/portal.yaml:7``), so we keep a map from each data path
(``("verify", 0, "path")``) to its 1-based line while parsing with the safe loader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[Any, ...]


class SpecLoader(yaml.SafeLoader):
    """The safe loader with YAML 1.2 booleans (true/false only): YAML 1.1 would read the key
    ``on:`` of a notify target as the boolean True, and ``no``/``off`` values as False."""


SpecLoader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SpecLoader.add_implicit_resolver("tag:yaml.org,2002:bool",
                                 re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


@dataclass
class LocatedYaml:
    """Parsed data plus the line of every path in it."""

    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    duplicates: list[tuple[Path_, int]] = field(default_factory=list)

    def line_of(self, path: Path_) -> int | None:
        """Line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)


class YamlSyntaxError(ValueError):
    def __init__(self, line: int | None, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


def load_located(text: str, first_line: int = 1) -> LocatedYaml:
    """Parse ``text`` safely; ``first_line`` offsets lines (front matter inside Markdown)."""
    try:
        node = yaml.compose(text, Loader=SpecLoader)
        data = yaml.load(text, Loader=SpecLoader)  # noqa: S506 (SpecLoader is a SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + first_line if mark else None
        raise YamlSyntaxError(line, f"YAML syntax error: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(None, f"YAML syntax error: {exc}") from None
    located = LocatedYaml(data=data)
    if node is not None:
        _walk(node, (), located, first_line)
    return located


def _walk(node: yaml.Node, path: Path_, out: LocatedYaml, first_line: int) -> None:
    out.lines.setdefault(path, node.start_mark.line + first_line)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + first_line
            if key in seen:
                out.duplicates.append(((*path, key), line))
            seen.add(key)
            out.lines[(*path, key)] = line
            _walk_child(value_node, (*path, key), out, first_line)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out.lines[(*path, index)] = item.start_mark.line + first_line
            _walk_child(item, (*path, index), out, first_line)


def _walk_child(node: yaml.Node, path: Path_, out: LocatedYaml, first_line: int) -> None:
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        saved = out.lines.get(path)
        _walk(node, path, out, first_line)
        if saved is not None:
            out.lines[path] = saved


def read_located(path: Path) -> LocatedYaml:
    return load_located(path.read_text(encoding="utf-8"))
