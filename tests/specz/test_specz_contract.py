"""The specz stage under the stage contract (tests/stage_contract.py) on a tiny run of its own steps."""

import numpy as np

from cosmodl.specz import data, evaluate, figures, learn
from cosmodl.specz import stage as steps
from stage_contract import StageContract, TinyRun

N_TRAIN, STREAM = 128, 10**6  # sample ids: the three sets are three streams of the generator


class TestSpeczContract(StageContract):
    stage = "specz"

    def make_tiny_run(self, folder):
        cfg = self.config({"n_val": 64, "n_test": 96, "sizes": [N_TRAIN],
                           "baselines": {"forest_train": 128, "forest_trees": 4}})
        val, test = folder / "val.npz", folder / "test.npz"
        steps.make_sets(self.reads(cfg, "specz_sets"), val, test)
        name = steps.run_name(3, "noisy", N_TRAIN)
        record, history = folder / f"{name}.pt", folder / f"{name}.csv"
        learn.train_network(self.reads(cfg, "specz_train"), 3, "noisy", N_TRAIN, val, record, history,
                            folder / "work", threads=1)
        evaluate.evaluate(self.reads(cfg, "specz_evaluate"), "noisy", test, {name: record}, folder / "noisy.json",
                          folder / "noisy.npz", threads=1)
        with np.load(test) as stored:
            raw, n_test = stored["noisy"][:4], len(stored["z"])
        with np.load(val) as stored:
            n_val = len(stored["z"])

        def draw(metrics, out):
            figures.specz_figures(self.reads(cfg, "specz_figures"), metrics, test, [folder / "noisy.npz"], [history],
                                  out)

        return TinyRun(folder=folder, cfg=cfg, products={k: (test, k) for k in data.PRODUCTS},
                       split={"train": np.arange(N_TRAIN), "val": STREAM + np.arange(n_val),
                              "test": 2 * STREAM + np.arange(n_test)},
                       record=record, transform=None, raw_inputs=raw, evaluations=[folder / "noisy.json"],
                       draw_figures=draw)

    def leaks(self, run):
        """No stored validation or test spectrum equals a training spectrum (the training positions of the
        tiny run, made again by the generator)."""
        positions = np.asarray(run.split["train"]) % STREAM
        train = data.make_spectra(steps.maker_of(run.cfg), run.cfg["seed"], "train", positions, None)["flux"]
        seen = {row.tobytes() for row in train}
        for name in ("val", "test"):
            with np.load(run.folder / f"{name}.npz") as stored:
                shared = sum(row.tobytes() in seen for row in stored["clean"])
            if shared:
                return f"{shared} {name} spectra are training spectra"
        return ""
