"""X7 — saddle-escape stages equal the rank (Cao et al., arXiv 2212.14150; E17, E10).

Fully observed rank-R targets (R = 1..5, separated singular values ``s_k = 2^{R-k}``) at
depths 2, 3, 4 from small balanced init, plain GD.  The stage detector counts plateaus of
the loss followed by one more singular value leaving the floor; at each plateau the Hessian of
``phi`` (hand-written Hessian-vector products, Lanczos) has a negative eigenvalue, and the end
point is second-order stationary.  A second part ties escape times to E10 (identity init,
commuting target): measured GD times against the exact closed form, and ``lambda_min`` at
the init against ``-(N-1) s_1 alpha^{N-2}``.
"""

from __future__ import annotations

import numpy as np

from .. import _io
from .._io import jsonable
from .._seeds import task_rng
from .._validate import check_int, check_positive
from ..dynamics import escape_time, escape_time_asymptotic
from ..factorization import init_weights
from ..landscape.hessian import classify_point, hessian_extremes
from ..landscape.stages import detect_stages
from ..problems import full_observation
from ..targets import separated_target
from ..training.loop import gradient_descent
from .protocol import Experiment

ID = "X7"
TITLE = "rank R = 1..5 targets, depths 2-4: saddle-escape stages == R; Hessian signatures (E17)"

FULL = dict(ranks=[1, 2, 3, 4, 5], depths=[2, 3, 4], size=6, escape_alphas=[0.3, 0.2, 0.1])
QUICK = dict(FULL, ranks=[1, 2], depths=[2, 3], size=4, escape_alphas=[0.3, 0.2])


# --------------------------------------------------------------------------- the computation

# default per-depth end-to-end init scales of X7 (small enough for flat plateaus, large
# enough that depth 4 escapes within ~1e4 steps)
X7_INIT = {2: 1e-6, 3: 1e-3, 4: 1e-3}

def gd_with_snapshots(problem, weights, *, lr, max_steps, every, growth=0.0, stop=None):
    """Plain GD that also keeps the factors at every recorded step.

    Runs :func:`dmf_edu.gradient_descent` in chunks (``resume``), which gives the same iterates
    as one call.  (Not a ``callback``: the callback sees the end-to-end ``W`` only, and the
    Hessians at the plateaus need the factors.)  A chunk is ``max(every, growth * steps so far)`` steps (``growth > 0`` spaces
    the records geometrically, matching plateaus that lengthen over the run).  Stops at
    ``max_steps`` or when ``stop(run)`` is true.  Returns ``(run, snapshots)``, ``snapshots`` a
    dict ``step -> [W_1, ..., W_N]`` whose keys are the history's ``step`` values.
    """
    max_steps = check_int(max_steps, "max_steps", minimum=1)
    every = check_int(every, "every", minimum=1)
    growth = check_positive(growth, "growth", allow_zero=True)
    snaps = {0: [np.array(w, dtype=float) for w in weights]}
    run, done = None, 0
    while done < max_steps:
        target = min(done + max(every, int(growth * done)), max_steps)
        run = gradient_descent(problem, weights if run is None else None, lr=lr, max_steps=target,
                               record_steps=[target], resume=run)
        done = target
        snaps[done] = [w.copy() for w in run.weights]
        if stop is not None and stop(run):
            break
    return run, snaps

