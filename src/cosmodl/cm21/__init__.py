"""21-cm stage (seed 001): 21cmFAST-format boxes (``boxes``, ``simulate``), slices split by seed,
physics and PCA baselines, and the networks classifying redshift and escape fraction.

The steps the rules call (``workflow/rules/cm21.smk`` through ``scripts/cm21_*.py``):

=========================  ===================================================================
rule                       function
=========================  ===================================================================
cm21_boxes                 ``stage.make_realization``: one realization's boxes (its name read by
                           ``data.parse_realization``)
cm21_slices                ``stage.make_slices``: slices, their table and split (``data``)
cm21_cross_boxes           ``stage.make_cross_realization``: a realization of ``cm21.test_source``
                           (``stage.cross_source_of``, ``stage.cross_realizations``)
cm21_cross_slices          ``stage.make_cross_slices``: its slices, cut to the training slice side
cm21_features              ``features.make_features``: the physics baselines' summary statistics of
                           the slices, and of the test source's
cm21_autoencoder           ``learn.train_autoencoder`` (networks in ``models``)
cm21_train                 ``learn.train_task_network``
cm21_evaluate              ``evaluate.evaluate_task`` (baselines in ``baselines``; cell size from
                           ``stage.grid_of``): test set, per box, and the test source
                           (``evaluate.cross_source_scores``)
cm21_metrics               ``evaluate.collect_metrics``, ``evaluate.write_table``
cm21_figures               ``figures.cm21_figures``
cm21_observe               ``telescope.make_observed``: the slices as an interferometer sees them, at
                           one noise level of ``cm21.telescope``
cm21_telescope_train       ``learn.train_task_network`` on observed slices
cm21_telescope_evaluate    ``evaluate.evaluate_task`` on observed slices (physics + networks)
cm21_telescope             ``telescope.telescope_curve``, ``figures.plot_telescope``
=========================  ===================================================================

``published`` holds MAIS 202's numbers, ``checks`` the config's cross-field checks,
``resources`` the memory estimates.
"""

# The entries of config['cm21'] each rule's step reads (cosmodl.contract.step_config: the rule's params).
READS = {
    "cm21_boxes": ("source", "simulate", "redshifts", "zeta_per_fesc"),
    "cm21_slices": ("redshifts", "zeta_per_fesc", "slices", "split"),
    "cm21_autoencoder": ("slices", "train", "train_overrides"),
    "cm21_train": ("slices", "tasks_fixed", "model", "train", "train_overrides"),
    "cm21_cross_boxes": ("source", "simulate", "redshifts", "zeta_per_fesc", "test_source"),
    "cm21_cross_slices": ("source", "redshifts", "zeta_per_fesc", "slices", "test_source"),
    "cm21_features": ("seed", "baselines"),
    "cm21_observe": ("seed", "simulate", "telescope"),
    "cm21_telescope": ("telescope",),
    "cm21_evaluate": ("seed", "slices", "tasks_fixed", "methods", "baselines", "model"),
    "cm21_figures": ("redshifts", "f_esc", "zeta_per_fesc", "slices", "figures", "tasks_fixed"),
}
# the telescope curve's networks and evaluations read what the main ones read
READS["cm21_telescope_train"] = READS["cm21_train"]
READS["cm21_telescope_evaluate"] = READS["cm21_evaluate"]
