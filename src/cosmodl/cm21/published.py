"""MAIS 202's numbers (note 21cm.md, from the notebooks' outputs), per task and method.

Each entry says which set the number was measured on and in what unit (slices or 50 x 50
patches). Several are validation accuracies (the notebooks' test cells compared booleans, so
only the argmax-based 47.7 % and 13.7 % are real test numbers).
"""

PUBLISHED = {
    "z_fixed_fesc": {
        "pca_knn": {"accuracy": 0.33, "set": "test", "unit": "patches", "classes": 17},
        "fc": {"accuracy": 0.477, "set": "test", "unit": "patches", "classes": 17},
        "ae_cnn": {"accuracy": 0.96, "set": "val", "unit": "slices", "classes": 17, "range": [0.95, 0.97]},
    },
    "z_all": {
        "ae_cnn": {"accuracy": 0.81, "set": "val", "unit": "slices", "classes": 17, "range": [0.80, 0.82]},
    },
    "fesc_fixed_z": {
        "ae_cnn": {"accuracy": 0.54, "set": "val", "unit": "slices", "classes": 12, "range": [0.43, 0.54],
                   "architecture": "encoder + Conv16-P-Conv8-P-Dense12 (3,876): ours"},
        "cnn": {"accuracy": 0.555, "set": "val", "unit": "slices", "classes": 12, "range": [0.53, 0.58]},
    },
    "fesc_all": {
        "ae_cnn": {"accuracy": 0.137, "set": "test", "unit": "slices", "classes": 12,
                   "architecture": "CNN5: encoder + Conv8-P-Conv4-Dense12 (4,776), not the 4,521 head"},
        "cnn": {"accuracy": 0.075, "set": "val", "unit": "slices", "classes": 12, "range": [0.07, 0.08],
                "architecture": "CNN4: Conv16...Dense12 (43,668), not our Conv32-16-8"},
    },
    "zeta": {},
}
