"""Service checks: bring a service up from restored data inside the sandbox and probe it.

Importing the package registers ``http``, ``tcp`` and ``postgres`` with drillbook.checks.base.
"""

from drillbook.checks.services import http, postgres, tcp  # noqa: F401
