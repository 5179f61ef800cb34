"""X4 — commuting (diagonal) sensing: every depth approaches the minimum nuclear norm solution (E9).

Diagonal measurements ``A_k = diag(a_k)`` of ``M = diag(1, 1, 0, 0)`` chosen so that the minimum
nuclear norm solution, ``diag(0, 0, 0, 1)``, is far from ``M``; plain GD at depths 2, 3, 4
from ``W_j(0) = alpha^{1/N} I``.  As ``alpha -> 0`` the distance of the GD solution to the minimum
nuclear norm solution (from the ADMM solver, checked against ``scipy.optimize.linprog``)
shrinks at every depth, while its distance to ``M`` does not (arXiv 1905.13655 / 1705.09280).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from .. import _io
from .._io import jsonable
from .._seeds import task_rng
from .._validate import as_float_array, check_int, check_positive
from ..baselines.nuclear_norm import nuclear_norm_minimization
from ..problems import MatrixSensing, commuting_sensing
from ..training.loop import gradient_descent
from .protocol import Experiment

ID = "X4"
TITLE = "commuting sensing: GD at every depth -> minimum nuclear norm solution as alpha -> 0 (E9)"

# init_spread: W_j(0) = (alpha u)^{1/N} with u_i = 1 + init_spread * U(-1, 1) drawn from --seed (diagonal:
# the factors still commute and E9 applies).  0 by default, so the figure's init is exactly alpha I and
# --seed changes nothing: measured on the planted instance, even init_spread 1e-3 breaks the symmetry
# that lets GD reach loss 1e-14 in < 2000 steps (depth 3 at alpha 1e-4 then needs > 200,000 steps;
# the whole experiment 27 s instead of 0.2 s), while the distances stay within 1 % of alpha I's.
FULL = dict(depths=[2, 3, 4], alphas=[1e-1, 1e-2, 1e-3, 1e-4], max_steps=200_000, init_spread=0.0)
QUICK = dict(FULL, alphas=[1e-1, 1e-2, 1e-3], max_steps=60_000)


# --------------------------------------------------------------------------- the computation

X4_MEASUREMENTS = ((1.0, 1.0, 1.0, 2.0), (1.0, -1.0, 0.0, 0.0))

def x4_commuting_sensing(eigenvalues=(1.0, 1.0, 0.0, 0.0), measurements=X4_MEASUREMENTS, depths=(2, 3, 4),
                         alphas=(1e-1, 1e-2, 1e-3, 1e-4), n_measurements=3, seed=0, lr=None,
                         max_steps=200_000, loss_tol=1e-14, init_spread=0.0, quick=False):
    r"""X4 / E9: diagonal sensing, GD from ``alpha I`` against the minimum nuclear norm solution.

    Parameters
    ----------
    eigenvalues : sequence of d floats
        Ground truth ``M = diag(eigenvalues)`` (d x d).
    measurements : array ``(K, d)`` or None
        The diagonals ``a_k`` of ``A_k = diag(a_k)``.  The default, ``a_1 = (1, 1, 1, 2)``,
        ``a_2 = (1, -1, 0, 0)`` with ``M = diag(1, 1, 0, 0)``, has the unique minimum nuclear norm
        solution ``diag(0, 0, 0, 1)``: PSD and far from ``M`` (``||x||_1 >= a_1^T x / 2 = 1`` with
        equality only on the last coordinate).  ``None``: ``n_measurements`` random ``a_k ~ N(0, I)``
        from ``seed`` (:func:`~dmf_edu.commuting_sensing`).
    depths : ints >= 2
    alphas : floats > 0
        Initial end-to-end scale: ``W_j(0) = alpha^{1/N} I`` so ``W(0) = alpha I``.
    n_measurements : int
        Used only with ``measurements=None``.
    seed : int
        Draws the random measurements (``measurements=None``) and the init's diagonal ``u``.
    lr : float, optional
        Plain GD step; default ``0.2 / (N ||A||_2^2 max|eigenvalue|^{2 - 2/N})``.
    max_steps, loss_tol : GD stopping (``reduction="sum"`` loss).
    init_spread : float in [0, 1)
        ``W_j(0) = (alpha diag(u))^{1/N}``, ``u_i = 1 + init_spread * U(-1, 1)`` drawn from ``seed``
        per depth (0: ``alpha I`` exactly).  Diagonal, so E9 applies to every ``u``.
    quick : bool
        Three alphas and at most 60 000 steps.  (The default instance takes well under a second.)

    Returns
    -------
    dict
        ``truth`` (d, d); ``A_diag`` (K, d); ``y`` (K,); ``min_trace`` (d,): the diagonal of the
        minimum nuclear norm PSD solution from :func:`~dmf_edu.nuclear_norm_minimization` with
        ``psd=True``; ``linprog_psd`` (d,): the same from ``scipy.optimize.linprog``
        (``min 1^T x, a_k^T x = y_k, x >= 0``); ``min_nuclear`` and ``linprog_free`` (d,): the
        unconstrained minimum nuclear norm (``min ||x||_1``) from both solvers, and
        ``min_nuclear_is_psd``; ``solver_status``; and per depth ``runs[N]`` with ``alphas``,
        ``distance`` (relative Frobenius distance of the final ``W`` to ``diag(min_trace)``),
        ``loss``, ``success``, ``steps``, ``lr`` and ``W`` (len(alphas), d, d).

    Notes
    -----
    **E9.**  From ``W(0) = alpha I`` every factor stays a multiple of a diagonal matrix and every
    eigenvalue of ``W`` keeps its sign, so GD explores PSD matrices only; the theorem's limit is the
    minimum-trace PSD solution, which is the minimum nuclear norm solution whenever the latter is
    PSD (``min_nuclear_is_psd``).  Diagonal ``X`` loses nothing: ``||X||_* >= sum_i |X_ii|`` and
    the measurements only see the diagonal, so both problems are linear programs.
    """
    lam = as_float_array(eigenvalues, "eigenvalues", ndim=1)
    K = check_int(n_measurements, "n_measurements", minimum=1)
    depths = [check_int(N, "depths", minimum=2) for N in depths]
    alphas = np.array([check_positive(a, "alphas") for a in alphas])
    if quick:
        alphas, max_steps = alphas[:3], min(max_steps, 60_000)
    spread = check_positive(init_spread, "init_spread", allow_zero=True)
    problem = _diagonal_sensing(lam, measurements, K, seed)
    a = np.einsum("kii->ki", problem.A)
    out = dict(truth=problem.truth, A_diag=a, y=problem.y, runs={})
    out.update(_minimum_nuclear_diagonals(problem, a))
    target = np.diag(out["min_trace"])
    opnorm = float(np.linalg.norm(a, 2)) ** 2
    for N in depths:
        step = lr if lr is not None else 0.2 / (N * opnorm * max(float(np.max(np.abs(lam))), 1.0) ** (2 - 2 / N))
        u = 1.0 + spread * task_rng(seed, "X4 init", lam.size, N).uniform(-1.0, 1.0, lam.size)
        out["runs"][N] = _descent_from_diagonal(problem, N, alphas, u, step, max_steps, loss_tol, target)
    return out


def _diagonal_sensing(lam, measurements, K, seed):
    """The sensing problem of ``M = diag(lam)``: diagonal ``A_k = diag(a_k)`` given by the rows of
    ``measurements``, or ``K`` random ones from ``seed``."""
    d = lam.size
    if measurements is None:
        return commuting_sensing(lam, K, rng=task_rng(seed, "X4 measurements", d, K))
    a = as_float_array(measurements, "measurements", ndim=2)
    if a.shape[1] != d:
        raise ValueError(f"measurements must have shape (K, {d}) (one row a_k per diagonal "
                         f"measurement), got {a.shape}")
    return MatrixSensing(a[:, :, None] * np.eye(d), a @ lam, truth=np.diag(lam))


def _minimum_nuclear_diagonals(problem, a):
    """E9's limit: the minimum nuclear norm solutions, PSD (the minimum trace) and free, each from
    ADMM (:func:`~dmf_edu.nuclear_norm_minimization`) and from ``linprog`` (diagonal: linear programs)."""
    d, y = a.shape[1], problem.y
    psd = nuclear_norm_minimization(problem, psd=True, tol=1e-9)
    free = nuclear_norm_minimization(problem, tol=1e-9)
    lp_psd = linprog(np.ones(d), A_eq=a, b_eq=y, bounds=[(0, None)] * d, method="highs")
    lp_free = linprog(np.ones(2 * d), A_eq=np.hstack([a, -a]), b_eq=y, bounds=[(0, None)] * (2 * d),
                      method="highs")
    if lp_psd.status != 0 or lp_free.status != 0:
        raise RuntimeError(f"linprog failed: {lp_psd.message} / {lp_free.message}")
    return dict(min_trace=np.diag(psd.X).copy(), min_nuclear=np.diag(free.X).copy(),
                linprog_psd=lp_psd.x, linprog_free=lp_free.x[:d] - lp_free.x[d:],
                solver_status=(psd.status, free.status),
                min_nuclear_is_psd=bool(np.all(lp_free.x[:d] - lp_free.x[d:] >= -1e-9)))


def _descent_from_diagonal(problem, N, alphas, u, step, max_steps, loss_tol, target):
    """E9's dynamics: plain GD at depth ``N`` from ``W_j(0) = (alpha diag(u))^{1/N}`` (one trial
    per alpha), and the relative distance of each final ``W`` to ``target``."""
    diag = np.diag(np.asarray(u, float) ** (1.0 / N))
    weights = [alphas[:, None, None] ** (1.0 / N) * diag for _ in range(N)]
    run = gradient_descent(problem, weights, lr=step, max_steps=max_steps, loss_tol=loss_tol,
                           record_steps=())
    W = run.W
    return dict(alphas=alphas, W=W, lr=step, steps=run.nit, success=run.success,
                loss=problem.loss(W),
                distance=np.linalg.norm(W - target, axis=(-2, -1)) / np.linalg.norm(target))


def run_task(task):
    c = task["config"]
    out = x4_commuting_sensing(depths=c["depths"], alphas=c["alphas"], max_steps=c["max_steps"],
                               init_spread=c["init_spread"], seed=task["seed"])
    truth = np.asarray(out["truth"])
    rows = []
    for N, r in out["runs"].items():
        for i, alpha in enumerate(r["alphas"]):
            W = r["W"][i]
            rows.append(dict(depth=int(N), alpha=float(alpha), distance_to_min_nuclear=float(r["distance"][i]),
                             distance_to_truth=float(np.linalg.norm(W - truth) / np.linalg.norm(truth)),
                             loss=float(r["loss"][i]), success=bool(r["success"][i]),
                             steps=int(r["steps"][i]), lr=float(r["lr"]), W_diagonal=np.diag(W).tolist()))
    info = dict(min_nuclear_admm=out["min_trace"], min_nuclear_linprog=out["linprog_psd"],
                min_nuclear_free_admm=out["min_nuclear"], min_nuclear_free_linprog=out["linprog_free"],
                solver_status=out["solver_status"], truth_diagonal=np.diag(truth), A_diagonals=out["A_diag"],
                y=out["y"])
    return jsonable([dict(rows=rows, info=info)])


def tasks(config, seed):
    """One task; ``seed`` draws the init's diagonal (``init_spread``); the instance is fixed."""
    return [dict(key="all", config=config, seed=seed)]


