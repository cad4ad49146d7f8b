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

# The entries of config['voids'] each rule's step reads (cosmodl.contract.step_config: the rule's params).
READS = {
    "voids_galaxies": ("box_size", "seed", "cosmology", "galaxies"),
    "voids_catalogue": ("box_size", "catalogue"),
    "voids_subboxes": ("box_size", "subboxes"),
    "voids_split": ("split", "-split.method"),
    "voids_train": ("box_size", "subboxes", "model", "train", "train_overrides"),
    "voids_evaluate": ("box_size", "subboxes", "evaluation"),
    "voids_figures": ("figures", "split"),
}
