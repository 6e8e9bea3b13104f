"""Service checks: bring a service up from restored data inside the sandbox and probe it.

``http``, ``tcp`` and ``postgres`` are listed with the other kinds in drillbook.checks.kinds.
"""
