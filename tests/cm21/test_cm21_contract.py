"""The cm21 stage under the stage contract (tests/stage_contract.py) on a tiny run of its own steps."""

import json

import numpy as np
import pandas as pd

from cosmodl.contract import step_config
from stage_contract import StageContract, TinyRun, tiny_config

F_ESC, SEED = (0.07, 0.13), 150


def slabs_apart(table_path, split_path):
    """Leak test: slices of a seed in training lie at least the buffer (Mpc, periodic) from any of its
    validation or test slices (one density field runs through all boxes of a seed); seeds split whole
    share nothing."""
    table = pd.read_csv(table_path)
    record = json.loads(open(split_path).read())
    dim, cell = record["grid"]["dim"], record["grid"]["cell_mpc"]

    def leak_free(split) -> str:
        if record["method"] == "slabs" and record["params"]["buffer_mpc"] <= 0:
            return "slabs of one box without a buffer: structure runs across their faces"
        train = table.iloc[np.asarray(split["train"])]
        for name in ("val", "test"):
            other = table.iloc[np.asarray(split[name])]
            for seed in set(train["seed"]) & set(other["seed"]):
                a = train.loc[train["seed"] == seed, "position"].to_numpy()[:, None]
                b = other.loc[other["seed"] == seed, "position"].to_numpy()[None, :]
                d = np.abs(a - b) % dim
                gap = np.minimum(d, dim - d).min() * cell
                if gap < record["params"]["buffer_mpc"]:
                    return f"seed {seed}: a training slice {gap:.1f} Mpc from a {name} slice"
        return ""

    return leak_free


class TestCm21Contract(StageContract):
    stage = "cm21"

    def make_tiny_run(self, folder):
        from cosmodl.cm21.data import realization_name
        from cosmodl.cm21.evaluate import evaluate_task
        from cosmodl.cm21.figures import cm21_figures
        from cosmodl.cm21.learn import split_roles, train_task_network
        from cosmodl.cm21.stage import grid_of, make_realization, make_slices
        from cosmodl.splits import TEST, TRAIN, VAL

        cfg = tiny_config("cm21", {"cm21": {"tasks": ["z_all"], "methods": ["physics", "pca_knn", "cnn"]}})

        def reads(rule):  # each step gets only what the stage declares it reads
            return step_config("cm21", rule, cfg, strict=True)

        boxes = [folder / realization_name(f, SEED) for f in F_ESC]
        for f, box in zip(F_ESC, boxes):
            make_realization(reads("cm21_boxes"), f, SEED, box, threads=1)
        paths = {
            k: folder / name for k, name in (("slices", "slices.npy"), ("table", "slices.csv"), ("split", "split.json"))
        }
        make_slices(reads("cm21_slices"), boxes, paths["slices"], paths["table"], paths["split"])
        train_task_network(
            reads("cm21_train"),
            "z_all",
            "cnn",
            paths["slices"],
            paths["table"],
            paths["split"],
            folder / "cnn.pt",
            folder / "z_all_cnn_history.csv",
            folder / "work",
            threads=1,
        )
        evaluate_task(
            reads("cm21_evaluate"),
            "z_all",
            paths["slices"],
            paths["table"],
            paths["split"],
            {"cnn": folder / "cnn.pt"},
            grid_of(paths["split"])[1],
            folder / "z_all.json",
            folder / "z_all.npz",
            threads=1,
        )
        roles = split_roles(paths["split"], len(np.load(paths["slices"], mmap_mode="r")))
        return TinyRun(
            folder=folder,
            products={"slices": paths["slices"]},
            split={
                name: np.flatnonzero(roles == role) for name, role in (("train", TRAIN), ("val", VAL), ("test", TEST))
            },
            leak_free=slabs_apart(paths["table"], paths["split"]),
            record=folder / "cnn.pt",
            transform="cm21_scale_clip",
            raw_inputs=np.load(paths["slices"])[:4],
            evaluations=[folder / "z_all.json"],
            draw_figures=lambda metrics, out: cm21_figures(
                reads("cm21_figures"),
                metrics,
                paths["slices"],
                paths["table"],
                paths["split"],
                boxes,
                [folder / "z_all_cnn_history.csv"],
                out,
            ),
        )
