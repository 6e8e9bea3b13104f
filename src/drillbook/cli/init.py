"""``drillbook init``: write a first drill for a snapshot group of an existing restic repository."""

from __future__ import annotations

from pathlib import Path

import click

from drillbook.cli.console import out, terminal_safe
from drillbook.drill.firstdrill import InitRequest, write_first_drill
from drillbook.settings import Settings


@click.command("init")
@click.option("--repository", "-r", required=True, help="The restic repository (path, s3:, sftp:, rest:, ...).")
@click.option("--password-file", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="File holding the repository's password; the drill names the file, never the password.")
@click.option("--host", help="Hostname of the snapshots to drill (needed when the repository has several).")
@click.option("--path", "snapshot_path", help="Path the snapshots were taken of (needed when a host has several).")
@click.option("--name", help="Drill name [host and last part of the path].")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False),
              help="File to write [DRILLS/<name>.yaml]; an existing file is never overwritten.")
@click.pass_obj
def init_command(settings: Settings, repository: str, password_file: Path, host: str | None,
                 snapshot_path: str | None, name: str | None, output: Path | None) -> None:
    """Write a first drill for the newest snapshot of one host and path: objectives to set, a files
    check of the restored path, and every other kind of check as a commented example."""
    written = write_first_drill(InitRequest(repository, password_file, host, snapshot_path, name, output),
                                settings)
    first = written.drill
    counted = f"{first.min_count} files" if first.min_count is not None else "files not counted"
    out.print(terminal_safe(f"wrote {written.file}: snapshot {first.snapshot} of {first.host}:{first.path} "
                            f"({written.snapshots} snapshot(s) in its group, {counted})"), markup=False)
    elsewhere = written.file.parent.resolve() != settings.drills_dir.resolve()
    folder = f"--drills {written.file.parent} " if elsewhere else ""
    out.print(terminal_safe(f"next: set its objectives, then drillbook {folder}validate {first.name} && "
                            f"drillbook {folder}run {first.name}"), markup=False)
