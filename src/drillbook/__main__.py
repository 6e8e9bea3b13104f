from drillbook.cli import main

main()
