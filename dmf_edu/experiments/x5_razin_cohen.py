"""X5 — the 2x2 problem of E12 where every norm fails (Razin & Cohen, arXiv 2005.06398).

Observed ``W_12 = W_21 = 1``, ``W_22 = 0``.  Plain GD at depths 3 and 4 from balanced init with
``det W(0) > 0``: as the loss falls, ``|W_11|`` and every Schatten (quasi-)norm grow without
bound, ``|W_11| sqrt(2 loss) -> 1``, ``det`` stays positive and the effective rank tends to 1,
while Schatten-p minimization (p = 0.1, 0.5, 1, 2) returns ``W_11 ~ 0``.  Also recorded: the
perturbed variant ``W_22 = epsilon`` (GD approaches the rank-one completion ``W_11 = +1/epsilon``)
and when discrete GD breaks the sign of ``det`` (depth 2, large steps).
"""

from __future__ import annotations

import numpy as np

from .. import _io
from .._io import jsonable
from .._seeds import task_rng
from .._validate import check_int, check_seed
from ..baselines.schatten import schatten_minimization, schatten_profile, x5_problem
from ..factorization import end_to_end, init_weights
from ..metrics import effective_rank, schatten_norm
from ..training.loop import DivergenceError, gradient_descent
from .protocol import Experiment
from .tables import thin

ID = "X5"
TITLE = "E12 2x2 completion: |W11| and all norms grow as loss -> 0; Schatten minimizers stay at 0"

# Plain GD is stable only while lr < 2 / a_N(W11, W11) = 2 / (N |W11|^{2-2/N}) (E4): reaching
# loss 1e-4 (|W11| ~ 71) needs lr below ~8e-4 at depth 4, while lr 1e-2 already oscillates
# past loss ~1e-3 (|W11| ~ 22), which is where the quick mode stops.
FULL = dict(depths=[3, 4], lr=5e-4, init_scale=1e-2, loss_tol=1e-4, seeds=3, epsilon=0.1,
            sign_lrs=[1e-3, 1e-2, 0.1, 0.3])
QUICK = dict(FULL, lr=1e-2, loss_tol=1e-3, seeds=1, sign_lrs=[0.1, 0.3])


# --------------------------------------------------------------------------- the computation

def _watched_descent(problem, weights, lr, max_steps, loss_tol, every, watch=None):
    """Plain GD; ``watch(step, W)`` sees the end-to-end matrix (shape ``(..., m, n)``) at step 0,
    every ``every`` steps and at the last step (:func:`gradient_descent`'s ``callback``).  A
    divergence ends the run there (its last matrix is watched too).  Returns ``(run, diverged)``."""
    def callback(view):
        watch(view.step, np.array(view.W))

    try:
        run = gradient_descent(problem, weights, lr=lr, max_steps=max_steps, loss_tol=loss_tol,
                               record_every=every, n_singular=1, callback=None if watch is None else callback)
        return run, False
    except DivergenceError as err:
        if watch is not None:
            watch(int(np.max(err.run.nit)), err.run.W)
        return err.run, True


def _det_positive_init(N, scale, rng, trials):
    """Random balanced factors of a 2 x 2 product with ``det W(0) > 0``, shape ``(trials, 2, 2)`` each
    (flip a column of ``W_1`` where needed: ``W_1 W_1^T`` is unchanged, so balancedness is kept)."""
    w = init_weights((2, 2), N, scale, kind="balanced", rng=rng, batch_shape=(trials,))
    flip = np.where(np.linalg.det(end_to_end(w)) < 0, -1.0, 1.0)
    w[0] = w[0] * np.stack([flip, np.ones_like(flip)], axis=-1)[:, None, :]
    return w

