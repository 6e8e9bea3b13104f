"""Service checks: bring a service up from restored data inside the sandbox and probe it.

Importing the package registers ``http``, ``tcp`` and ``postgres`` with drillbook.checks.base.
The core kinds are imported too: checks.base loads kinds lazily only while its registry is
empty, so registering ours first must not hide ``files``, ``sqlite`` and ``command``.
"""

import drillbook.checks.command  # noqa: F401
import drillbook.checks.files  # noqa: F401
import drillbook.checks.sqlite  # noqa: F401
from drillbook.services import http, postgres, tcp  # noqa: F401