def x7_run(rank, depth, *, size=6, ratio=2.0, init_scale=None, lr_factor=0.5, max_steps=None,
           records_per_escape=40, seed=0, hessian_method="auto", tol=None):
    r"""One X7 run: GD on a rank-``R`` target, stages, Hessian at each plateau, end-point class.

    Parameters
    ----------
    rank, depth : ints (``depth >= 2``)
    size : int
        ``d`` (the target is ``d x d``; hidden widths ``d``).
    ratio : float > 1
        ``s_k = ratio^{R-k}`` (see :func:`separated_target`).
    init_scale : float, optional
        End-to-end scale of the balanced init (:func:`dmf_edu.init_weights`, ``kind="balanced"``);
        default ``X7_INIT[depth]`` (1e-6, 1e-3, 1e-3 for depths 2, 3, 4; 1e-3 beyond).
    lr_factor : float
        Step ``eta = lr_factor / (N s_1^{2(N-1)/N})``: ``N s_1^{2(N-1)/N}`` is the largest
        Hessian eigenvalue at the balanced global minimum (E4 multiplier ``a_N(s_1, s_1)``).
    max_steps : int, optional
        Default: 10 times the E10 time for the smallest singular value to reach half its target
        from ``alpha = init_scale^{1/N}``, plus time to converge, over ``eta``.
    records_per_escape : int
        The history (and the snapshots of the factors) is recorded every ``t_1 / (lr
        records_per_escape)`` steps, ``t_1`` the E10 escape time of the first mode, or every
        ``step / records_per_escape`` steps if more (records spaced geometrically later on).
        The run stops when the ``R`` target singular values are matched to ``1e-6``.
    seed : int
    hessian_method : passed to :func:`dmf_edu.landscape.hessian_extremes`
    tol : float, optional
        ``grad_tol = hess_tol`` of :func:`dmf_edu.landscape.classify_point` for the end point;
        default ``10 * init_scale * s_1``.  GD from small init ends near, not at, a critical
        point: unlearned components of the init's size remain (for ``N >= 3`` they hardly move),
        giving ``||grad phi||`` and ``-lambda_min`` of order ``init_scale`` (times
        ``alpha^{N-2}``), far below the plateaus' ``|lambda_min| ~ s_k alpha^{N-2}``.

    Returns
    -------
    dict
        ``rank``, ``depth``, ``init_scale``, ``lr``, ``steps``, ``n_stages``, ``escape_steps``,
        ``plateau_steps``, ``plateau_lambda_min``, ``plateau_lambda_max``, ``plateau_loss``,
        ``plateau_flatness``, ``end`` (the :func:`classify_point` dict), ``final_loss``,
        ``history`` (the run's), ``s`` (target singular values).

    Notes
    -----
    **E17** (X7): expected ``n_stages == R``, ``plateau_lambda_min < 0`` and
    ``end["kind"] == "second-order stationary"``.  For ``N >= 3`` the negative curvature at a
    plateau is small, of order ``s alpha^{N-2}`` (E10: the same factor sets the escape rate).
    """
    depth = check_int(depth, "depth", minimum=2)
    M, s = separated_target(size, rank, ratio, rng=task_rng(seed, "X7 target", size, rank, ratio))
    problem = full_observation(M)
    scale = X7_INIT.get(depth, 1e-3) if init_scale is None else check_positive(init_scale, "init_scale")
    N = depth
    lr, max_steps, every, per = _x7_schedule(s, scale, N, lr_factor, max_steps, records_per_escape)
    weights = init_weights(M.shape, N, scale, kind="balanced", rng=task_rng(seed, "X7 init", size, rank, ratio, N, scale))
    run, snaps = gd_with_snapshots(problem, weights, lr=lr, max_steps=max_steps, every=every,
                                   growth=1.0 / per, stop=_learned(rank, s))
    history = {k: v for k, v in run.history.items()}
    stages = detect_stages(history)
    lam = np.array([hessian_extremes(problem, snaps[int(k)], method=hessian_method, rng=0)
                    for k in stages.plateau_steps]).reshape(-1, 2)       # E17: curvature at each plateau
    tol = 10.0 * scale * s[0] if tol is None else check_positive(tol, "tol")
    end = classify_point(problem, run.weights, grad_tol=tol, hess_tol=tol, method=hessian_method, rng=0)
    return dict(rank=rank, depth=N, init_scale=scale, lr=lr, steps=int(np.max(run.nit)),
                n_stages=stages.n_stages, escape_steps=stages.escape_steps,
                plateau_steps=stages.plateau_steps, plateau_lambda_min=lam[:, 0],
                plateau_lambda_max=lam[:, 1], plateau_loss=stages.plateau_loss,
                plateau_flatness=stages.plateau_flatness, end=end,
                final_loss=float(history["loss"][-1]), history=history, s=s)


def _x7_schedule(s, scale, N, lr_factor, max_steps, records_per_escape):
    """``(lr, max_steps, every, per)`` of one X7 run, from the E10 escape times of the target's
    singular values ``s`` from ``alpha = scale^{1/N}`` (see :func:`x7_run`)."""
    lr = lr_factor / (N * s[0] ** (2.0 * (N - 1) / N))      # lr_factor / (Hessian scale)
    alpha = scale ** (1.0 / N)
    if max_steps is None:
        t_escape = float(escape_time(s[-1], alpha, N))
        t_converge = 20.0 / (N * s[-1] ** (2.0 * (N - 1) / N))
        max_steps = int(10 * (t_escape + t_converge) / lr)
    per = check_int(records_per_escape, "records_per_escape", minimum=1)
    every = max(1, int(float(escape_time(s[0], alpha, N)) / lr / per))
    return lr, max_steps, every, per