def x5_razin_cohen(depths=(3, 4), lr=0.01, init_scale=1e-2, loss_tol=1e-4, seeds=3, epsilon=0.1,
                   schatten_ps=(0.1, 0.5, 1.0, 2.0), sign_lrs=(1e-3, 1e-2, 0.1, 0.3), max_steps=3_000_000,
                   chunk=1000, seed=0, quick=False):
    r"""X5 / E12: norms grow without bound under gradient descent while norm minimizers stay at 0.

    Parameters
    ----------
    depths : ints >= 2
        Depths of the main runs (theorem-level: N >= 3).
    lr : float
        Plain GD step of the main runs (``reduction="sum"`` loss).
    init_scale : float
        End-to-end scale of the balanced init (``det W(0) > 0``).
    loss_tol : float
        Main runs stop at this loss (``|W_11| ~ 1/sqrt(2 loss)``: 70.7 at 1e-4).
    seeds : int
        Independent inits per depth, trained together.
    epsilon : float
        ``W_22`` of the perturbed variant.
    schatten_ps : floats in (0, 2]
    sign_lrs : floats
        Steps of the sign-pitfall runs (depths 2, 3, 4; stopped at loss 1e-2).
    max_steps, chunk : ints
        Cap, and how often ``W`` is inspected (det, norms).
    seed : int
    quick : bool
        ``loss_tol = 1e-3``, one seed, ``sign_lrs`` limited to two values.

    Returns
    -------
    dict
        ``trajectories[N]``: per inspection (rows) and seed (columns): ``step`` (T,), ``loss``,
        ``abs_w11``, ``w11_times_sqrt_2loss`` (``|W_11| sqrt(2 loss)``, E12: tends to 1), ``det``,
        ``effective_rank``, ``schatten`` (dict p -> (T, seeds), p in 0.5, 1, 2, inf), ``min_det``
        (seeds,), ``success``.  ``schatten_minimizers``: ``{p: W_11}`` from
        :func:`~dmf_edu.schatten_minimization` started at the least-norm solution and
        ``{p: W_11}`` started at ``W_11 = 3`` (``from_w11_3``).  ``perturbed``: for
        ``epsilon``: GD final ``W_11`` per depth (stopped at loss ``min(loss_tol^2, 1e-7)``), the
        rank-one value ``1/epsilon``, the IRLS ``W_11`` per ``p``, and the global minimizer of :func:`schatten_profile` per ``p`` on a grid.
        ``sign_pitfall``: list of dicts (depth, lr, fraction of seeds whose ``det`` reached
        ``<= 0``, first inspected step where it did).

    Notes
    -----
    **E12** (Razin & Cohen, arXiv 2005.06398): every zero-loss completion has ``det = -1`` and
    every Schatten (quasi-)norm is minimized at ``W_11 = 0``; gradient flow at depth ``N >= 3``
    from balanced init with ``det > 0`` keeps ``det > 0``, so driving the loss to 0 forces
    ``|W_11| -> inf`` with ``|W_11| sqrt(2 loss) -> 1`` and effective rank -> 1.  ``det`` is
    checked every ``chunk`` steps only.
    """
    depths = [check_int(N, "depths", minimum=2) for N in depths]
    seeds = check_int(seeds, "seeds", minimum=1)
    chunk = check_int(chunk, "chunk", minimum=1)
    if quick:
        loss_tol, seeds, sign_lrs = max(loss_tol, 1e-3), 1, tuple(sign_lrs)[-2:]
    seed = check_seed(seed)
    problem = x5_problem()
    out = dict(trajectories={}, sign_pitfall=[])
    for N in depths:
        w0 = _det_positive_init(N, init_scale, task_rng(seed, "X5 init", N, init_scale, seeds), seeds)
        out["trajectories"][N] = _norm_growth(problem, w0, lr, max_steps, loss_tol, chunk)
    start3 = np.array([[3.0, 1.0], [1.0, 0.0]])
    out["schatten_minimizers"] = {p: float(schatten_minimization(problem, p).X[0, 0]) for p in schatten_ps}
    out["schatten_minimizers_from_w11_3"] = {
        p: float(schatten_minimization(problem, p, X0=start3).X[0, 0]) for p in schatten_ps}
    out["perturbed"] = _perturbed(depths, epsilon, schatten_ps, init_scale, seed, seeds, lr, max_steps, loss_tol)
    for N in (2, 3, 4):
        for step in sign_lrs:          # every step from the same inits
            w0 = _det_positive_init(N, init_scale, task_rng(seed, "X5 sign-pitfall init", N, init_scale, seeds), seeds)
            out["sign_pitfall"].append(_sign_pitfall(problem, w0, N, step))
    return out


