"""``drillbook schema``: the drill spec as JSON Schema (for editors) or as a Markdown reference."""

from __future__ import annotations

import click

from drillbook.spec.reference import json_schema_text, markdown_reference


@click.command("schema")
@click.option("--markdown", is_flag=True, help="The field reference as Markdown instead of JSON Schema.")
def schema_command(markdown: bool) -> None:
    """Print the drill spec: JSON Schema, or with --markdown the field reference."""
    click.echo(markdown_reference() if markdown else json_schema_text(), nl=False)
