"""The command line only: parse arguments, call the library (which never prints), print, exit 0/1/2/3."""
