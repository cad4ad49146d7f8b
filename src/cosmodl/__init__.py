"""cosmodl: a reproducible pipeline for deep learning on cosmological simulations.

The library holds all the science and I/O; the Snakemake workflow (``Snakefile``,
``workflow/rules``) and the ``scripts/`` adapters only wire it together.

Conventions used throughout
---------------------------
* Lengths are comoving Mpc/h unless a name says otherwise (``*_cells`` for grid units).
* Positions of a periodic box lie in ``[0, box_size)``.
* Grid cell ``i`` covers ``[i, i+1) * cell`` and its value sits at the cell centre
  ``(i + 1/2) * cell``; arrays are indexed ``[x, y, z]`` (x = first catalogue column).
"""

__version__ = "0.1.0"
