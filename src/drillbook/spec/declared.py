"""Where a value of a spec file is in the models: the type declared there, the keys a mapping takes.

pydantic names the members of a union in an error's location (``expect.str``,
``expect.ExactValue.text``); they are no keys of the user's data, and a value checked against a
union fails every member, so only the errors of the member the value's shape chose are kept.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from drillbook.spec import models
from drillbook.spec.models import CHECK_MODELS

_SCALAR_BRANCHES = frozenset({"str", "int", "float", "bool", "none"})
#: How pydantic names the members of a union in an error's location: not keys of the user's data.
BRANCHES = _SCALAR_BRANCHES | {
    name for name, obj in vars(models).items() if isinstance(obj, type) and issubclass(obj, BaseModel)}


def one_branch(errors: Iterable[Any], data: Any) -> list[Any]:
    """A value checked against a union (``expect``: text or ``{text: ...}``) fails every member;
    keep the errors of the member its shape chose: a mapping's model, else the plain type."""
    errors = list(errors)
    kept = []
    for err in errors:
        branch = _branch(data, err["loc"])
        if branch is None or isinstance(branch[0], dict) == (branch[1] not in _SCALAR_BRANCHES):
            kept.append(err)
    return kept or errors


def _branch(data: Any, loc: Iterable[Any]) -> tuple[Any, str] | None:
    """The value a union checked and the member an error is of, when ``loc`` passes a union."""
    node = data
    for part in loc:
        if isinstance(part, str) and part in BRANCHES and not (isinstance(node, dict) and part in node):
            return node, part
        if not (isinstance(node, dict) and part in CHECK_MODELS and part not in node):  # a check's tag
            node = _child(node, part)
    return None


def declared(root: type[BaseModel], data: Any, loc: tuple[Any, ...]) -> tuple[Any, FieldInfo | None]:
    """The type declared at ``loc``, and the field it belongs to (None past a list's entry)."""
    annotation: Any = root
    field: FieldInfo | None = None
    node = data
    for part in loc:
        if isinstance(part, int):
            annotation, field = _entry_type(annotation), None
        else:
            model = model_of(annotation, node)
            field = model.model_fields.get(part) if model else None
            if field is None:
                return None, None
            annotation = field.annotation
        node = _child(node, part)
    return annotation, field


def _child(node: Any, part: Any) -> Any:
    """``node[part]`` of the user's data, or None where the data has no such key or entry."""
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _entry_type(annotation: Any) -> Any:
    """What a list declared by ``annotation`` (optional or not) holds; None when it is no list."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(candidate) is list:
            return typing.get_args(candidate)[0]
    return None


def holds_mappings(annotation: Any) -> bool:
    """A list of sections or checks, whose entries are written as mappings."""
    entry = _entry_type(annotation)
    return entry is not None and model_of(entry, None) is not None


def valid_keys(root: type[BaseModel], data: Any, parent: tuple[Any, ...]) -> list[str]:
    """The fields the model accepts at ``parent``, for 'did you mean' style hints."""
    model: Any = root
    node = data
    for part in parent:
        node = _child(node, part)
        if isinstance(part, int):
            continue
        if model is None:
            return []
        field_info = model.model_fields.get(part)
        model = model_of(field_info.annotation if field_info else None, node)
    if model is None and isinstance(node, dict) and node.get("type") in CHECK_MODELS:
        model = CHECK_MODELS[node["type"]]
    return sorted(model.model_fields) if model else []


def model_of(annotation: Any, node: Any) -> Any:
    """The model declared by ``annotation``; in a list of checks, the one ``node``'s type selects."""
    if isinstance(node, dict) and node.get("type") in CHECK_MODELS:
        return CHECK_MODELS[node["type"]]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = model_of(arg, node)
        if found:
            return found
    return None
