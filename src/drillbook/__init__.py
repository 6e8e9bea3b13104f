"""drillbook: prove that backups can be recovered, and keep the evidence."""

__version__ = "0.1.0"
