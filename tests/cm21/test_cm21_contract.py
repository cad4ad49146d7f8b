"""The cm21 stage under the stage contract (tests/stage_contract.py) on a tiny run of its own steps."""

import json

import numpy as np
import pandas as pd

from cosmodl.cm21 import data, evaluate, features, figures, learn
from cosmodl.cm21 import stage as steps
from cosmodl.splits import TEST, TRAIN, VAL
from stage_contract import StageContract, TinyRun

F_ESC, SEED, TEST_SEED = (0.07, 0.13), 150, 160


class TestCm21Contract(StageContract):
    stage = "cm21"

    def make_tiny_run(self, folder):
        cfg = self.config({"tasks": ["z_all"], "methods": ["physics", "pca_knn", "cnn"],
                           "test_source": {"seeds": [TEST_SEED]}})
        slices, table, split = folder / "slices.npy", folder / "slices.csv", folder / "split.json"
        boxes = [folder / data.realization_name(f, SEED) for f in F_ESC]
        for f, box in zip(F_ESC, boxes):
            steps.make_realization(self.reads(cfg, "cm21_boxes"), f, SEED, box, threads=1)
        steps.make_slices(self.reads(cfg, "cm21_slices"), boxes, slices, table, split)
        history = folder / "z_all_cnn_history.csv"
        learn.train_task_network(self.reads(cfg, "cm21_train"), "z_all", "cnn", slices, table, split,
                                 folder / "cnn.pt", history, folder / "work", threads=1)
        test_boxes = [folder / "test" / data.realization_name(f, TEST_SEED) for f in F_ESC]
        for f, box in zip(F_ESC, test_boxes):
            steps.make_cross_realization(self.reads(cfg, "cm21_cross_boxes"), f, TEST_SEED, box, threads=1)
        test_slices, test_table = folder / "test_slices.npy", folder / "test_slices.csv"
        steps.make_cross_slices(self.reads(cfg, "cm21_cross_slices"), test_boxes, split, test_slices, test_table)
        feats = {name: folder / f"{name}_features.npz" for name in ("data", "cross")}
        for name, stack in (("data", slices), ("cross", test_slices)):
            features.make_features(self.reads(cfg, "cm21_features"), stack, split, feats[name], threads=1)
        cross = {"slices": test_slices, "table": test_table, "features": feats["cross"],
                 "source": steps.cross_source_of(cfg)["label"]}
        evaluate.evaluate_task(self.reads(cfg, "cm21_evaluate"), "z_all", slices, table, split,
                               {"cnn": folder / "cnn.pt"}, steps.grid_of(split)[1], folder / "z_all.json",
                               folder / "z_all.npz", threads=1, cross=cross, features_path=feats["data"])
        roles = learn.split_roles(split, len(np.load(slices, mmap_mode="r")))

        def draw(metrics, out):
            figures.cm21_figures(self.reads(cfg, "cm21_figures"), metrics, slices, table, split, boxes, [history], out)

        return TinyRun(folder=folder, cfg=cfg, products={"slices": slices, "cross_slices": test_slices},
                       split={name: np.flatnonzero(roles == role)
                              for name, role in (("train", TRAIN), ("val", VAL), ("test", TEST))},
                       record=folder / "cnn.pt", transform="cm21_scale_clip", raw_inputs=np.load(slices)[:4],
                       evaluations=[folder / "z_all.json"], draw_figures=draw)

    def leaks(self, run):
        """Slices of a seed in training lie at least the buffer (Mpc, periodic) from any of its validation or
        test slices (one density field runs through all boxes of a seed); seeds split whole share nothing."""
        table = pd.read_csv(run.folder / "slices.csv")
        record = json.loads((run.folder / "split.json").read_text())
        dim, cell, buffer = record["grid"]["dim"], record["grid"]["cell_mpc"], record["params"].get("buffer_mpc")
        if record["method"] == "slabs" and buffer <= 0:
            return "slabs of one box without a buffer: structure runs across their faces"
        train = table.iloc[np.asarray(run.split["train"])]
        for name in ("val", "test"):
            other = table.iloc[np.asarray(run.split[name])]
            for seed in set(train["seed"]) & set(other["seed"]):
                d = np.abs(train.loc[train["seed"] == seed, "position"].to_numpy()[:, None]
                           - other.loc[other["seed"] == seed, "position"].to_numpy()[None, :]) % dim
                gap = np.minimum(d, dim - d).min() * cell
                if gap < buffer:
                    return f"seed {seed}: a training slice {gap:.1f} Mpc from a {name} slice"
        return ""