def _norm_growth(problem, w0, lr, max_steps, loss_tol, chunk):
    """E12's main run: GD from ``w0`` (``det > 0``) to ``loss_tol``, the loss, ``|W_11|``,
    ``|W_11| sqrt(2 loss)``, ``det``, effective rank and Schatten norms every ``chunk`` steps."""
    rows, marks = [], []

    def watch(step, W):
        loss = problem.loss(W)
        marks.append(step)
        rows.append(dict(loss=loss, abs_w11=np.abs(W[..., 0, 0]), det=np.linalg.det(W),
                         effective_rank=effective_rank(W),
                         **{f"S{p}": schatten_norm(W, p) for p in (0.5, 1.0, 2.0, np.inf)}))

    run, diverged = _watched_descent(problem, w0, lr, max_steps, loss_tol, chunk, watch=watch)
    tr = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    return dict(step=np.array(marks), loss=tr["loss"], abs_w11=tr["abs_w11"], det=tr["det"],
                w11_times_sqrt_2loss=tr["abs_w11"] * np.sqrt(2.0 * tr["loss"]),
                effective_rank=tr["effective_rank"], min_det=tr["det"].min(axis=0),
                schatten={p: tr[f"S{p}"] for p in (0.5, 1.0, 2.0, np.inf)},
                success=run.success, diverged=diverged, lr=lr)


def _perturbed(depths, epsilon, schatten_ps, init_scale, seed, seeds, lr, max_steps, loss_tol):
    """The E12 variant with ``W_22 = epsilon``: GD's final ``W_11`` per depth against the rank-one
    value ``1/epsilon``, IRLS and the grid minimizer of :func:`schatten_profile` per ``p``."""
    pert = x5_problem(epsilon)
    grid = np.concatenate([np.linspace(-5.0, 5.0, 2001), np.linspace(-2.0, 2.0, 2001) / epsilon])
    perturbed = dict(epsilon=epsilon, rank_one_w11=1.0 / epsilon, gd_w11={},
                     irls_w11={p: float(schatten_minimization(pert, p).X[0, 0]) for p in schatten_ps},
                     profile_argmin={p: float(grid[np.argmin(schatten_profile(grid, p, epsilon))])
                                     for p in schatten_ps})
    for N in depths:
        # the main runs' inits (one key): from some other inits GD ends on the branch W11 -> -inf
        # (quick settings, lr 1e-2: 3 of 8 (seed, depth) pairs tried ended there)
        w0 = _det_positive_init(N, init_scale, task_rng(seed, "X5 init", N, init_scale, seeds), seeds)
        run, _ = _watched_descent(pert, w0, lr, max_steps, min(loss_tol ** 2, 1e-7), max_steps)
        perturbed["gd_w11"][N] = run.W[..., 0, 0]
    return perturbed


def _sign_pitfall(problem, w0, N, step):
    """The sign pitfall: with a large step GD can cross ``det = 0`` (which the flow never does,
    E12); the share of seeds whose ``det`` reached ``<= 0`` and the first inspected step."""
    first, marks = [], []

    def watch(at, W):
        marks.append(at)
        first.append(np.linalg.det(W) <= 0)

    _, diverged = _watched_descent(problem, w0, step, int(200 / step), 1e-2, max(1, int(1.0 / step)), watch=watch)
    flips = np.array(first)                       # (inspections, seeds)
    hit = flips.any(axis=0)
    return dict(depth=N, lr=step, fraction_flipped=float(hit.mean()), diverged=diverged,
                first_flip_step=[int(marks[np.argmax(flips[:, s])]) if hit[s] else None
                                 for s in range(len(w0[0]))])


