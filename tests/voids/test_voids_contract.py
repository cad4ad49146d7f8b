"""The voids stage under the stage contract (tests/stage_contract.py) on a tiny run of its own steps."""

import numpy as np
import pytest

from cosmodl.errors import ConfigError
from cosmodl.splits import load_split
from cosmodl.voids import evaluate, figures, learn, split, subboxes
from cosmodl.voids import stage as steps
from cosmodl.voids.data import load_catalogue, write_catalogue
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

    def test_the_default_split_keeps_every_void_sphere_out_of_test_or_training(self, run, tmp_path):
        """Issue 19: the default gap is twice the largest void radius; buffer 0 is the old, leaky-through-voids one."""
        voids_path, index = run.folder / "voids.fits", run.folder / "index.fits"
        voids, box = load_catalogue(voids_path, "voids")
        params = run.split["params"]
        assert params["buffer"] == "auto" and params["buffer_mpc"] == pytest.approx(2 * voids["radius"].max())
        assert run.split["voids_crossing"]["test|train"] == 0
        cfg = self.reads(self.config({"split": {"buffer": 0}}), "voids_split")
        touching = steps.split(cfg, index, voids_path, "spatial", tmp_path / "touching.json")
        assert touching["voids_crossing"]["test|train"] > 0
        np.testing.assert_array_equal(touching["test"], run.split["test"])  # the same test set either way
        assert len(touching["train"]) > len(run.split["train"])
        big = dict(voids, radius=np.where(voids["radius"] == voids["radius"].max(), 60.0, voids["radius"]))
        write_catalogue(big, tmp_path / "big.fits", "voids", box, "test")  # a file whose voids reach 60 Mpc/h
        cfg = self.reads(self.config({}), "voids_split")
        with pytest.raises(ConfigError, match=r"big.fits: split.buffer = auto is 120 Mpc/h\): split: the train slab"):
            steps.split(cfg, index, tmp_path / "big.fits", "spatial", tmp_path / "big.json")
        assert not (tmp_path / "big.json").exists()
