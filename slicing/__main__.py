"""`python -m slicing MODEL -o OUT.gcode` = `3dpot slice`, without importing the rest of 3D Pot."""

from slicing.cli import main

main()
