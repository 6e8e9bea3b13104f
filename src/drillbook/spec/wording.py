"""What a spec problem says, in the words of the person who wrote the drill, never pydantic's.

pydantic says "Input should be a valid list"; whoever wrote ``tags: nightly`` needs to read
``write [nightly]``. The mistakes people make most get the fix written out (a password source, a
command as one string, a single tag, a query without an expectation); every other kind of error
pydantic reports is said the same way wherever it occurs. A value is shown as the person wrote it
(:mod:`drillbook.spec.yamltext`), except what may be a password pasted into ``source.password``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from drillbook.checks.expectations import COMPARISON_HINT
from drillbook.spec.declared import declared, holds_mappings, valid_keys
from drillbook.spec.models import CHECK_MODELS, NAME_PATTERN
from drillbook.spec.yamltext import flow, quoted

# -- what to write instead: the mistakes people make most ------------------------------------
_MAPPING_KINDS = ("model_type", "model_attributes_type", "dict_type")
_ARGV_FIELDS = ("run", "start", "command")
_SHELL_SYNTAX = re.compile(r"[|&;<>$`*?(){}\[\]~\n]")
_ENV_LIKE = re.compile(r"[A-Z_][A-Z0-9_]*")
_PATH_LIKE = re.compile(r"(~|\.{1,2})?/?(?:[\w.@+-]+/)*[\w.@+-]+")


def _hint(kind: str, value: Any, loc: tuple[Any, ...]) -> str | None:
    """What to write instead, for the mistakes people make most; None for the others."""
    if loc == ("source", "password") and not isinstance(value, dict):
        return _password_hint(value)
    if kind == "list_type" and isinstance(value, str) and loc and loc[-1] in _ARGV_FIELDS:
        return _argv_hint(str(loc[-1]), value)
    if kind in _MAPPING_KINDS and isinstance(value, str) and len(loc) > 1 and loc[-2] == "queries":
        return f'{show(value)} is a query without an expectation: write {{sql: {quoted(value)}, expect: ">= 1"}}'
    if len(loc) > 2 and loc[-3] == "queries" and loc[-1] == "expect" and not isinstance(value, dict):
        return f"{show(value)} is not an expectation: {COMPARISON_HINT}"
    return None


def _password_hint(value: Any) -> str:
    """A source written as the file's path or the variable's name is repeated in the fix; anything
    else may be the password itself, pasted in, and is never shown again."""
    if isinstance(value, str) and _ENV_LIKE.fullmatch(value):
        return (f'"{value}" is not a password source: write {{env: {value}}} (the environment variable '
                f"holding the password), or {{file: {flow(value)}}} for a file of that name")
    if isinstance(value, str) and _PATH_LIKE.fullmatch(value) and ("/" in value or value.startswith("~")):
        return f'"{value}" is not a password source: write {{file: {flow(value)}}} (the file holding the password)'
    return ("is not a password source: write {file: PATH} or {env: NAME}, where the password is kept "
            "(a drill never holds the password itself, so the value written here is not shown)")


def _argv_hint(field: str, value: str) -> str:
    start = f'{show(value)} is one text, but {field} is an argument list, never run through a shell: write '
    if _SHELL_SYNTAX.search(value):
        return start + f"{flow(['/bin/sh', '-c', value])} if it needs one"
    try:
        return start + flow(shlex.split(value))
    except ValueError:  # an unclosed quote: shlex cannot say where the arguments end
        return start + "each argument as an entry of [...]"


# -- the other mistakes, said the same way everywhere -----------------------------------------
_PATTERN_WORDS = {
    NAME_PATTERN: "a valid name (letters, digits, . _ - only)",
    r"^\d+[KMG]?$": "a size such as 512M, 4G or 1048576 (bytes)",
    r"^https?://[^\s/]+": "an http:// or https:// URL",
    r"^s3://[^/]+(/.*)?$": "an s3://bucket/prefix URL",
    r"^[A-Za-z_][A-Za-z0-9._-]*$": "a group name (letters, digits, . _ -, not starting with a digit)",
}
_BOUNDS = {"greater_than_equal": ("ge", "too small: the least allowed is"),
           "greater_than": ("gt", "too small: it must be more than"),
           "less_than_equal": ("le", "too large: the most allowed is"),
           "less_than": ("lt", "too large: it must be less than")}
_NOT_A = {"int_type": "a whole number", "int_parsing": "a whole number", "int_from_float": "a whole number",
          "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
          "bool_parsing": "true or false"}


def in_words(err: Mapping[str, Any], value: Any, loc: tuple[Any, ...], hints: type[BaseModel], data: Any) -> str:
    """The problem pydantic reported as ``err``, in words that say what to write instead."""
    hint = _hint(err["type"], value, loc)
    if hint:
        return hint
    kind, ctx = err["type"], err.get("ctx") or {}
    annotation, field = declared(hints, data, loc)
    if value is None and kind.endswith("_type"):
        optional = field is not None and not field.is_required()
        return "is empty: give a value, or leave the key out" if optional else "is empty: give a value"
    if kind in _NOT_A:
        return f"{show(value)} is not {_NOT_A[kind]}"
    if kind == "string_type":
        return _not_text(value)
    if kind in _MAPPING_KINDS:
        return _not_a_mapping(value, loc, hints, data)
    if kind == "list_type":
        return _not_a_list(value, loc, annotation)
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        return f"{show(value)} is {words} {ctx.get(key)}"
    if kind in ("too_short", "too_long"):
        return _length(kind, value, ctx)
    if kind == "string_pattern_mismatch":
        words = _PATTERN_WORDS.get(str(ctx.get("pattern")), "in the form this field takes (drillbook schema "
                                                            "--markdown shows it)")
        return f"{show(value)} is not {words}"
    return f"{show(value)}: {_plain(str(err['msg']))}"


def _length(kind: str, value: Any, ctx: Mapping[str, Any]) -> str:
    count = ctx.get("min_length" if kind == "too_short" else "max_length")
    unit = ("entry" if count == 1 else "entries") if isinstance(value, (list, dict)) else "characters"
    if kind == "too_long":
        return f"is too long: give at most {count} {unit}"
    return f"{show(value)} is {'empty' if not value else 'too short'}: give at least {count} {unit}"


def _not_text(value: Any) -> str:
    if isinstance(value, bool):
        return f'{show(value)} is a yes/no value, not text: write "{show(value)}" (quoted) for the text'
    if isinstance(value, (int, float)):
        return f'{show(value)} is a number, not text: write "{show(value)}" (quoted) for the text'
    return f"{show(value)} is {'a list' if isinstance(value, list) else 'a mapping'}, not text"


def _not_a_mapping(value: Any, loc: tuple[Any, ...], hints: type[BaseModel], data: Any) -> str:
    if len(loc) > 1 and loc[-2] == "verify" and isinstance(loc[-1], int):
        how = (f": write - type: {value}, its fields on the lines below" if isinstance(value, str)
               and value in CHECK_MODELS else "")
        return f"a check is a mapping with a type ({', '.join(CHECK_MODELS)}), not {show(value)}{how}"
    keys = valid_keys(hints, data, loc)
    with_keys = f" with the keys {', '.join(keys)}" if keys else " (key: value)"
    return f"should be a mapping{with_keys}, not {show(value)}"


def _not_a_list(value: Any, loc: tuple[Any, ...], annotation: Any) -> str:
    name = _name(loc)
    if isinstance(value, dict):
        return f'is one mapping, but {name} is a list: start each entry on its own line with "- "'
    if holds_mappings(annotation):
        return f'{show(value)} should be a list of mappings, each entry on its own line starting with "- "'
    return f"{show(value)} is one value, but {name} is a list: write {flow([value])}"


def _name(loc: tuple[Any, ...]) -> str:
    """The key a value is under, as the message names it: ``tags`` of ``source.snapshot.tags``."""
    return next((str(p) for p in reversed(loc) if isinstance(p, str)), "this")


def _plain(message: str) -> str:
    """pydantic's own words for a mistake no rule above words better, as a person would say them."""
    for theirs, ours in (("Input should be", "should be"), ("Value error, ", ""), ("Assertion failed, ", ""),
                         ("dictionary", "mapping"), ("a valid ", "")):
        message = message.replace(theirs, ours)
    message = re.sub(r" or instance of \w+", "", message)
    return message[:1].lower() + message[1:]


def show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (bool, list, dict)) or value is None:
        return flow(value)
    return repr(value)
