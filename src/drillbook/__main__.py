from drillbook.cli.app import main

main()
