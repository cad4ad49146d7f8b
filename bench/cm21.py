"""21-cm benchmark (imported by run.py): our reionisation generator against 21cmFAST 4.1.1.

The reference is 21cmFAST 4.1.1 on this kind of machine (note 21cm.md section 3: 23.7 s for 17
redshifts at 64^3 / 96 Mpc, DIM 192, const-zeta template, zeta 25, R_max 30, seed 150), with its
neutral-fraction history at z = 13 ... 7. That template cuts haloes sharply at M_TURN = 10^8.7
Msun (``M_MIN_in_Mass``), and its history is that of one C thread (21cmFAST seeds a random
stream per thread, so N_THREADS changes the realization). When the ``21cmFAST`` package imports
here, it is run side by side (one thread) and its own time and history are used.

Ours runs the same parameters (zeta 25, M_min 10^8.7 Msun, R_max 30 Mpc) on ``threads`` threads
and, second, the defaults of ``cm21.simulate`` (calibrated on the real MAIS 202 boxes) against
those boxes' history (f_esc 0.096, zeta 24).
"""

from __future__ import annotations

import time

import numpy as np

from cosmodl.cm21.simulate import Reionisation, simulate_realization
from cosmodl.cosmology import planck18

REDSHIFTS = [float(z) for z in np.arange(5.0, 13.01, 0.5)]
PUBLISHED_21CMFAST = {"seconds": 23.7, "grid": "64^3 / 96 Mpc, DIM 192", "version": "4.1.1", "threads": 1,
                      "x_hi": {13.0: 0.982, 12.0: 0.964, 11.0: 0.928, 10.0: 0.861, 9.0: 0.734, 8.0: 0.457,
                               7.5: 0.206, 7.0: 0.015}}
REAL_BOXES = {6.5: 0.1259, 7.0: 0.3133, 7.5: 0.4808, 8.0: 0.6125, 9.0: 0.7849, 10.0: 0.8823, 11.0: 0.9371,
              12.0: 0.9672, 13.0: 0.9834}


def _run_21cmfast(threads: int = 1):
    """21cmFAST on the note's grid and settings, or None where the package does not import."""
    try:
        import py21cmfast as p21c
    except ImportError:
        return None
    import tempfile

    inputs = p21c.InputParameters.from_template(["const-zeta"], random_seed=150).evolve_input_structs(
        HII_DIM=64, BOX_LEN=96, DIM=192, HII_EFF_FACTOR=25, R_BUBBLE_MAX=30, N_THREADS=threads)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        coevals = p21c.run_coeval(inputs=inputs, out_redshifts=REDSHIFTS, cache=p21c.OutputCache(tmp), write=False)
        seconds = time.perf_counter() - t0
    x_hi = {round(float(c.redshift), 2): float(np.mean(c.neutral_fraction)) for c in coevals}  # high z first
    return {"seconds": seconds, "grid": "64^3 / 96 Mpc, DIM 192", "version": p21c.__version__, "threads": threads,
            "x_hi": {z: x_hi[z] for z in PUBLISHED_21CMFAST["x_hi"]}, "measured_here": True}


def _ours(p, cosmo, threads: int) -> tuple[float, dict]:
    """Best of two wall times (s) of one 17-redshift realization, and its boxes."""
    best, out = float("inf"), None
    for _ in range(2):
        t0 = time.perf_counter()
        out = simulate_realization(p, REDSHIFTS, 150, cosmo, workers=threads)
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_generator() -> dict:
    import numba

    cosmo = planck18(h=0.68, Om0=0.31, Ob0=0.048, sigma8=0.81, n_s=0.97)
    same = Reionisation(64, 96.0, 25.0, m_min=10**8.7, r_max=30.0)
    simulate_realization(same, [8.0], 1, cosmo, workers=2)  # imports and compiled kernels warm
    times, ours = {}, None
    for threads in (1, 2):
        numba.set_num_threads(threads)
        times[threads], ours = _ours(same, cosmo, threads)
    reference = _run_21cmfast(1) or dict(PUBLISHED_21CMFAST, measured_here=False)
    two = _run_21cmfast(2) if reference["measured_here"] else None
    diffs = {z: ours[z]["x_hi"] - x for z, x in reference["x_hi"].items()}
    t0 = time.perf_counter()
    defaults = simulate_realization(Reionisation(64, 96.0, 24.0), REDSHIFTS, 150, cosmo, workers=2)
    t_defaults = time.perf_counter() - t0
    real_diffs = {z: defaults[z]["x_hi"] - x for z, x in REAL_BOXES.items()}
    fastest_reference = min(reference["seconds"], two["seconds"]) if two else reference["seconds"]
    return {"grid": "64^3 / 96 Mpc", "redshifts": len(REDSHIFTS),
            "ours_seconds_1_thread": times[1], "ours_seconds_2_threads": times[2],
            "reference": reference, "reference_2_threads_seconds": two["seconds"] if two else None,
            "ratio_21cmfast_1_thread_over_ours_1_thread": reference["seconds"] / times[1],
            "ratio_fastest_21cmfast_over_ours_2_threads": fastest_reference / times[2], "target_ratio": 3.0,
            "ours_x_hi_same_parameters": {z: ours[z]["x_hi"] for z in reference["x_hi"]},
            "max_abs_x_hi_difference_same_parameters": float(max(abs(v) for v in diffs.values())),
            "ours_seconds_defaults_2_threads": t_defaults,
            "ours_x_hi_defaults_zeta24": {z: defaults[z]["x_hi"] for z in REAL_BOXES},
            "max_abs_x_hi_difference_defaults_vs_real_boxes": float(max(abs(v) for v in real_diffs.values())),
            "target_x_hi_difference": 0.1}
