"""One module per command's behaviour; the CLI only parses, calls, prints and exits."""