def run_task(task):
    c = task["config"]
    out = x5_razin_cohen(depths=c["depths"], lr=c["lr"], init_scale=c["init_scale"], loss_tol=c["loss_tol"],
                         seeds=c["seeds"], epsilon=c["epsilon"], sign_lrs=c["sign_lrs"], seed=task["seed"])
    rows = []
    for N, tr in out["trajectories"].items():
        for t, step in enumerate(tr["step"]):
            for s in range(np.shape(tr["loss"])[1]):
                rows.append(dict(depth=int(N), step=int(step), seed_index=s, loss=float(tr["loss"][t, s]),
                                 abs_w11=float(tr["abs_w11"][t, s]), det=float(tr["det"][t, s]),
                                 w11_times_sqrt_2loss=float(tr["w11_times_sqrt_2loss"][t, s]),
                                 effective_rank=float(tr["effective_rank"][t, s]),
                                 **{f"schatten_{p}": float(v[t, s]) for p, v in tr["schatten"].items()}))
    extra = dict(schatten_minimizers_w11=out["schatten_minimizers"],
                 schatten_minimizers_w11_from_3=out["schatten_minimizers_from_w11_3"],
                 perturbed=out["perturbed"], sign_pitfall=out["sign_pitfall"],
                 min_det={int(N): tr["min_det"] for N, tr in out["trajectories"].items()})
    return jsonable([dict(rows=rows, extra=extra)])


def tasks(config, seed):
    return [dict(key="all", config=config, seed=seed)]


def collect(rows, config):
    (out,) = rows
    rows = thin(out["rows"], lambda r: (r["depth"], r["seed_index"]), 300, spacing="geometric")
    return dict(params=config, optimizer="plain gradient descent", rows=rows, **out["extra"])


def headline(results):
    out = []
    for N in results["params"]["depths"]:
        last = [r for r in results["rows"] if r["depth"] == N and r["seed_index"] == 0][-1]
        out.append([f"depth {N}", last["loss"], last["abs_w11"], last["w11_times_sqrt_2loss"], last["effective_rank"]])
    return ["seed 0, last step", "loss", "|W11|", "|W11|sqrt(2 loss)", "eff. rank"], out


def plot(results, path):
    import matplotlib.pyplot as plt

    rows = results["rows"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for k, N in enumerate(results["params"]["depths"]):
        pts = [r for r in rows if r["depth"] == N and r["seed_index"] == 0]
        loss = [r["loss"] for r in pts]
        axes[0].loglog(loss, [r["abs_w11"] for r in pts], "-", color=f"C{k}", label=f"depth {N}: |W11|")
        axes[0].loglog(loss, [r["schatten_1.0"] for r in pts], "--", color=f"C{k}", label=f"depth {N}: nuclear")
        axes[0].loglog(loss, [r["schatten_0.5"] for r in pts], ":", color=f"C{k}", label=f"depth {N}: Schatten-1/2")
        axes[1].semilogx(loss, [r["w11_times_sqrt_2loss"] for r in pts], "-", color=f"C{k}", label=f"depth {N}")
        axes[2].semilogx(loss, [r["effective_rank"] for r in pts], "-", color=f"C{k}", label=f"depth {N}")
    for ax in axes:
        ax.invert_xaxis()
        ax.set_xlabel("loss (decreasing ->)")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("|W11| and norms of W")
    axes[1].set_ylabel("|W11| * sqrt(2 loss)")
    axes[1].axhline(1.0, color="k", lw=0.6)
    axes[2].set_ylabel("effective rank")
    mins = ", ".join(f"{w:.0e} (p={p})" for p, w in results["schatten_minimizers_w11"].items())
    fig.suptitle(f"X5: E12 problem, plain GD lr {results['params']['lr']:g}; W11 of the Schatten-p minimizers: {mins}",
                 fontsize=9)
    fig.tight_layout()
    _io.save_figure(fig, path)


EXPERIMENT = Experiment(ID, TITLE, FULL, QUICK, tasks=tasks, run_task=run_task, collect=collect, plot=plot,
                        headline=headline)
