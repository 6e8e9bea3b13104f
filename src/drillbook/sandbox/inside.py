"""Reading a restore from inside the sandbox: drillbook's readers, run by the system python3.

drillbook never opens restored files itself for a check: the ``files`` and ``sqlite`` checks and
postgres's preparation send a request to a reader (:mod:`drillbook.checks.reading`) that runs
as the sandbox account in the drill's namespaces, through the same launcher as a command check,
and read back one line of JSON. A restored symlink to the signing key, a FIFO, a hostile
database: each meets an unprivileged process that sees the sandbox and nothing else, and that
is killed with the sandbox.

drillbook's interpreter and virtualenv are not visible in the sandbox (they may live under
/root), so the reader's modules are packed into a zip application, with the standard library
as their only dependency, and written into drillbook's own folder of the sandbox, which the
sandbox account may read but not change. The system ``python3`` runs it with ``-I -S``: no
environment variable, user site or current folder can change what it imports.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import io
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

from drillbook.sandbox.launcher import Launcher
from drillbook.util.durations import format_duration
from drillbook.util.restored import create_exclusive, open_own_folder, private_folder

#: The module whose ``main()`` answers requests.
READER_ENTRY = "drillbook.checks.reading.main"
#: The interpreter inside the sandbox: the system's, under /usr, which the sandbox binds.
PYTHON = "python3"
READER_FOLDER = "reader"
READER_FILE = "drillbook-reader.pyz"
_PACKAGE = "drillbook"
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


class ReaderFailed(Exception):
    """The reader could not run or gave no usable answer; the text is drillbook's."""


def read_inside(launcher: Launcher, own_dir: Path, cwd: Path, request: dict[str, Any],
                timeout: float, stdin: Any = None) -> dict[str, Any]:
    """The reader's answer to ``request``; ReaderFailed when there is none to trust.

    ``stdin``, when given, is sent as JSON on the reader's standard input and becomes the
    request's ``input`` (see checks/reading/main.py).
    """
    reader = install_reader(own_dir)
    if stdin is not None:
        request = {**request, "input": "stdin"}
    argv = [PYTHON, "-I", "-S", str(reader), json.dumps(request)]
    try:
        done = launcher.run(argv, cwd=cwd, env={}, timeout=timeout,
                            stdin_data=None if stdin is None else json.dumps(stdin))
    except FileNotFoundError:
        raise ReaderFailed(f"{PYTHON} is not installed: drillbook reads restored files inside the "
                           "sandbox with the system python3 (apt-get install python3)") from None
    if done.timed_out:
        raise ReaderFailed(f"reading the restore inside the sandbox was stopped after "
                           f"{format_duration(timeout)}")
    found = last_json(done.stdout)
    if found is None:
        raise ReaderFailed(f"the reader inside the sandbox gave no answer (exit {done.returncode})")
    if "crash" in found:
        raise ReaderFailed(str(found["crash"]))
    return found


def last_json(stdout: str) -> dict[str, Any] | None:
    """The JSON object on the last line a program inside the sandbox printed, else None."""
    lines = stdout.strip().splitlines()
    try:
        found = json.loads(lines[-1])
    except (IndexError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def install_reader(own_dir: Path) -> Path:
    """The zip application in ``own_dir/reader``, written once per sandbox."""
    folder = own_dir / READER_FOLDER
    try:
        private_folder(own_dir, READER_FOLDER)
    except FileExistsError:
        return folder / READER_FILE
    except OSError as exc:
        raise ReaderFailed(f"cannot prepare the reader of the restore: {exc.strerror or exc}") from None
    fd = open_own_folder(folder)
    try:
        create_exclusive(fd, READER_FILE, reader_zip())
    finally:
        os.close(fd)
    return folder / READER_FILE


@functools.cache
def reader_zip() -> bytes:
    """The reader's modules and the packages above them (empty), and a ``__main__`` calling it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        sources = reader_modules()
        for name in sorted(_packages(sources)):
            _add(archive, name.replace(".", "/") + "/__init__.py", b"")
        for name, path in sorted(sources.items()):
            _add(archive, name.replace(".", "/") + ".py", path.read_bytes())
        _add(archive, "__main__.py",
             f"import sys\nfrom {READER_ENTRY} import main\nsys.exit(main())\n".encode())
    return buffer.getvalue()


def reader_modules(entry: str = READER_ENTRY) -> dict[str, Path]:
    """Every drillbook module the entry needs, by name, with its source file.

    ValueError names a module that imports anything but the standard library and drillbook:
    the system python3 in the sandbox has nothing else.
    """
    found: dict[str, Path] = {}
    pending = [entry]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        path = _source_file(name)
        found[name] = path
        for imported in _imports(path):
            if imported.split(".")[0] == _PACKAGE:
                pending.append(imported)
            elif imported.split(".")[0] not in sys.stdlib_module_names:
                raise ValueError(f"{name} imports {imported}, which the sandbox's python3 does not have")
    return found


def _source_file(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise ValueError(f"{name} has no Python source to pack")
    if spec.submodule_search_locations is not None:
        raise ValueError(f"{name} is a package: the reader imports modules, not packages")
    return Path(spec.origin)


def _imports(path: Path) -> list[str]:
    """Absolute imports of a module; ``from pkg import mod`` counts ``pkg.mod`` when it is a module."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = [f"{node.module}.{alias.name}" for alias in node.names]
            modules = [s for s in subs if node.module.startswith(_PACKAGE) and _is_module(s)]
            names += modules or [node.module]
    return names


def _is_module(name: str) -> bool:
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:  # the parent is a module: ``name`` is a function or class in it
        return False
    return spec is not None and spec.submodule_search_locations is None


def _packages(modules: dict[str, Path]) -> set[str]:
    parts = {tuple(name.split(".")[:-1]) for name in modules}
    return {".".join(p[:i]) for p in parts for i in range(1, len(p) + 1)}


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, _ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)
