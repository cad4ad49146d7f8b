"""Spectroscopic-redshift stage (seed 004): synthetic spectra (``spectra``, ``data``) made while
training, 1-D CNNs over 800 redshift classes beside a template fit and a random forest.

The steps the rules call (``workflow/rules/specz.smk`` through ``scripts/specz_*.py``):

====================  ===================================================================
rule                  function
====================  ===================================================================
specz_sets            ``stage.make_sets``: the validation and test spectra
specz_train           ``learn.train_network`` (networks in ``models``)
specz_evaluate        ``evaluate.evaluate`` (baselines in ``baselines``, metrics in ``metrics``)
specz_metrics         ``evaluate.collect_metrics``, ``evaluate.write_table``
specz_figures         ``figures.specz_figures``
====================  ===================================================================

``checks`` holds the config's cross-field checks, ``resources`` the memory estimates.
"""

# The entries of config['specz'] each rule's step reads (cosmodl.contract.step_config: the rule's params).
READS = {
    "specz_sets": ("seed", "data", "spectra", "realistic", "snr", "n_val", "n_test"),
    "specz_train": ("seed", "data", "spectra", "realistic", "snr", "model", "train", "train_overrides"),
    "specz_evaluate": ("seed", "data", "spectra", "realistic", "snr", "n_val", "n_test", "methods", "baselines"),
    "specz_figures": ("data", "spectra", "snr", "noise", "figures"),
}
