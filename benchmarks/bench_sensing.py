"""Runs sharing sensing measurements, trained in lockstep versus one after another (issue 14).

    python benchmarks/bench_sensing.py [--steps 150] [--repeat 3]

Three factorizations (depths 2, 3, 4, Gaussian init 1e-3, E19 optimizer) of one 100x100
rank-5 matrix seen through 2000 Gaussian measurements, as in X3.  Separate: three calls of
``gradient_descent`` (each step reads the 2000 x 10^4 measurement matrix twice, once for the
residuals and once for the gradient).  Lockstep: ``train_together`` (one blocked pass over the
matrix per step for all three).  Printed: the time per step and per run of each, and their
ratio, measured in this one run (best of ``--repeat``; wall-clock and CPU time), in single
precision (as X3) and in double precision; one BLAS thread.  On a machine shared with other work the absolute times
swing; the ratio is the number to read.
"""

import argparse
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import time  # noqa: E402

import numpy as np  # noqa: E402

from dmf_edu.factorization import init_weights  # noqa: E402
from dmf_edu.training.lockstep import train_together  # noqa: E402
from dmf_edu.problems import gaussian_sensing  # noqa: E402
from dmf_edu.targets import random_low_rank
from dmf_edu.training.loop import gradient_descent  # noqa: E402

DEPTHS = (2, 3, 4)


def per_run_step(fn, steps, repeat):
    """Best wall time and best CPU time of ``fn()`` over ``repeat`` calls, each divided by
    steps x runs (seconds).  On a shared machine the CPU time is the steadier of the two."""
    wall = cpu = np.inf
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return wall / (steps * len(DEPTHS)), cpu / (steps * len(DEPTHS))


def main(steps=150, repeat=3):
    M = random_low_rank(100, 100, 5, rng=0)
    inits = [init_weights((100, 100), N, 1e-3, rng=N) for N in DEPTHS]
    settings = dict(lr=1e-3, max_steps=steps, optimizer="adaptive")   # no loss_tol: exactly `steps` steps
    print(f"3 runs (depths {DEPTHS}) sharing 2000 Gaussian 100x100 measurements, {steps} steps each, "
          f"best of {repeat}, one BLAS thread")
    print(f"{'precision':<10} {'time':<5} {'separate ms/step/run':>21} {'lockstep ms/step/run':>21} {'speed-up':>9}")
    for precision in ("single", "double"):
        problem = gaussian_sensing(M, 2000, rng=1, reduction="mean", precision=precision)
        separate = per_run_step(lambda: [gradient_descent(problem, w, record_steps=[], **settings) for w in inits],
                                steps, repeat)
        together = per_run_step(lambda: train_together(problem, inits, **settings), steps, repeat)
        for kind, a, b in zip(("wall", "CPU"), separate, together):
            print(f"{precision:<10} {kind:<5} {1e3 * a:>21.2f} {1e3 * b:>21.2f} {a / b:>8.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    main(args.steps, args.repeat)
