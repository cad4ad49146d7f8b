"""Augmentations any stage can use on image batches.

A stage passes one as ``fit(..., augment=...)``: ``augment(x, y, generator) -> (x, y)``, applied
to training batches when ``train.augment`` is set, with the trainer's per-batch generator (so a
resumed run draws what an uninterrupted one would).
"""

from __future__ import annotations

import torch


def dihedral(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator, spatial_target: bool):
    """Apply one of the 8 flips/90° rotations of the x-y plane to each sample (and its map).

    Parameters
    ----------
    x : tensor (B, 1, H, W)
    y : tensor (B, m, m) when ``spatial_target`` else (B, T) (left unchanged)
    generator : torch.Generator (CPU) choosing the operation per sample
    """
    ops = torch.randint(0, 8, (x.shape[0],), generator=generator).tolist()
    xs, ys = [], []
    for i, op in enumerate(ops):
        xi, yi = x[i], y[i]
        if op & 4:
            xi, yi = xi.flip(-1), (yi.flip(-1) if spatial_target else yi)
        k = op & 3
        xi = torch.rot90(xi, k, dims=(-2, -1))
        yi = torch.rot90(yi, k, dims=(-2, -1)) if spatial_target else yi
        xs.append(xi)
        ys.append(yi)
    return torch.stack(xs), torch.stack(ys)


def image_symmetries(x: torch.Tensor, y, generator: torch.Generator):
    """One of the 8 flips/90° rotations per image; targets (labels, counts) unchanged."""
    return dihedral(x, y, generator, spatial_target=False)
