"""The lensing stage's data steps, called by its Snakemake rules (``scripts/lensing_*.py``).

* :func:`simulate_chunk` - one chunk of a data set's images and their parameters.
* :func:`merge_chunks` - the chunks of a data set into one image stack, parameter table and split record.

The files are described in :mod:`cosmodl.lensing.data`.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..io import atomic_output, write_json
from ..splits import split_record
from .data import ROLE_OF_SPLIT, recipe_of
from .simulate import CLASSES, PARAM_COLUMNS, SPLITS, chunk_items, simulate_items

log = logging.getLogger(__name__)


def simulate_chunk(cfg: dict, dataset: str, chunk: int, images_out, params_out, workers: int = 1) -> None:
    """Simulate chunk ``chunk`` of ``dataset`` and write its images (.npy) and parameters (.csv).

    Parameters
    ----------
    cfg : dict
        ``config['lensing']`` (seed, sizes, chunk_size, image, sampling, lattice_values,
        substructure and the data set's population).
    dataset : str
        A name of :func:`dataset_names`.
    workers : int
        Processes (the rule's threads).
    """
    from .resources import check_memory

    recipe = recipe_of(cfg, dataset)
    check_memory("simulate", cfg)
    items = chunk_items(cfg["sizes"], cfg["chunk_size"], chunk)
    images, rows = simulate_items(recipe, items, workers)
    with atomic_output(images_out) as tmp:
        np.save(tmp, images)
    with atomic_output(params_out) as tmp:
        pd.DataFrame(rows, columns=["split", "class", "index", *PARAM_COLUMNS]).to_csv(tmp, index=False)
    log.info("data set %s chunk %d: %d images", dataset, chunk, len(images))


def merge_chunks(image_chunks, param_chunks, images_out, params_out, split_out, seed: int,
                 sampling: str = "iid") -> None:
    """Concatenate the chunks of a data set (in order) into one stack, table and split record.

    ``sampling`` (iid or lattice) decides the record's ``leaky`` flag.

    Raises
    ------
    ValueError
        If a chunk's images and parameter rows do not match in number (nothing is written).
    """
    tables = [pd.read_csv(p) for p in param_chunks]
    chunks = [np.load(p, mmap_mode="r") for p in image_chunks]
    for path, chunk, table in zip(image_chunks, chunks, tables):
        if len(chunk) != len(table):
            raise ValueError(f"{path}: {len(chunk)} images but {len(table)} parameter rows")
    params = pd.concat(tables, ignore_index=True)
    with atomic_output(images_out) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(params), *chunks[0].shape[1:]))
        start = 0
        for chunk in chunks:
            out[start:start + len(chunk)] = chunk
            start += len(chunk)
        out.flush()
        del out
    with atomic_output(params_out) as tmp:
        params.to_csv(tmp, index=False)
    roles = params["split"].map(ROLE_OF_SPLIT).to_numpy(np.int8)
    counts = {s: {c: int(((params["split"] == s) & (params["class"] == c)).sum()) for c in CLASSES} for s in SPLITS}
    write_json(split_record(roles, "generated", {"seed": seed, "sampling": sampling}, leaky=sampling == "lattice",
                            per_class=counts), split_out)
