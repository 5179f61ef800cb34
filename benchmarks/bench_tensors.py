"""CP tensor completion speed and memory (THEORY.md §10; one BLAS thread, float64).

    python benchmarks/bench_tensors.py

Times are CPU time of this process (``time.process_time``, best of several rounds).

1. One CP step, ``TensorCompletion.loss_and_factor_gradients`` (E20's sparse form, O(K R N)):
   300^3 with K = 5,000 observations and R = 10.
2. The same K and R at 8x the volume (600^3): the ratio of step times (goal: changes by < 20 %;
   the tensor's size never enters).
3. Against the dense step at 100^3 (1e6 entries, where a dense tensor fits): ``cp_to_tensor``,
   ``problem.gradient`` on the dense tensor and ``cp_gradients`` (E20, dense), same K and R.
4. Peak memory of one sparse step at 300^3 and 600^3, and of the dense step at 100^3 (tracemalloc).
"""

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

from bench_core import best_time  # noqa: E402  (CPU time, best of rounds; run from benchmarks/ or as a script)
from dmf_edu.tensors import TensorCompletion, cp_gradients, cp_to_tensor, init_cp  # noqa: E402


def peak_bytes(fn):
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def problem_and_factors(side, K=5000, R=10, seed=0):
    rng = np.random.default_rng(seed)
    shape = (side,) * 3
    index = np.stack([rng.integers(0, side, K) for _ in shape], axis=1)
    return TensorCompletion(shape, index, rng.standard_normal(K)), init_cp(shape, R, 1e-3, rng=rng)


def main():
    K, R = 5000, 10
    sparse = {}
    for side in (300, 600):
        problem, fs = problem_and_factors(side, K, R)
        step = lambda: problem.loss_and_factor_gradients(fs)  # noqa: E731
        sparse[side] = (best_time(step), peak_bytes(step))
        print(f"sparse CP step {side}^3, K = {K}, R = {R}: {sparse[side][0] * 1e3:.3f} ms, "
              f"peak {sparse[side][1] / 1e6:.2f} MB")
    print(f"600^3 / 300^3 step time (8x the volume, same K): {sparse[600][0] / sparse[300][0]:.2f} "
          f"(goal: within 0.8 .. 1.2)")
    problem, fs = problem_and_factors(100, K, R)

    def dense():
        return cp_gradients(fs, problem.gradient(cp_to_tensor(fs)))

    t_dense = best_time(dense, repeat=3)
    t_sparse = best_time(lambda: problem.loss_and_factor_gradients(fs))
    print(f"dense CP step 100^3 (tensor, G, E20 dense): {t_dense * 1e3:.1f} ms, peak "
          f"{peak_bytes(dense) / 1e6:.1f} MB; sparse step at 100^3: {t_sparse * 1e3:.3f} ms; "
          f"dense / sparse = {t_dense / t_sparse:.0f}x")


if __name__ == "__main__":
    main()
