"""What runs inside the sandbox to read a restore: the files, sqlite and postgres readers.

These modules import the standard library and each other only, because they are not run by
drillbook's interpreter: :mod:`drillbook.sandbox.inside` packs them into a zip application that
the system ``python3`` runs as the sandbox account, in the drill's namespaces. So a restored
symlink, FIFO or hostile database is opened by an unprivileged process that sees only the
sandbox, and drillbook's own process only reads the JSON answer. tests/unit/checks/reading
checks that no module here imports a third-party package.
"""
