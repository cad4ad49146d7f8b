"""The voids stage under the stage contract (tests/stage_contract.py) on a tiny run of its own steps."""

import numpy as np

from cosmodl.splits import load_split
from cosmodl.voids import evaluate, figures, learn, split, subboxes
from cosmodl.voids import stage as steps
from stage_contract import StageContract, TinyRun

TASKS = ("map", "counts")


class TestVoidsContract(StageContract):
    stage = "voids"

    def make_tiny_run(self, folder):
        cfg = self.config({"train": {"epochs": 1}})
        galaxies, voids, index, split_path = (folder / n for n in ("galaxies.fits", "voids.fits", "index.fits",
                                                                    "split.json"))
        products = {name: folder / f"{name}.npy" for name in ("images", "void_fraction", "void_centres")}
        steps.galaxy_catalogue(self.reads(cfg, "voids_galaxies"), None, galaxies)
        steps.void_catalogue(self.reads(cfg, "voids_catalogue"), galaxies, None, voids, folder / "summary.json")
        steps.subbox_products(self.reads(cfg, "voids_subboxes"), galaxies, voids, {**products, "index": index})
        steps.split(self.reads(cfg, "voids_split"), index, voids, "spatial", split_path)
        for task in TASKS:
            learn.train_void_model(self.reads(cfg, "voids_train"), task, split_path, products, index,
                                   folder / f"{task}.pt", folder / f"{task}.csv", folder / f"work_{task}", threads=1)
            evaluate.evaluate_void_model(self.reads(cfg, "voids_evaluate"), folder / f"{task}.pt", split_path,
                                         products, index, folder / f"{task}_spatial.json",
                                         folder / f"{task}_spatial.npz", threads=1)
        lattice = subboxes.lattice_from_index(index)
        keyed = {(t, "spatial"): t for t in TASKS}

        def draw(metrics, out):
            figures.voids_figures(metrics, {k: folder / f"{t}_spatial.npz" for k, t in keyed.items()},
                                  {k: folder / f"{t}.csv" for k, t in keyed.items()}, products["images"],
                                  lattice.size * lattice.cell, out, 2, "spatial")

        return TinyRun(folder=folder, cfg=cfg, products=products, split=load_split(split_path),
                       record=folder / "map.pt", transform="voids_image", raw_inputs=np.load(products["images"])[:4],
                       evaluations=[folder / f"{t}_spatial.json" for t in TASKS],
                       metrics_options={"headline_split": "spatial"}, draw_figures=draw)

    def leaks(self, run):
        """No validation or test subbox shares a cell with a training subbox (periodic box)."""
        lattice = subboxes.lattice_from_index(run.folder / "index.fits")
        origins = lattice.origins()
        train = origins[np.asarray(run.split["train"])][None, :, :]
        for name in ("val", "test"):
            held_out = origins[np.asarray(run.split[name])][:, None, :]
            shared = split.overlap_cells(held_out, train, lattice.size, lattice.n_cells).max(axis=1)
            if shared.max() > 0:
                return f"{int((shared > 0).sum())} {name} subboxes overlap training subboxes"
        return ""
