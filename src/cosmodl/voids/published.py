"""Published numbers of the voids stage's source project (note voids.md section 1).

The 2019 project published no metrics file, logs or models: its only result is a scatter plot of
the counts network, read off the figure (approximate), on its random split, which leaks (every
test subbox overlaps training subboxes by at least 83.5 %). Its void-map network has no number:
the "0.5 everywhere" maps are an artefact of a sigmoid applied to an MSE network's outputs.
"""

PUBLISHED = {"counts": {"n_voids": {"pearson_r": 0.67, "slope": 0.38, "rmse": 9.7, "rmse_training_mean": 12.9,
                                    "split": "random (leaky)", "source": "digitised from the 2019 counts figure"}},
             "maps": {}}
