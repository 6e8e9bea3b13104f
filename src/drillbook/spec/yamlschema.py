"""The YAML 1.2 core schema for drill files, runbook front matter and ``drillbook.yaml``.

PyYAML resolves plain scalars by YAML 1.1, where ``12:30`` is the number 750 (base 60),
``0755`` is 493 (octal), ``2026-01-01`` a date, ``1_000`` a thousand and ``on``/``no`` booleans.
In a drill each of those silently turns a check into another one (``expect: 12:30`` became
``= 750``). Here a plain scalar is a boolean, a null, an integer or a float only in the forms of
YAML 1.2's core schema; anything else is the text exactly as written, and pydantic turns text
into a number where a field wants one.

One departure from the core schema, towards keeping the text: a decimal with a leading zero
(``0755``, ``0022``, ``01.5``) is text. The core schema would read ``0755`` as 755, yet whoever
writes it means a file mode or a code, whose leading zero matters; an integer field still accepts
it. Octal is written ``0o755``.
"""

from __future__ import annotations

import math
import re

import yaml
from yaml._yaml import CParser  # libyaml, shipped in PyYAML's wheels

BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"

_DIGITS = "0123456789"
#: (tag, pattern, first characters) as :meth:`yaml.resolver.BaseResolver.add_implicit_resolver` takes them.
CORE_SCHEMA: list[tuple[str, str, list[str]]] = [
    (BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    (NULL, r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (INT, r"^(?:[-+]?(?:0|[1-9][0-9]*)|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+" + _DIGITS)),
    (FLOAT, r"^(?:[-+]?(?:\.[0-9]+|(?:0|[1-9][0-9]*)(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", list("-+." + _DIGITS)),
]


_MATCH = {tag: re.compile(pattern) for tag, pattern, _ in CORE_SCHEMA}


def _int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if not _MATCH[INT].match(text):  # an explicit !!int on something else
        raise _not_a(node, text, "an integer (write 42, 0o755 or 0x1F)")
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)


def _float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node))
    if not (_MATCH[FLOAT].match(text) or _MATCH[INT].match(text)):
        raise _not_a(node, text, "a number (write 1.5, 1e3 or .inf)")
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return float(_int(loader, node)) if _MATCH[INT].match(text) else float(text)


def _not_a(node: yaml.ScalarNode, text: str, what: str) -> yaml.constructor.ConstructorError:
    return yaml.constructor.ConstructorError(None, None, f'"{text}" is not {what}', node.start_mark)


class CoreSchemaLoader(yaml.SafeLoader):
    """PyYAML's safe loader resolving plain scalars by the YAML 1.2 core schema (see above)."""


CoreSchemaLoader.yaml_implicit_resolvers = {}  # none of YAML 1.1's: not its timestamps, merge key or value
for _tag, _pattern, _first in CORE_SCHEMA:
    CoreSchemaLoader.add_implicit_resolver(_tag, _MATCH[_tag], _first)
CoreSchemaLoader.add_constructor(INT, _int)
CoreSchemaLoader.add_constructor(FLOAT, _float)



class CoreSchemaCLoader(CParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """The same schema over libyaml, which scans, parses and composes in C: some twenty times
    faster than PyYAML's pure-Python loader, which made ``drillbook validate`` of 1,000 drills
    take seconds."""

    yaml_implicit_resolvers = CoreSchemaLoader.yaml_implicit_resolvers
    yaml_constructors = CoreSchemaLoader.yaml_constructors

    def __init__(self, stream: str):
        CParser.__init__(self, stream)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
