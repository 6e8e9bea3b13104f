"""`python -m drillbook`: the same command line as the console script."""

from drillbook.cli.app import main

main()
