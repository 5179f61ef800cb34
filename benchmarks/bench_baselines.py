"""Benchmark: nuclear-norm solves (E13), iterations and seconds, measured in one run and printed as ratios.

Instances (all completion problems):
  * issue 12: 60 x 60 ground truth of rank 3, 1100 observed entries, eps = 1e-3 (several seeds);
    target: under about 500 iterations and >= 10x faster than cvxpy/SCS at equal or better accuracy;
  * X9 images: matplotlib's sample photograph (grace_hopper.jpg, gray, 8x block average: 75 x 64)
    and MRI slice (s1045.ima.gz, 4x block average: 64 x 64), standardized, 30 % of the pixels
    observed, eps = 0 and eps = 1e-2 (from dmf_edu.datasets when it exists, else read here the same way);
  * X1: 100 x 100 rank 5, 2000 observed entries, eps = 1e-3.  The reference code's general conic
    solver took 3-9 minutes per solve on this CPU (THEORY.md §8); the target there is >= 50x.
Each instance is solved with the defaults (Anderson-accelerated ADMM) and with ``anderson=0`` (plain
ADMM, same penalty), at the default tol 1e-6 on the relative gap and the relative violation.
If cvxpy is importable (it is not a dependency), SCS solves the 60 x 60 instances too, and its
accuracy is measured against the certified optimum.

Finding on the issue-12 instances: the iteration and SCS targets are not met on every seed.  With
eps = 1e-3 the optimum is not the rank-3 truth: it has rank 7-14, nonzero singular values down to
2-3e-5 of the largest, and 36-66 % of the constraints at their bounds (printed per seed).
On such a spectrum the thresholded subspace settles slowly and every first-order method crawls:
plain ADMM needs 1600-3500 iterations and SCS 1900-2300; Anderson mixing cuts ours to 560-2080.
Tried without a real gain: relaxation 1.5-1.8, memory 5-80, the penalty, its rebalancing, periodic
restarts, a Newton polish on the rank and active set read from a 200-iteration iterate (diverged),
and an augmented Lagrangian on balanced factors with L-BFGS inner solves (slower, gap stalled).

Run: python benchmarks/bench_baselines.py [--threads N] [--seeds S] [--progress] [--no-x1]
(default 1 thread: the machine is shared)
"""

import argparse
import gzip
import os
import sys
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--seeds", type=int, default=3)
parser.add_argument("--progress", action="store_true", help="print the solver's progress lines (stderr)")
parser.add_argument("--no-x1", action="store_true", help="skip the 100 x 100 X1 instance")
args = parser.parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)          # before numpy is imported

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
import numpy as np  # noqa: E402

import dmf_edu as d  # noqa: E402

REFERENCE_SECONDS = (180.0, 540.0)      # X1: 3-9 minutes per conic solve (THEORY.md §8)


# --------------------------------------------------------------------------- the real matrices of X9

def _sample_file(name):
    import matplotlib

    path = os.path.join(matplotlib.get_data_path(), "sample_data", name)
    if not os.path.isfile(path):
        raise SystemExit(f"matplotlib has no sample file {name!r}; the X9 instances need it")
    return path


def _block_mean(M, k):
    m, n = M.shape[0] // k, M.shape[1] // k
    return M[:m * k, :n * k].reshape(m, k, n, k).mean(axis=(1, 3))


def _standardize(M):
    return (M - M.mean()) / M.std()


def x9_matrices():
    """``{name: matrix}``: the photograph (75 x 64) and the MRI slice (64 x 64), standardized."""
    try:
        from dmf_edu import datasets
        return {"photograph": datasets.load_photograph(downsample=8, standardize=True),
                "MRI slice": datasets.load_mri(downsample=4, standardize=True)}
    except (ImportError, AttributeError):
        pass
    import matplotlib.image

    rgb = matplotlib.image.imread(_sample_file("grace_hopper.jpg"))
    gray = rgb[..., :3].astype(float) @ np.array([0.299, 0.587, 0.114])
    with gzip.open(_sample_file("s1045.ima.gz"), "rb") as fh:
        mri = np.frombuffer(fh.read(), dtype=">u2").reshape(256, 256).astype(float)
    return {"photograph": _standardize(_block_mean(gray, 8)), "MRI slice": _standardize(_block_mean(mri, 4))}


# --------------------------------------------------------------------------- solves

def solve(prob, eps, **kw):
    t = time.perf_counter()
    res = d.nuclear_norm_minimization(prob, eps=eps, progress=args.progress, **kw)
    return res, time.perf_counter() - t


def compare(label, prob, eps, truth=None):
    """Accelerated vs plain ADMM on one instance; returns the accelerated result and its seconds."""
    fast, t_fast = solve(prob, eps)
    plain, t_plain = solve(prob, eps, anderson=0, max_iter=50000)
    kkt = d.nuclear_norm_kkt(prob, fast.X, fast.dual, eps=eps)
    extra = f", MSE to truth {float(d.reconstruction_error(fast.X, truth)):.3e}" if truth is not None else ""
    print(f"  {label}: {fast.nit} iterations, {t_fast:.2f} s, {fast.status} "
          f"(plain ADMM: {plain.nit} it, {t_plain:.2f} s, {plain.status}): "
          f"{plain.nit / fast.nit:.1f}x fewer iterations, {t_plain / t_fast:.1f}x faster; "
          f"rel gap {fast.relative_gap:.1e}, violation {fast.violation:.1e}, max KKT residual "
          f"{max(kkt.values()):.1e}, rank {int(np.sum(np.linalg.svd(fast.X, compute_uv=False) > 1e-6))}{extra}")
    return fast, t_fast


