"""Voids stage (seed 000): spherical void finder, subbox images and targets, leakage-free split,
ResNet void maps and counts.

The steps the rules call (``workflow/rules/voids.smk`` through ``scripts/voids_*.py``):

====================  ===================================================================
rule                  function
====================  ===================================================================
voids_galaxies        ``stage.galaxy_catalogue``: mock or a file, validated
voids_download        ``cosmodl.download.download`` (a URL catalogue)
voids_catalogue       ``stage.void_catalogue``: the spherical void finder (``finder``)
voids_subboxes        ``stage.subbox_products``: CIC images and void maps (``subboxes``)
voids_split           ``stage.split``: spatial (buffered slabs) or random (``split``)
voids_train           ``learn.train_void_model`` (networks in ``models``)
voids_evaluate        ``evaluate.evaluate_void_model``
voids_metrics         ``evaluate.collect_metrics``, ``evaluate.write_table``
voids_figures         ``figures.voids_figures`` (the subbox lattice from
                      ``subboxes.lattice_from_index``)
====================  ===================================================================

``checks`` holds the config's cross-field checks, ``resources`` the memory estimates.
"""
