"""Modules imported on first use, for the few whose import costs more than a command's work.

boto3 (with botocore's configuration) takes about 250 ms to import, half of `drillbook --help`,
and only drills that touch AWS need it. A module bound with :func:`lazy_module` at the top of a
file keeps imports at the top (readable, no cycles hidden in functions) and defers the cost.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """``name`` as a module whose code runs on the first attribute access."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
