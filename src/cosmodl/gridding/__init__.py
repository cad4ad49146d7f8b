"""Mass assignment of particles onto periodic grids."""

from .cic import cic_deposit_3d, cic_project_z, cic_project_z_ranges, sort_by_x_cell

__all__ = ["cic_deposit_3d", "cic_project_z", "cic_project_z_ranges", "sort_by_x_cell"]
