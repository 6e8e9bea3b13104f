"""Where a check's path is in a snapshot's listing, and what it may have meant instead."""

from __future__ import annotations

from typing import Any

from drillbook.drill.pathhints import ListingIndex, check_paths, missing_hint
from drillbook.spec.models import FilesCheck, HttpCheck, PostgresCheck, SqliteCheck


def listing(*paths: str, links: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """restic ls nodes: every folder above each path, then the path (a file) itself."""
    folders = sorted({"/".join(p.split("/")[:i]) for p in paths for i in range(1, p.count("/") + 1)})
    return ([{"type": "dir", "path": "/" + d} for d in folders]
            + [{"type": "file", "path": "/" + p} for p in paths]
            + [{"type": "symlink", "path": "/" + link} for link in links])


CLINIC = listing("srv/clinic/data/docs/letter-1.txt", "srv/clinic/data/db/app.sqlite", "srv/clinic/README")


def index(wanted: list[str], nodes: list[dict[str, Any]] = CLINIC,
          snapshot_paths: tuple[str, ...] = ("/srv/clinic",)) -> ListingIndex:
    found = ListingIndex(wanted, snapshot_paths)
    for node in nodes:
        found.add(node)
    return found


def test_a_path_in_the_listing_is_found_whatever_its_slashes() -> None:
    found = index(["srv/clinic/data/docs", "srv/clinic/data/db/app.sqlite/"])
    assert found.answer("srv/clinic/data/docs").found
    assert found.answer("srv/clinic/data/db/app.sqlite/").found


def test_a_path_written_relative_to_the_backed_up_folder_is_offered_with_the_snapshots_prefix() -> None:
    answer = index(["data/docs"]).answer("data/docs")
    assert not answer.found
    assert answer.suggestions[0] == "srv/clinic/data/docs"


def test_a_misspelt_path_is_offered_the_nearest_path_at_its_depth() -> None:
    answer = index(["srv/clinic/data/doc"]).answer("srv/clinic/data/doc")
    assert not answer.found and "srv/clinic/data/docs" in answer.suggestions
    assert "srv/clinic/README" not in answer.suggestions[:1]


def test_the_restored_paths_are_the_snapshots_folders_as_the_listing_has_them() -> None:
    assert index([]).restored() == ["srv/clinic"]
    # a backup of a relative path: the snapshot names the absolute folder, the listing starts at srv
    relative = index([], snapshot_paths=("/tmp/build/source/srv",))
    assert relative.restored() == ["srv"]
    assert index([]).top_level() == ["srv"]


def test_a_path_through_a_restored_symlink_cannot_be_told_from_the_listing() -> None:
    nodes = listing("srv/clinic/2026/docs/a.txt", links=("srv/clinic/current",))
    answer = index(["srv/clinic/current/docs"], nodes).answer("srv/clinic/current/docs")
    assert not answer.found and answer.through_link == "srv/clinic/current"
    assert answer.problem is None


def test_what_is_kept_from_a_large_listing_is_only_what_the_questions_need() -> None:
    found = index(["srv/clinic/data/doc"], listing(*(f"srv/clinic/data/docs/f{i}" for i in range(5000))))
    assert found.kept() < 50  # the 5000 files are one level deeper than the wanted path


def test_control_characters_in_a_listing_never_reach_a_suggestion() -> None:
    nodes = listing("srv/clinic/do\x1b[2Jcs/a.txt")
    answer = index(["srv/clinic/docs"], nodes).answer("srv/clinic/docs")
    assert answer.suggestions and all("\x1b" not in s for s in answer.suggestions)


def test_the_paths_of_each_kind_of_check() -> None:
    assert check_paths(FilesCheck(type="files", path="srv/docs", required=["a.txt"])) == ["srv/docs", "srv/docs/a.txt"]
    assert check_paths(FilesCheck(type="files")) == []  # the restore root is always there
    assert check_paths(SqliteCheck(type="sqlite", path="srv/db.sqlite")) == ["srv/db.sqlite"]
    assert check_paths(PostgresCheck(type="postgres", data_dir="var/lib/pg")) == ["var/lib/pg"]
    assert check_paths(PostgresCheck(type="postgres", dump="srv/dump.sql")) == ["srv/dump.sql"]
    assert check_paths(HttpCheck(type="http", url="http://127.0.0.1/")) == []


def test_the_hint_of_a_failed_check_names_the_top_level_and_the_likely_path() -> None:
    spec = FilesCheck(type="files", path="data/docs")
    assert missing_hint(spec, CLINIC, ["/srv/clinic"]) == (
        "restored top level: srv/; did you mean srv/clinic/data/docs?")
    assert missing_hint(FilesCheck(type="files", path="srv/clinic/data/docs"), CLINIC, ["/srv/clinic"]) is None
