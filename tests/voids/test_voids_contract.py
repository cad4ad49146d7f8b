"""The voids stage under the stage contract (tests/stage_contract.py) on a tiny run of its own steps."""

import numpy as np

from cosmodl.contract import step_config
from stage_contract import StageContract, TinyRun, tiny_config

TASKS = ("map", "counts")


def no_shared_volume(index_path):
    """Leak test: no test or validation subbox shares a cell with a training subbox (periodic box)."""
    from cosmodl.voids.split import overlap_cells
    from cosmodl.voids.subboxes import lattice_from_index

    lattice = lattice_from_index(index_path)
    origins = lattice.origins()

    def leak_free(split) -> str:
        train = origins[np.asarray(split["train"])]
        for name in ("val", "test"):
            shared = overlap_cells(
                origins[np.asarray(split[name])][:, None, :], train[None, :, :], lattice.size, lattice.n_cells
            )
            if shared.max() > 0:
                return f"{int((shared.max(axis=1) > 0).sum())} {name} subboxes overlap training subboxes"
        return ""

    return leak_free


class TestVoidsContract(StageContract):
    stage = "voids"

    def make_tiny_run(self, folder):
        from cosmodl.splits import load_split
        from cosmodl.voids.evaluate import evaluate_void_model
        from cosmodl.voids.figures import voids_figures
        from cosmodl.voids.learn import train_void_model
        from cosmodl.voids.stage import galaxy_catalogue, split, subbox_products, void_catalogue
        from cosmodl.voids.subboxes import lattice_from_index

        cfg = tiny_config("voids", {"voids": {"train": {"epochs": 1}}})

        def reads(rule):  # each step gets only what the stage declares it reads
            return step_config("voids", rule, cfg, strict=True)

        galaxy_catalogue(reads("voids_galaxies"), None, folder / "galaxies.fits")
        void_catalogue(
            reads("voids_catalogue"), folder / "galaxies.fits", None, folder / "voids.fits", folder / "summary.json"
        )
        products = {name: folder / f"{name}.npy" for name in ("images", "void_fraction", "void_centres")}
        subbox_products(
            reads("voids_subboxes"),
            folder / "galaxies.fits",
            folder / "voids.fits",
            {**products, "index": folder / "index.fits"},
        )
        split(reads("voids_split"), folder / "index.fits", folder / "voids.fits", "spatial", folder / "split.json")
        for task in TASKS:
            train_void_model(
                reads("voids_train"),
                task,
                folder / "split.json",
                products,
                folder / "index.fits",
                folder / f"{task}.pt",
                folder / f"{task}.csv",
                folder / f"work_{task}",
                threads=1,
            )
            evaluate_void_model(
                reads("voids_evaluate"),
                folder / f"{task}.pt",
                folder / "split.json",
                products,
                folder / "index.fits",
                folder / f"{task}_spatial.json",
                folder / f"{task}_spatial.npz",
                threads=1,
            )
        lattice = lattice_from_index(folder / "index.fits")
        return TinyRun(
            folder=folder,
            products=products,
            split=load_split(folder / "split.json"),
            leak_free=no_shared_volume(folder / "index.fits"),
            record=folder / "map.pt",
            transform="voids_image",
            raw_inputs=np.load(products["images"])[:4],
            evaluations=[folder / f"{t}_spatial.json" for t in TASKS],
            metrics_options={"headline_split": "spatial"},
            draw_figures=lambda metrics, out: voids_figures(
                metrics,
                {(t, "spatial"): folder / f"{t}_spatial.npz" for t in TASKS},
                {(t, "spatial"): folder / f"{t}.csv" for t in TASKS},
                products["images"],
                lattice.size * lattice.cell,
                out,
                2,
                "spatial",
            ),
        )