def _learned(rank, s):
    """Stop once the ``rank`` target singular values ``s`` are learned to 1e-6: for N >= 3 the
    unlearned components stay at the init's size (their velocity ~ sigma^{2(N-1)/N}, E6), so the
    loss levels off near (size * scale)^2 rather than falling to 0."""
    def learned(run):
        top = np.linalg.svd(run.W, compute_uv=False)[:rank]
        return bool(np.all(np.abs(top - s) <= 1e-6 * s))

    return learned

def x7_stages(ranks=(1, 2, 3, 4, 5), depths=(2, 3, 4), *, quick=False, seed=0, **kwargs):
    """X7 sweep: :func:`x7_run` for every ``(rank, depth)``; one row (dict) per run.

    ``quick=True`` runs ranks (1, 2) at depths (2, 3) on a 4 x 4 target.  The rows drop the
    full history (keep ``escape_steps`` etc.); pass ``keep_history=True`` to keep it.
    """
    keep = kwargs.pop("keep_history", False)
    if quick:
        ranks, depths = (1, 2), (2, 3)
        kwargs.setdefault("size", 4)
    rows = []
    for R, N in ((R, N) for N in depths for R in ranks):
        row = x7_run(R, N, seed=seed, **kwargs)        # each run's draws are named by its own (R, N)
        if not keep:
            row.pop("history")
        rows.append(row)
    return rows

def x7_escape_times(alphas=(0.3, 0.2, 0.1), depths=(2, 3, 4), *, size=4, rank=2, ratio=2.0,
                    lr=None, quick=False, seed=0):
    r"""Escape times versus init and depth, against the closed form of E10.

    Identity init ``W_j = alpha I`` and a symmetric target ``M = U diag(s) U^T``: the factors
    stay simultaneously diagonalisable with ``M``, so each mode follows the scalar flow
    ``a' = N a^{2-2/N}(s - a)``, ``a(0) = alpha^N`` (E10), discretised by GD.

    Parameters
    ----------
    alphas : per-factor init scales (``W(0) = alpha^N I``)
    depths : ints >= 2
    lr : float, optional
        GD step; default ``0.05 / (N s_1^{2(N-1)/N})`` (small, so that GD tracks the flow).

    Returns
    -------
    list of dict
        One per ``(depth, alpha)``: ``escape_time`` (measured: first recorded step at which each
        singular value reaches half its target, times ``lr``; records every 1/400 of the first
        predicted time), ``e10_time`` (exact E10 time),
        ``e10_asymptotic`` (``1/((N-2) s alpha^{N-2})`` or ``log(1/alpha)/s``),
        ``lambda_min_origin`` (Hessian of phi at the initial point, by Lanczos; E17: about
        ``-(N-1) s_1 alpha^{N-2}``), ``lr``.
    """
    if quick:
        alphas, depths = tuple(alphas)[:2], tuple(depths)[:2]
    M, s = separated_target(size, rank, ratio, rng=task_rng(seed, "X7 escape target", size, rank, ratio),
                            symmetric=True)
    problem = full_observation(M)
    rows = []
    for N in depths:
        N = check_int(N, "depth", minimum=2)
        eta = 0.05 / (N * s[0] ** (2.0 * (N - 1) / N)) if lr is None else check_positive(lr, "lr")
        for alpha in alphas:
            alpha = check_positive(alpha, "alpha")
            weights = init_weights(M.shape, N, alpha ** N, kind="identity")
            predicted = escape_time(s, alpha, N)
            cap = int(1.2 * float(np.max(predicted)) / eta) + 10
            every = max(1, int(float(np.min(predicted)) / eta / 400))   # 0.25 % resolution
            run = gradient_descent(problem, weights, lr=eta, max_steps=cap, record_every=every,
                                   n_singular=rank)
            sv, steps = run.history["singular_values"], run.history["step"]
            measured = np.array([steps[np.argmax(sv[:, k] >= 0.5 * s[k])] * eta
                                 if np.any(sv[:, k] >= 0.5 * s[k]) else np.nan for k in range(rank)])
            lam_min = hessian_extremes(problem, weights, rng=0)[0]
            rows.append(dict(depth=N, alpha=alpha, lr=eta, s=s, escape_time=measured,
                             e10_time=predicted, e10_asymptotic=escape_time_asymptotic(s, alpha, N),
                             lambda_min_origin=lam_min))
    return rows


