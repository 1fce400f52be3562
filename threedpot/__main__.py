"""`python -m threedpot` = the `3dpot` command."""

from threedpot.cli import main

main()
