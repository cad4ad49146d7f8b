"""The lensing stage under the stage contract (tests/stage_contract.py) on a tiny run of its own steps."""

import numpy as np

from cosmodl.contract import step_config
from stage_contract import StageContract, TinyRun, tiny_config

LENS_COLUMNS = ("theta_e", "lens_q", "lens_phi", "shear", "source_x", "source_y")


def no_shared_lens(params_path):
    """Leak test (iid sampling): no validation or test image shares a drawn lens parameter value with a
    training image (parameters the preset holds fixed, such as Model A's Einstein radius, are left out)."""
    from cosmodl.lensing.data import read_params

    params = read_params(params_path)

    def leak_free(split) -> str:
        for name in ("val", "test"):
            for column in LENS_COLUMNS:
                values = params[column].to_numpy()
                if np.unique(values[np.asarray(split["train"])]).size == 1:
                    continue  # fixed by the preset
                shared = np.intersect1d(values[np.asarray(split["train"])], values[np.asarray(split[name])])
                if len(shared):
                    return f"{len(shared)} values of {column} in both train and {name}"
        return ""

    return leak_free


class TestLensingContract(StageContract):
    stage = "lensing"

    def make_tiny_run(self, folder):
        from cosmodl.lensing.data import read_params, select
        from cosmodl.lensing.evaluate import evaluate_dataset
        from cosmodl.lensing.figures import lensing_figures
        from cosmodl.lensing.learn import train_lensing_model
        from cosmodl.lensing.stage import merge_chunks, simulate_chunk

        cfg = tiny_config(
            "lensing",
            {
                "lensing": {
                    "sizes": {"train": 8, "val": 3, "test": 4},
                    "chunk_size": 100,
                    "train": {"batch_size": 4},
                    "baselines": {"pca_components": 4},
                }
            },
        )
        from cosmodl.lensing.simulate import PRESET_KEYS

        def reads(rule):  # each step gets only what the stage declares it reads
            return step_config("lensing", rule, cfg, strict=True)

        population = PRESET_KEYS["A"]
        simulate = reads("lensing_simulate") | {population: cfg[population], "presets": ["A"], "sampling": ["iid"]}
        simulate_chunk(simulate, "A", 0, folder / "0.npy", folder / "0.csv")
        merge_chunks(
            [folder / "0.npy"],
            [folder / "0.csv"],
            folder / "images.npy",
            folder / "params.csv",
            folder / "split.json",
            cfg["seed"],
        )
        records = {}
        for name in cfg["models"]:
            records[name] = folder / f"{name}.pt"
            train_lensing_model(
                reads("lensing_train"),
                "A",
                name,
                folder / "images.npy",
                folder / "params.csv",
                records[name],
                folder / f"A_{name}_history.csv",
                folder / f"work_{name}",
                threads=1,
            )
        evaluate_dataset(
            reads("lensing_evaluate"),
            "A",
            folder / "images.npy",
            folder / "params.csv",
            records,
            folder / "A.json",
            folder / "A.npz",
            threads=1,
        )
        params = read_params(folder / "params.csv")
        return TinyRun(
            folder=folder,
            products={"images": folder / "images.npy"},
            split={k: select(params, k) for k in ("train", "val", "test")},
            leak_free=no_shared_lens(folder / "params.csv"),
            record=records["dcae"],
            transform="lensing_minmax",
            raw_inputs=np.load(folder / "images.npy")[:4],
            evaluations=[folder / "A.json"],
            draw_figures=lambda metrics, out: lensing_figures(
                metrics,
                {"A": folder / "A.npz"},
                {"A": folder / "images.npy"},
                {"A": folder / "params.csv"},
                [folder / f"A_{name}_history.csv" for name in cfg["models"]],
                out,
                3,
            ),
        )
