"""The lensing stage under the stage contract (tests/stage_contract.py) on a tiny run of its own steps."""

import numpy as np

from cosmodl.lensing import data, evaluate, figures, learn
from cosmodl.lensing import stage as steps
from cosmodl.lensing.simulate import PRESET_KEYS
from cosmodl.splits import load_split
from stage_contract import StageContract, TinyRun

LENS_COLUMNS = ("theta_e", "lens_q", "lens_phi", "shear", "source_x", "source_y")


class TestLensingContract(StageContract):
    stage = "lensing"

    def make_tiny_run(self, folder):
        cfg = self.config({"sizes": {"train": 8, "val": 3, "test": 4}, "chunk_size": 100, "train": {"batch_size": 4},
                           "baselines": {"pca_components": 4}})
        images, params, split = folder / "images.npy", folder / "params.csv", folder / "split.json"
        # what the workflow adds for one data set's simulation jobs: its preset's population and its name
        population = PRESET_KEYS["A"]
        simulate = self.reads(cfg, "lensing_simulate") | {population: cfg[population], "presets": ["A"],
                                                           "sampling": ["iid"]}
        steps.simulate_chunk(simulate, "A", 0, folder / "0.npy", folder / "0.csv")
        steps.merge_chunks([folder / "0.npy"], [folder / "0.csv"], images, params, split, cfg["seed"])
        records = {name: folder / f"{name}.pt" for name in cfg["models"]}
        histories = [folder / f"A_{name}_history.csv" for name in cfg["models"]]
        for (name, record), history in zip(records.items(), histories):
            learn.train_lensing_model(self.reads(cfg, "lensing_train"), "A", name, images, params, record, history,
                                      folder / f"work_{name}", threads=1, split_path=split)
        evaluate.evaluate_dataset(self.reads(cfg, "lensing_evaluate"), "A", images, params, records,
                                  folder / "A.json", folder / "A.npz", threads=1, split_path=split)

        def draw(metrics, out):
            figures.lensing_figures(metrics, {"A": folder / "A.npz"}, {"A": images}, {"A": params}, histories, out, 3)

        return TinyRun(folder=folder, cfg=cfg, products={"images": images},
                       split=load_split(split), record=records["dcae"],
                       transform="lensing_minmax", raw_inputs=np.load(images)[:4],
                       evaluations=[folder / "A.json"], draw_figures=draw)

    def leaks(self, run):
        """Under iid sampling no validation or test image shares a drawn lens parameter value with a training
        image (parameters the preset holds fixed, such as Model A's Einstein radius, are left out)."""
        table = data.read_params(run.folder / "params.csv")
        train = np.asarray(run.split["train"])
        for column in LENS_COLUMNS:
            values = table[column].to_numpy()
            if np.unique(values[train]).size == 1:
                continue  # fixed by the preset
            for name in ("val", "test"):
                shared = np.intersect1d(values[train], values[np.asarray(run.split[name])])
                if len(shared):
                    return f"{len(shared)} values of {column} in both train and {name}"
        return ""
