"""Voids stage: spherical void finder, subbox images and targets, leakage-free split."""