def structure(prob, res, eps):
    """What makes an instance slow for first-order methods: the optimum's rank and its smallest nonzero
    singular value (relative), and how many constraints sit at their bounds."""
    s = np.linalg.svd(res.X, compute_uv=False)
    kept = s[s > 1e-12 * s[0]]
    at_bound = int(np.sum(np.abs(res.X[prob.rows, prob.cols] - prob.values) > eps * (1 - 1e-3)))
    return (f"optimum of rank {kept.size} (truth: 3), smallest nonzero singular value {kept[-1] / s[0]:.1e} of the "
            f"largest, {at_bound} of {prob.values.size} constraints at their bounds")


def scs(prob, eps, certified):
    """cvxpy/SCS (default settings) on the same problem; ``None`` when cvxpy is not installed."""
    try:
        import cvxpy as cp
    except ImportError:
        return None
    X = cp.Variable(prob.shape)
    prog = cp.Problem(cp.Minimize(cp.normNuc(X)), [cp.abs(X[prob.rows, prob.cols] - prob.values) <= eps])
    t = time.perf_counter()
    prog.solve(solver=cp.SCS)
    dt = time.perf_counter() - t
    Xs = np.asarray(X.value)
    viol = float(np.max(np.maximum(np.abs(Xs[prob.rows, prob.cols] - prob.values) - eps, 0.0)))
    obj = float(np.linalg.svd(Xs, compute_uv=False).sum())
    return dt, prog.solver_stats.num_iters, (obj - certified.dual_objective) / max(1.0, obj), viol


print(f"nuclear-norm baseline (E13), tol 1e-6, {args.threads} thread(s)")
print("issue 12 instance: 60x60 rank 3, 1100 observations, eps 1e-3")
ratios = []
for seed in range(args.seeds):
    ss = np.random.SeedSequence(seed).spawn(2)
    M = d.random_low_rank(60, 60, 3, rng=np.random.default_rng(ss[0]))
    prob = d.sample_completion(M, 1100, rng=np.random.default_rng(ss[1]))
    res, dt = compare(f"seed {seed}", prob, 1e-3, truth=M)
    print(f"    {structure(prob, res, 1e-3)}")
    other = scs(prob, 1e-3, res)
    if other is not None:
        t_scs, it_scs, gap_scs, viol_scs = other
        ratios.append(t_scs / dt)
        print(f"    cvxpy/SCS: {t_scs:.2f} s, {it_scs} iterations, objective above the certified lower bound by "
              f"{gap_scs:.1e} (relative), violation {viol_scs:.1e}; ours is {t_scs / dt:.1f}x faster at rel gap "
              f"{res.relative_gap:.1e}, violation {res.violation:.1e}")
if ratios:
    print(f"  speed-up over cvxpy/SCS: {min(ratios):.1f}x to {max(ratios):.1f}x (target >= 10x)")
else:
    print("  (cvxpy not importable: no SCS comparison)")

print("X9 images, 30 % observed")
for name, M in x9_matrices().items():
    prob = d.sample_completion(M, int(round(0.3 * M.size)), rng=0)
    for eps in (0.0, 1e-2):
        compare(f"{name} {M.shape[0]}x{M.shape[1]}, eps {eps:g}", prob, eps, truth=M)

if not args.no_x1:
    print("X1: 100x100 rank 5, 2000 observations, eps 1e-3")
    ss = np.random.SeedSequence(0).spawn(2)
    M = d.random_low_rank(100, 100, 5, rng=np.random.default_rng(ss[0]))
    prob = d.sample_completion(M, 2000, rng=np.random.default_rng(ss[1]))
    res, dt = compare("seed 0", prob, 1e-3, truth=M)
    t = time.perf_counter()
    warm = d.nuclear_norm_minimization(prob, eps=2e-3, warm_start=res)
    dt_warm = time.perf_counter() - t
    cold, dt_cold = solve(prob, 2e-3)
    print(f"  eps 1e-3 -> 2e-3 re-solve: warm {dt_warm:.2f} s ({warm.nit} it) vs cold {dt_cold:.2f} s "
          f"({cold.nit} it): ratio {dt_cold / dt_warm:.1f}x")
    t = time.perf_counter()
    sp = d.schatten_minimization(prob, 0.5)
    print(f"  IRLS Schatten-1/2 on the same data: {time.perf_counter() - t:.2f} s, {sp.nit} iterations, "
          f"status {sp.status}, reconstruction error {float(d.reconstruction_error(sp.X, M)):.3e}")
    print(f"  speed-up over the reference conic solver: {REFERENCE_SECONDS[0] / dt:.0f}x to "
          f"{REFERENCE_SECONDS[1] / dt:.0f}x (target >= 50x)")
