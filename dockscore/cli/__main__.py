"""`python -m dockscore.cli`: the same as the `dockscore` command."""

from dockscore.cli import main

main()
