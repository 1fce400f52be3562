"""`python -m slicing MODEL -o OUT.gcode` = `3dpot slice`, without importing the rest of 3D Pot (nor typer
and rich, for a command line `slicing.runner` can read itself)."""

from slicing.runner import main

main()
