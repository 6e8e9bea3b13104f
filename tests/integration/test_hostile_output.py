"""What a restored program prints reaches records and reports without what a terminal would obey.

A check's output is the restored host's choice: an escape sequence that retitles the window or
clears the screen, a NUL, a right-to-left override that makes "exe.txt" read "txt.exe". None of
them may reach run.json or a report rendered from it; the words around them stay.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support import Repo, Workspace, write_drill, write_orphan_record

# printf's escapes: OSC "set the window title" ended by BEL, "clear the screen", NUL, U+202E.
HOSTILE_PRINTF = r"before\033]0;pwned\007 \033[2J mid\000dle \342\200\256reversed after\n"
FORBIDDEN = ("\x1b", "\x07", "\x00", "\u202e")
FORBIDDEN_ESCAPED = ("\\u001b", "\\u0007", "\\u0000", "\\u202e")


def _strings(value: Any) -> list[str]:
    """Every key and string value of a JSON document."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [value] if isinstance(value, str) else []


def test_a_check_printing_control_characters_leaves_none_in_the_record_or_reports(
        workspace: Workspace, repo: Repo) -> None:
    body = f"""\
    verify:
      - type: command
        name: noisy
        run: [sh, -c, 'printf "{HOSTILE_PRINTF}"; printf "{HOSTILE_PRINTF}" >&2; exit 3']
    """
    write_drill(workspace.drills, "clinic", repo.path, body=body)
    result = workspace.cli("run", "clinic", "--plain")
    assert result.returncode == 1, result.stderr
    run = workspace.last_run("clinic")
    folder = workspace.reports / "clinic" / run["run_id"]
    check = run["checks"][0]
    assert check["detail"].startswith("exit 3: before"), check["detail"]
    assert "reversed after" in check["detail"] and "middle" in check["detail"]
    assert any("reversed after" in line for line in check["data"]["output_tail"])

    raw = (folder / "run.json").read_text(encoding="utf-8")
    for text in _strings(json.loads(raw)):
        assert not any(c in text for c in FORBIDDEN), repr(text)
    assert not any(e in raw.lower() for e in FORBIDDEN_ESCAPED)
    for name in ("report.md", "report.html", "junit.xml"):
        text = (folder / name).read_text(encoding="utf-8")
        assert "reversed after" in text, name
        found = [c for c in FORBIDDEN if c in text]
        assert not found, f"{name} holds {found!r}"
        assert "pwned" not in text, name  # the whole sequence went, not only its ESC


def test_cleanup_prints_no_control_characters_from_a_stale_record(workspace: Workspace) -> None:
    """A stale run.json names its drill and sandbox; whoever wrote it, cleanup's output obeys none of it."""
    drill = "clinic\x1b]0;pwned\x07\x1b[2J\u202e"
    sandbox = workspace.sandboxes / "run\x1b[31m\x00x"
    write_orphan_record(workspace.reports, drill, "20260101T000000Z-abcdef", sandbox)
    preview = workspace.cli("cleanup", "--dry-run", "--json")
    done = workspace.cli("cleanup")
    for result in (preview, done):
        assert result.returncode == 0, result.stderr
        text = result.stdout + result.stderr
        found = [c for c in FORBIDDEN if c in text] + [e for e in FORBIDDEN_ESCAPED if e in text.lower()]
        assert not found, f"{found!r} in {text!r}"
    assert "would be marked aborted" in preview.stdout
    assert "cleaned up drill clinic run 20260101T000000Z-abcdef" in done.stdout
    assert "sandbox " + str(workspace.sandboxes / "runx") in done.stdout
