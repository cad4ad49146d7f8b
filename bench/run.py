"""Benchmarks (not timed tests): `make bench` writes results/bench/*.json.

Every number comes with a reference measured in the same process and run:
* cic: cosmodl's CIC (counting sort + parallel slab deposit) vs the plain serial CIC
  (``cic_deposit_3d_reference``) on 10 M uniform random particles at 256^3 and 512^3, plus the
  deposit on particles already sorted by x-slab.
* training: images/s of the kit's void-map training step (resnet18 + FPN, AdamW, BCE, dihedral
  augmentation) fed by the real memory-mapped loader, vs the same step on a batch already in
  memory, vs a bare PyTorch step (the same augmentation, forward, loss, backward, AdamW) on that batch.
* images: paper-scale subbox galaxy images (10,648 subboxes of 224^2 from ~1e7 galaxies in a
  1050 Mpc/h box) vs the time to write the same number of bytes to disk.
* lensing_simulation, lensing_training: see bench/lensing.py.
* cm21_generator: see bench/cm21.py.
* specz: see bench/specz.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import cm21  # bench/cm21.py (the script directory is on sys.path)
import lensing  # bench/lensing.py
import numba
import numpy as np
import specz  # bench/specz.py

from cosmodl.gridding.cic import (
    cic_deposit_3d,
    cic_deposit_3d_reference,
    sort_by_x_cell,
)
from cosmodl.voids.subboxes import PRODUCTS, SubboxLattice, build_subbox_products


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def machine():
    return {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
            "numba_threads": numba.get_num_threads()}


def bench_cic(n_part=10_000_000):
    rng = np.random.default_rng(0)
    pos = (rng.random((n_part, 3), dtype=np.float32) * 1000.0).astype(np.float32)
    pos[pos >= 1000.0] = 0.0
    weights = np.ones(n_part, np.float32)
    rows = []
    for n in (256, 512):
        cic_deposit_3d(pos[:1000], 1000.0, n)
        cic_deposit_3d_reference(pos[:1000], weights[:1000], 1000.0, n)
        sorted_pos, _, _ = sort_by_x_cell(pos, 1000.0, n)
        cic_deposit_3d(sorted_pos[:1000], 1000.0, n, presorted=True)
        t_ref = best_of(lambda: cic_deposit_3d_reference(pos, weights, 1000.0, n))
        t_new = best_of(lambda: cic_deposit_3d(pos, 1000.0, n))
        t_sorted = best_of(lambda: cic_deposit_3d(sorted_pos, 1000.0, n, presorted=True))
        grid = np.zeros((n, n, n), np.float32)  # reused grid, as Pylians' MASL.MA(pos, field, ...)
        t_reuse = best_of(lambda: cic_deposit_3d(pos, 1000.0, n, out=grid))
        t_sorted_reuse = best_of(lambda: cic_deposit_3d(sorted_pos, 1000.0, n, presorted=True, out=grid))
        threads = numba.get_num_threads()
        rows.append({"grid": n, "particles": n_part,
                     "reference_serial_s": t_ref, "cosmodl_random_order_s": t_new, "cosmodl_presorted_s": t_sorted,
                     "reference_mpart_per_s": n_part / t_ref / 1e6,
                     "random_order_mpart_per_s": n_part / t_new / 1e6,
                     "random_order_mpart_per_s_per_core": n_part / t_new / 1e6 / threads,
                     "presorted_mpart_per_s": n_part / t_sorted / 1e6,
                     "speedup_vs_reference": t_ref / t_new,
                     "reused_grid_random_order_mpart_per_s_per_core": n_part / t_reuse / 1e6 / threads,
                     "reused_grid_presorted_mpart_per_s": n_part / t_sorted_reuse / 1e6})
    return {"benchmark": "cic", "machine": machine(), "results": rows,
            "targets": {"random_order_mpart_per_s_per_core": 15, "presorted_mpart_per_s": 40}}


def bench_images(n_gal=10_000_000, out_dir=None):
    rng = np.random.default_rng(1)
    box = 1050.0
    pos = (rng.random((n_gal, 3), dtype=np.float32) * box).astype(np.float32)
    pos[pos >= box] = 0.0
    lattice = SubboxLattice(box, 1050, 224, 37, count=22)
    voids = {k: np.array([500.0]) for k in ("x", "y", "z")}
    voids["radius"] = np.array([20.0])
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        tmp = Path(tmp)
        outputs = {k: tmp / (f"{k}.fits" if k == "index" else f"{k}.npy") for k in PRODUCTS}
        small = SubboxLattice(100.0, 50, 20, 10)  # compile the kernels outside the timing
        build_subbox_products(pos[:1000] / 10.5, voids, small, 5, 1, outputs)
        t0 = time.perf_counter()
        build_subbox_products(pos, voids, lattice, 56, 1, outputs)
        t_products = time.perf_counter() - t0
        n_bytes = sum(p.stat().st_size for p in outputs.values())
        image_bytes = outputs["images"].stat().st_size
        block = np.ones(image_bytes // 4 // 64, dtype=np.float32)
        t0 = time.perf_counter()
        with open(tmp / "write_only.bin", "wb") as f:
            for _ in range(64):
                f.write(block.tobytes())
            f.flush()
            os.fsync(f.fileno())
        t_write = time.perf_counter() - t0
    return {"benchmark": "paper_scale_images", "machine": machine(),
            "galaxies": n_gal, "subboxes": lattice.n_subboxes, "image_side": 224, "map_side": 56,
            "products_s": t_products, "bytes_written": n_bytes,
            "write_only_s_for_image_bytes": t_write, "ratio_products_to_write_only": t_products / t_write,
            "target_s": 60}


def bench_training(side=64, batch=32, steps=12, n_images=1024, out_dir=None, device="auto"):
    """Images/s of the kit's training step (cosmodl.training.supervised_step) on the void-map model.

    Three ways, interleaved in one run: the kit's step fed by the real memory-mapped loader, the
    kit's step on a batch already in memory, and a bare PyTorch step (forward, loss, backward,
    AdamW) on that batch, which is the reference for the kit's own overhead.
    """
    import torch

    from cosmodl.voids.models import VoidMapNet
    from cosmodl.training import (
        ArrayDataset,
        EpochLoader,
        StepContext,
        TrainConfig,
        pick_device,
        supervised_step,
    )
    from cosmodl.training.device import memory_format, model_to_device
    from cosmodl.training.distributed import Distributed
    from cosmodl.voids.learn import ImageTransform, augment_map, map_loss

    dev = pick_device(device, numba.get_num_threads())
    rng = np.random.default_rng(0)
    m = side // 4
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        path = Path(tmp) / "images.npy"
        np.save(path, rng.poisson(2.5, (n_images, side, side)).astype(np.float32))
        targets = rng.random((n_images, m, m)).astype(np.float32)
        ds = ArrayDataset(path, targets, np.arange(n_images), ImageTransform("log1p", 2.5))
        loader = EpochLoader(ds, batch, True, 0, 0, dev.type == "cuda")
        torch.manual_seed(0)
        model = VoidMapNet("resnet18")
        model_to_device(model, dev)
        model.train()
        optimizers = {"main": torch.optim.AdamW(model.parameters(), lr=1e-3)}
        ctx = StepContext(dev, TrainConfig(batch_size=batch), Distributed(dev.type), augment_map)

        def kit_step(batch_xy, i):  # the trainer's own step, so the bench times what training runs
            ctx.start_batch(0, i)
            supervised_step(model, batch_xy, ctx, optimizers, map_loss)

        def bare_step(batch_xy, i):  # plain PyTorch: what any training loop must do, nothing more
            x, y = augment_map(batch_xy[0].to(dev), batch_xy[1].to(dev), torch.Generator().manual_seed(i))
            loss = map_loss(model(x.contiguous(memory_format=memory_format(dev, x.ndim))), y)
            optimizers["main"].zero_grad(set_to_none=True)
            loss.backward()
            optimizers["main"].step()

        def sync():
            if dev.type == "cuda":
                torch.cuda.synchronize()

        def run_loader():
            n = 0
            for i, xy in enumerate(loader):
                if i == steps:
                    break
                kit_step(xy, i)
                n += len(xy[0])
            sync()
            return n

        xy0 = ds.__getitems__(list(range(batch)))

        def in_memory(step):
            def run():
                for i in range(steps):
                    step(xy0, i)
                sync()
                return steps * batch
            return run

        runs = {"kit_in_memory": in_memory(kit_step), "kit_data_loader": run_loader,
                "bare_in_memory": in_memory(bare_step)}
        for fn in runs.values():  # warm up
            fn()
        rates = {name: [] for name in runs}
        for _ in range(2):  # interleaved, best of two
            for name, fn in runs.items():
                t0 = time.perf_counter()
                n = fn()
                rates[name].append(n / (time.perf_counter() - t0))
        best = {name: max(r) for name, r in rates.items()}
    return {"benchmark": "training_step", "machine": machine(), "device": str(dev),
            "device_name": torch.cuda.get_device_name() if dev.type == "cuda" else platform.processor(),
            "model": "VoidMapNet resnet18 + FPN", "image_side": side, "batch_size": batch, "steps": steps,
            "data_loader_images_per_s": best["kit_data_loader"], "in_memory_images_per_s": best["kit_in_memory"],
            "bare_pytorch_images_per_s": best["bare_in_memory"],
            "ratio_loader_to_in_memory": best["kit_data_loader"] / best["kit_in_memory"],
            "ratio_kit_step_to_bare_pytorch": best["kit_in_memory"] / best["bare_in_memory"],
            "target_ratio": 0.9}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="results/bench")
    parser.add_argument("--only", choices=["cic", "images", "training", "lensing_simulation", "lensing_training",
                                          "cm21_generator", "specz"],
                        default=None)
    parser.add_argument("--train-side", type=int, default=64, help="image side of the training benchmark")
    parser.add_argument("--train-steps", type=int, default=12)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                        help="device of the training benchmark (auto: CUDA with bf16 when present)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, fn in (("cic", bench_cic), ("images", lambda: bench_images(out_dir=out)),
                     ("training", lambda: bench_training(args.train_side, steps=args.train_steps, out_dir=out,
                                                        device=args.device)),
                     ("lensing_simulation", lensing.bench_simulation),
                     ("lensing_training", lambda: lensing.bench_training(device=args.device)),
                     ("cm21_generator", cm21.bench_generator),
                     ("specz", lambda: specz.bench_specz(device=args.device))):
        if args.only and args.only != name:
            continue
        result = fn()
        (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
