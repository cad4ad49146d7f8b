"""Lensing stage (seed 002): strong-lensing images with and without dark substructure
(``simulate``, ``sampling``; presets A, B and DeepLenseSim's I-III), anomaly detectors and a
supervised ResNet, scored beside the published table and the oracles.

The steps the rules call (``workflow/rules/lensing.smk`` through ``scripts/lensing_*.py``):

====================  ===================================================================
rule                  function
====================  ===================================================================
lensing_simulate      ``stage.simulate_chunk``: one chunk of images and their parameters
lensing_merge         ``stage.merge_chunks``: one stack per data set, its split
lensing_train         ``learn.train_lensing_model`` (networks in ``models``)
lensing_evaluate      ``evaluate.evaluate_dataset``: scores, baselines, oracles
lensing_metrics       ``evaluate.collect_metrics``, ``evaluate.write_table``
lensing_figures       ``figures.lensing_figures``
====================  ===================================================================

``published`` holds the published numbers, ``checks`` the config's cross-field checks,
``resources`` the memory estimates.
"""

# The entries of config['lensing'] each rule's step reads (cosmodl.contract.step_config: the rule's params).
READS = {
    "lensing_train": ("sizes", "model", "train", "train_overrides"),
    "lensing_evaluate": ("seed", "sizes", "model", "baselines", "substructure"),
    "lensing_simulate": ("seed", "sizes", "chunk_size", "image", "substructure", "lattice_values"),
}
