"""CLI commands of each area, registered in drillbook.cli (the CLI stays a thin shell)."""