def collect(rows, config):
    (out,) = rows
    return dict(params=config, optimizer="plain gradient descent", rows=out["rows"], solution=out["info"])


def headline(results):
    alphas = sorted({r["alpha"] for r in results["rows"]}, reverse=True)
    dist = {(r["depth"], r["alpha"]): r["distance_to_min_nuclear"] for r in results["rows"]}
    return (["to min nuclear; alpha"] + [f"{a:g}" for a in alphas],
            [[f"depth {N}"] + [dist.get((N, a)) for a in alphas] for N in results["params"]["depths"]])


def plot(results, path):
    import matplotlib.pyplot as plt

    rows = results["rows"]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for k, N in enumerate(results["params"]["depths"]):
        pts = [r for r in rows if r["depth"] == N]
        ax.loglog([r["alpha"] for r in pts], [r["distance_to_min_nuclear"] for r in pts], "o-", color=f"C{k}",
                  label=f"depth {N}: to min nuclear norm")
        ax.loglog([r["alpha"] for r in pts], [r["distance_to_truth"] for r in pts], "x:", color=f"C{k}",
                  label=f"depth {N}: to ground truth")
    ax.invert_xaxis()
    ax.set_xlabel("init scale alpha (W(0) = alpha I)")
    ax.set_ylabel("relative Frobenius distance")
    ax.set_title("X4: diagonal sensing, plain GD (E9)", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    _io.save_figure(fig, path)


EXPERIMENT = Experiment(ID, TITLE, FULL, QUICK, tasks=tasks, run_task=run_task, collect=collect, plot=plot,
                        headline=headline)
