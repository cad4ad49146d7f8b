"""The lensing data sets on disk and how they are read (made by :mod:`cosmodl.lensing.stage`).

A *data set* is a preset simulated under one sampling scheme: its name is the preset (``A``,
``II``) for ``iid`` sampling and ``<preset>-lattice`` for ``lattice`` sampling
(:func:`dataset_names`).

Files of a data set (``results/lensing/data/<dataset>/``)
---------------------------------------------------------
``images.npy``
    float32 (N, num_pix, num_pix), counts/s, in :func:`~cosmodl.lensing.simulate.dataset_items`
    order (splits train, val, test; within each the classes no_sub, spherical, vortex).
``params.csv``
    One row per image: split, class, index and the drawn parameters
    (:data:`~cosmodl.lensing.simulate.PARAM_COLUMNS`).
``split.json``
    The split that training and evaluation read (checked against ``params.csv`` by
    :func:`read_params`), a :func:`cosmodl.splits.split_record`: every image was drawn for its split from its own
    seed stream, so no image is shared between sets. Under ``iid`` sampling no parameter value is
    shared either (``leaky: false``); under ``lattice`` sampling the images of a class share its
    lattice's values across splits by design (``leaky: true``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..io import load_array
from ..splits import ROLE_NAMES, load_split
from ..transforms import register_transform
from .sampling import SAMPLINGS
from .simulate import CLASSES, PRESET_KEYS, PRESETS, Recipe
ANOMALY_MODELS = ("dcae", "vae", "aae", "rbm")
MODELS = (*ANOMALY_MODELS, "resnet")
# The array product of a data set (``images.npy``): name -> (dtype, shape); n images of pix x pix pixels.
PRODUCTS = {"images": ("float32", ("n", "pix", "pix"))}
CLASS_LABEL = {cls: i for i, cls in enumerate(CLASSES)}
ROLE_OF_SPLIT = {name: role for role, name in ROLE_NAMES.items()}


def dataset_names(cfg: dict) -> list[str]:
    """The data sets of a run: every preset under every sampling scheme (``lensing.presets`` x ``lensing.sampling``)."""
    return [preset if sampling == "iid" else f"{preset}-{sampling}" for preset in cfg["presets"]
            for sampling in cfg["sampling"]]


def parse_dataset(name: str) -> tuple[str, str]:
    """(preset, sampling) of a data-set name (:func:`dataset_names`)."""
    preset, _, sampling = name.partition("-")
    sampling = sampling or "iid"
    if preset not in PRESETS or sampling not in SAMPLINGS or name.endswith("-iid"):
        raise ValueError(f"unknown lensing data set {name!r}: expected a preset {PRESETS}, optionally followed by "
                         "'-lattice'")
    return preset, sampling


def recipe_of(cfg: dict, dataset: str) -> Recipe:
    """The simulation recipe of data set ``dataset`` from ``config['lensing']``."""
    preset, sampling = parse_dataset(dataset)
    return Recipe(seed=cfg["seed"], preset=preset, population=cfg[PRESET_KEYS[preset]], numerics=cfg["image"],
                  sampling=sampling, lattice_values=cfg["lattice_values"], substructure=cfg["substructure"],
                  sizes=dict(cfg["sizes"]))


def read_params(path, split_path=None, images_path=None, sizes: dict | None = None) -> pd.DataFrame:
    """The per-image parameter table of a data set, with an integer ``label`` column (class index).

    With ``split_path`` (the data set's ``split.json``, the split that training and evaluation
    use) its roles are checked against the table's ``split`` column; with ``images_path`` the
    table must have a row per image; with ``sizes`` (``lensing.sizes``) each split must hold that
    many images of every class.

    Raises
    ------
    ValueError
        If the split record does not cover the table's rows, or puts an image in another set;
        names both files and the rule that remakes them.
    """
    try:
        params = pd.read_csv(path)
        params["label"] = params["class"].map(CLASS_LABEL).astype(np.int64)
    except (OSError, ValueError, KeyError, pd.errors.ParserError) as exc:  # a truncated or foreign table
        raise ValueError(f"{path}: not a lensing parameter table ({type(exc).__name__}: {exc}); remake it "
                         "(snakemake --forcerun lensing_merge)") from None
    if split_path is not None:
        record = load_split(split_path)
        roles = np.full(len(params), "", dtype=object)
        for name in ROLE_NAMES.values():
            roles[record[name][record[name] < len(params)]] = name
        n_recorded = sum(len(record[name]) for name in ROLE_NAMES.values())
        wrong = int(np.sum(roles != params["split"].to_numpy(dtype=object)))
        if n_recorded != len(params) or wrong:
            raise ValueError(f"{split_path} and {path} disagree: {n_recorded} images in the split record, "
                             f"{len(params)} rows, {wrong} in another set; remake both "
                             "(snakemake --forcerun lensing_merge)")
    if images_path is not None:
        n_images = len(load_array(images_path, "lensing_merge"))
        if n_images != len(params):
            raise ValueError(f"{path} has {len(params)} rows for the {n_images} images of {images_path}; remake both "
                             "(snakemake --forcerun lensing_merge)")
    if sizes is not None:
        counts = params.groupby(["split", "class"]).size()
        wrong = {f"{s}/{c}": int(counts.get((s, c), 0)) for s, n in sizes.items() for c in CLASSES
                 if counts.get((s, c), 0) != n}
        if wrong:
            raise ValueError(f"{path}: images per split/class {wrong}, but lensing.sizes asks {dict(sizes)} per class; "
                             "remake the data set (snakemake --forcerun lensing_simulate)")
    return params


def select(params: pd.DataFrame, split: str, classes=CLASSES) -> np.ndarray:
    """Stack indices (int64, sorted) of the images of ``split`` whose class is in ``classes``."""
    mask = (params["split"] == split) & params["class"].isin(list(classes))
    return np.flatnonzero(mask.to_numpy()).astype(np.int64)


@register_transform("lensing_minmax")
class MinMax:
    """Each image to [0, 1]: (x - min) / (max - min) per image (picklable). x: (B, H, W) float32.

    The networks' input transform (``lensing.model.normalisation: minmax``), stored in their records.
    """

    def params(self) -> dict:
        return {}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        lo = x.min(axis=(1, 2), keepdims=True)
        span = x.max(axis=(1, 2), keepdims=True) - lo
        return ((x - lo) / np.where(span > 0, span, 1.0)).astype(np.float32)


def normaliser(kind: str):
    """The input transform of a normalisation name: ``minmax`` or ``none``."""
    if kind == "minmax":
        return MinMax()
    if kind == "none":
        return None
    raise ValueError(f"unknown normalisation {kind!r}; expected 'minmax' or 'none'")


def normalisation_of(cfg: dict, name: str) -> str:
    """Normalisation of network ``name``'s input (``lensing.model.normalisation`` or ``resnet_normalisation``)."""
    return cfg["model"]["resnet_normalisation" if name == "resnet" else "normalisation"]