def run_task(task):
    c = task["config"]
    if task["part"] == "stages":
        r = x7_run(task["rank"], task["depth"], size=c["size"], seed=task["seed"])
        row = dict(part="stages", rank=r["rank"], depth=r["depth"], stages=r["n_stages"],
                   init_scale=r["init_scale"], lr=r["lr"], steps=r["steps"], escape_steps=r["escape_steps"],
                   plateau_steps=r["plateau_steps"], plateau_lambda_min=r["plateau_lambda_min"],
                   plateau_loss=r["plateau_loss"], end_kind=r["end"]["kind"],
                   end_lambda_min=r["end"].get("lambda_min"), final_loss=r["final_loss"],
                   target_singular_values=r["s"],
                   trace=dict(step=r["history"]["step"], loss=r["history"]["loss"],
                              singular_values=r["history"]["singular_values"]))
        return jsonable([row])
    rows = x7_escape_times(alphas=c["escape_alphas"], depths=c["depths"], seed=task["seed"])
    return jsonable([dict(part="escape", **r) for r in rows])


def tasks(config, seed):
    out = [dict(key=f"stages_R={R}_N={N}", part="stages", rank=R, depth=N, seed=seed, config=config)
           for N in config["depths"] for R in config["ranks"]]
    out.append(dict(key="escape", part="escape", seed=seed, config=config))
    return out


def collect(rows, config):
    return dict(params=config, optimizer="plain gradient descent", rows=rows)


def headline(results):
    stages = {(r["depth"], r["rank"]): r["stages"] for r in results["rows"] if r["part"] == "stages"}
    ranks = results["params"]["ranks"]
    return (["stages; rank R"] + ranks, [[f"depth {N}"] + [stages.get((N, R)) for R in ranks]
                                         for N in results["params"]["depths"]])


def plot(results, path):
    import matplotlib.pyplot as plt

    rows, config = results["rows"], results["params"]
    stages = [r for r in rows if r["part"] == "stages"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    ax = axes[0]
    for k, N in enumerate(config["depths"]):
        pts = [r for r in stages if r["depth"] == N]
        ax.plot([r["rank"] for r in pts], [r["stages"] for r in pts], "o-", color=f"C{k}",
                label=f"depth {N}", ms=8 - 2 * k)
    ax.plot(config["ranks"], config["ranks"], "k:", lw=0.8, label="stages = R")
    ax.set_xlabel("rank R of the target")
    ax.set_ylabel("detected saddle-escape stages")
    ax.legend(fontsize=7)
    ax.set_title("stages vs rank", fontsize=9)
    show = max(config["ranks"])
    ax = axes[1]
    for k, N in enumerate(config["depths"]):
        r = next(r for r in stages if r["depth"] == N and r["rank"] == show)
        tr = r["trace"]
        ax.semilogy(np.asarray(tr["step"]) / max(tr["step"]), tr["loss"], color=f"C{k}", label=f"depth {N}")
    ax.set_xlabel("iteration / total")
    ax.set_ylabel("loss")
    ax.set_title(f"rank-{show} target: plateaus of the loss", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[2]
    for k, N in enumerate(config["depths"]):
        for r in (r for r in stages if r["depth"] == N):
            lam = np.abs(np.asarray(r["plateau_lambda_min"], float))
            ax.semilogy([r["rank"]] * len(lam), lam, "o", color=f"C{k}", ms=4,
                        label=f"depth {N}" if r["rank"] == config["ranks"][0] else None)
    ax.set_xlabel("rank R of the target")
    ax.set_ylabel("-lambda_min of the Hessian")
    ax.set_title("negative curvature at every plateau (lambda_min < 0)", fontsize=9)
    ax.legend(fontsize=7)
    fig.suptitle("X7: saddle-escape stages of deep factorizations (plain GD, balanced small init)", fontsize=10)
    fig.tight_layout()
    _io.save_figure(fig, path)


EXPERIMENT = Experiment(ID, TITLE, FULL, QUICK, tasks=tasks, run_task=run_task, collect=collect, plot=plot,
                        headline=headline)
