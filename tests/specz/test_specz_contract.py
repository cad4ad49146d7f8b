"""The specz stage under the stage contract (tests/stage_contract.py) on a tiny run of its own steps."""

import numpy as np

from cosmodl.contract import step_config
from stage_contract import StageContract, TinyRun, tiny_config


def no_training_spectrum_in(folder, cfg):
    """Leak test: no stored validation or test spectrum equals a training spectrum (the training
    positions of the tiny run, made again by the generator)."""
    from cosmodl.specz.data import make_spectra
    from cosmodl.specz.stage import maker_of

    def leak_free(split) -> str:
        positions = np.asarray(split["train"]) % 10**6
        train = make_spectra(maker_of(cfg), cfg["seed"], "train", positions, None)["flux"]
        seen = {row.tobytes() for row in train}
        for name in ("val", "test"):
            with np.load(folder / f"{name}.npz") as stored:
                shared = sum(row.tobytes() in seen for row in stored["clean"])
            if shared:
                return f"{shared} {name} spectra are training spectra"
        return ""

    return leak_free


class TestSpeczContract(StageContract):
    stage = "specz"

    def make_tiny_run(self, folder):
        from cosmodl.specz.evaluate import evaluate
        from cosmodl.specz.figures import specz_figures
        from cosmodl.specz.learn import train_network
        from cosmodl.specz.stage import make_sets, run_name

        cfg = tiny_config(
            "specz",
            {
                "specz": {
                    "n_val": 64,
                    "n_test": 96,
                    "sizes": [128],
                    "baselines": {"forest_train": 128, "forest_trees": 4},
                }
            },
        )

        def reads(rule):  # each step gets only what the stage declares it reads
            return step_config("specz", rule, cfg, strict=True)

        make_sets(reads("specz_sets"), folder / "val.npz", folder / "test.npz")
        name = run_name(3, "noisy", 128)
        train_network(
            reads("specz_train"),
            3,
            "noisy",
            128,
            folder / "val.npz",
            folder / f"{name}.pt",
            folder / f"{name}.csv",
            folder / "work",
            threads=1,
        )
        evaluate(
            reads("specz_evaluate"),
            "noisy",
            folder / "test.npz",
            {name: folder / f"{name}.pt"},
            folder / "noisy.json",
            folder / "noisy.npz",
            threads=1,
        )
        with np.load(folder / "test.npz") as test:
            raw, n_test = test["noisy"][:4], len(test["z"])
        with np.load(folder / "val.npz") as val:
            n_val = len(val["z"])
        return TinyRun(
            folder=folder,
            products={k: (folder / "test.npz", k) for k in ("clean", "noisy", "z", "label", "wave")},
            # sample ids: the three sets are three streams of the generator, position i of each its own spectrum
            split={"train": np.arange(128), "val": np.arange(n_val) + 10**6, "test": np.arange(n_test) + 2 * 10**6},
            leak_free=no_training_spectrum_in(folder, cfg),
            transform=None,
            record=folder / f"{name}.pt",
            raw_inputs=raw,
            evaluations=[folder / "noisy.json"],
            draw_figures=lambda metrics, out: specz_figures(
                reads("specz_figures"),
                metrics,
                folder / "test.npz",
                [folder / "noisy.npz"],
                [folder / f"{name}.csv"],
                out,
            ),
        )
