"""The value a query answers through ``psql``: the first column of the first row, whole, and
never confused with SQL NULL.

psql's aligned and unaligned outputs cannot carry every value: a text ``'NULL'`` prints like a
NULL shown as ``NULL``, a value with a newline spans lines, one with the field separator looks
like two columns. ``--csv`` quotes what contains a comma, a quote or a line break (RFC 4180, read
here with :mod:`csv`), but psql 15 prints SQL NULL and the empty text alike, as an empty field;
so psql is told to show NULL as a marker drawn at random for each query, which nothing stored in
the restored database can know in advance. A query that answers no row answers NULL, as a
scalar subquery does (and as ``sqlite`` does).
"""

from __future__ import annotations

import csv
import io
import secrets

NULL_PREFIX = "drillbook-null-"


def null_marker() -> str:
    """What psql prints for SQL NULL: letters, digits and dashes only, so never quoted by --csv."""
    return NULL_PREFIX + secrets.token_hex(16)


def csv_options(marker: str) -> list[str]:
    """psql options for :func:`first_value`: CSV rows without a header, NULL shown as ``marker``."""
    return ["--csv", "-t", "-P", f"null={marker}"]


def first_value(stdout: str, marker: str) -> str | None:
    """The first column of the first row of psql's ``--csv -t`` output; None for SQL NULL."""
    row = next(csv.reader(io.StringIO(stdout, newline="")), None)
    if row is None:
        return None  # no row at all
    if not row:
        return ""  # a blank line: one column holding the empty text
    return None if row[0] == marker else row[0]
