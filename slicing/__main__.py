"""`python -m slicing MODEL -o OUT.gcode` = `3dpot slice`, without importing the rest of 3D Pot (nor typer
and rich, for a command line `slicing.runner` can read itself).

OpenBLAS is limited to one thread (unless OPENBLAS_NUM_THREADS is set): the slicer's parallelism is its
process pool, its matrix products are (n, 3) @ (3, 3), and starting and stopping OpenBLAS's threads cost
30-50 ms of every run (`import numpy` alone: 0.11 s -> 0.06 s wall on 2 cores). It must be set before
numpy loads, so `slicing/__init__.py` imports nothing eagerly.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from slicing.runner import main  # after the variable above: it loads numpy

main()
