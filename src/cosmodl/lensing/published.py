"""Published results: Reddy et al. (2020) on Model A/B, and ML4SCI DeepLense on DeepLenseSim's Models I-III.

Model A/B: DeepLense-Unsupervised ``Results/README.md``.
Model A is the repository's suffix "f", Model B "j" (``../shared/notes/lensing.md`` section 6).
AUCs are no_sub (2,500) against substructure (1,250 spherical + 1,250 vortex); the per-class
AUCs come from a separate evaluation pass of the same models; W1 is the column-sum profile
distance (:func:`cosmodl.lensing.evaluate.column_w1`), MSE the mean per-image reconstruction
error. The original trained on 25,000 no_sub images for (per the author's blog) 500 epochs. The
ResNet-18 value is third-party and unverified; the domain-adaptation README's 0.996 / 0.880 is
quoted beside it.

DeepLenseSim Models I-III (mwt5345/DeepLenseSim; the later, reproducible anchors): ML4SCI
DeepLense ``Updating_the_DeepLense_Pipeline__Saranga_K_Mahanta/README.md`` (unsupervised, 64 x 64,
per-image min-max, MSE score, trained on no-substructure images only, about 30,000 per class, 5,000
test per class) and ``Transformers_Classification_DeepLense_Kartik_Sachdev/README.md``
(supervised, Model I). Their "AE" is a convolutional autoencoder of their own, not the DCAE's
architecture; it stands in the ``dcae`` row. DeepLenseSim's Model II code at HEAD returned
noiseless images, so its published numbers are most likely for images without noise.
"""

_TRAINING = {"n_train": 25000, "epochs": 500}
_ML4SCI_AE = "ML4SCI DeepLense 'AE': a convolutional autoencoder of their own, not the DCAE architecture"
_ML4SCI = {"n_train": 30000}

PUBLISHED = {
    "A": {
        "aae": {"auc_sub": 0.93207, "auc_spherical": 0.8932, "auc_vortex": 0.9735, "w1_no_sub": 0.22117,
                "w1_sub": 0.26408, "mse_no_sub": 1.28e-4, "mse_sub": 1.90e-4, **_TRAINING},
        "vae": {"auc_sub": 0.89910, "auc_spherical": 0.8577, "auc_vortex": 0.9440, "w1_no_sub": 0.22533,
                "w1_sub": 0.24727, "mse_no_sub": 1.46e-4, "mse_sub": 2.06e-4, **_TRAINING},
        "dcae": {"auc_sub": 0.73034, "auc_spherical": 0.6830, "auc_vortex": 0.7739, "w1_no_sub": 0.26566,
                 "w1_sub": 0.30312, "mse_no_sub": 2.11e-4, "mse_sub": 2.47e-4, **_TRAINING},
        "rbm": {"auc_sub": 0.51540, "auc_spherical": 0.5059, "auc_vortex": 0.5193, "w1_no_sub": 1.27070,
                "w1_sub": 1.28601, "mse_no_sub": 0.0573, **_TRAINING},
        "osvm": {"auc_sub": 0.54482},
        "resnet": {"auc_sub": 0.99637, "note": "third-party, unverified; a DeepLense README gives 0.996 (3-class)"},
    },
    "B": {
        "aae": {"auc_sub": 0.76943, "auc_spherical": 0.7301, "auc_vortex": 0.8122, "w1_no_sub": 0.15563,
                "w1_sub": 0.17503, "mse_no_sub": 1.06e-4, "mse_sub": 1.37e-4, **_TRAINING},
        "vae": {"auc_sub": 0.73545, "auc_spherical": 0.7023, "auc_vortex": 0.7750, "w1_no_sub": 0.16617,
                "w1_sub": 0.18154, "mse_no_sub": 1.38e-4, "mse_sub": 1.75e-4, **_TRAINING},
        "dcae": {"auc_sub": 0.66992, "auc_spherical": 0.6095, "auc_vortex": 0.7382, "w1_no_sub": 0.23653,
                 "w1_sub": 0.25365, "mse_no_sub": 1.85e-4, "mse_sub": 2.15e-4, **_TRAINING},
        "rbm": {"auc_sub": 0.50870, "auc_spherical": 0.5063, "auc_vortex": 0.5128, "w1_no_sub": 1.25804,
                "w1_sub": 1.24227, "mse_no_sub": 0.0475, **_TRAINING},
        "osvm": {"auc_sub": 0.52221},
        "resnet": {"auc_sub": 0.880, "note": "DeepLense domain-adaptation README: Model-A-trained ResNet-18 on "
                                             "Model B without adaptation; not a Model-B-trained value"},
    },
    "I": {
        "resnet": {"auc_sub": 0.9991, "note": "CvT (a convolutional vision transformer, not a ResNet), supervised "
                                              "3-class; no_sub one-vs-rest AUC; accuracy 91.54 %"},
    },
    "II": {
        "dcae": {"auc_sub": 0.96077, "note": _ML4SCI_AE, **_ML4SCI},
        "vae": {"auc_sub": 0.99892, **_ML4SCI},
        "aae": {"auc_sub": 0.99510, **_ML4SCI},
    },
    "III": {
        "dcae": {"auc_sub": 0.99248, "note": _ML4SCI_AE, **_ML4SCI},
        "vae": {"auc_sub": 0.99873, **_ML4SCI},
        "aae": {"auc_sub": 0.99889, **_ML4SCI},
    },
}
