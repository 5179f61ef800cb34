r"""Experiments where gradient descent and norm minimization agree (X4) or disagree (X5, X1 regime).

Each function runs one experiment and returns plain data (dicts of floats and arrays) for the
reproduction layer to plot; nothing here runs at import.  ``quick=True`` shrinks every
experiment to a size that runs in seconds (used by the tests).

* :func:`x4_commuting_sensing` — E9: with symmetric commuting (here diagonal) measurements and
  ``W(0) = alpha I``, gradient descent at every depth approaches the minimum nuclear norm
  solution as ``alpha -> 0``.
* :func:`x5_razin_cohen` — E12: the 2 x 2 completion where every norm and quasi-norm is
  minimized at ``W_11 = 0`` but gradient descent at depth >= 3 sends ``|W_11|`` to infinity.
* :func:`schatten_vs_depth` — X1 regime: deep factorization against the nuclear norm and the
  Schatten-``2/N`` minimizers, in error and effective rank.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from ._validate import as_float_array, as_rng, check_int, check_positive, check_seed
from .baselines import nuclear_norm_minimization, schatten_minimization
from .factorization import end_to_end, init_weights
from .metrics import effective_rank, reconstruction_error, schatten_norm
from .problems import MatrixCompletion, MatrixSensing, commuting_sensing, random_low_rank, sample_completion
from .training import DivergenceError, gradient_descent

__all__ = ["x4_commuting_sensing", "x5_razin_cohen", "x5_problem", "schatten_profile", "schatten_vs_depth"]


def _run_in_chunks(problem, weights, lr, max_steps, loss_tol, chunk, optimizer="gd", watch=None):
    """Gradient descent in chunks of ``chunk`` steps; ``watch(W)`` is called on the end-to-end
    matrix (shape ``(..., m, n)``) after every chunk.  Returns ``(run, steps, diverged)``."""
    run, done, diverged = None, 0, False
    marks = []
    while done < max_steps:
        done = min(done + chunk, max_steps)
        try:
            run = gradient_descent(problem, weights if run is None else None, resume=run, lr=lr,
                                   max_steps=done, loss_tol=loss_tol, optimizer=optimizer,
                                   record_steps=())
        except DivergenceError as err:
            run, diverged = err.run, True
        marks.append(done)
        if watch is not None:
            watch(run.W)
        if diverged or np.all(run.converged):
            break
    return run, np.asarray(marks), diverged


# --------------------------------------------------------------------------- X4

X4_MEASUREMENTS = ((1.0, 1.0, 1.0, 2.0), (1.0, -1.0, 0.0, 0.0))


def x4_commuting_sensing(eigenvalues=(1.0, 1.0, 0.0, 0.0), measurements=X4_MEASUREMENTS, depths=(2, 3, 4),
                         alphas=(1e-1, 1e-2, 1e-3, 1e-4), n_measurements=3, seed=0, lr=None,
                         max_steps=200_000, loss_tol=1e-14, quick=False):
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
    n_measurements, seed : int
        Used only with ``measurements=None``.
    lr : float, optional
        Plain GD step; default ``0.2 / (N ||A||_2^2 max|eigenvalue|^{2 - 2/N})``.
    max_steps, loss_tol : GD stopping (``reduction="sum"`` loss).
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
        ``loss``, ``converged``, ``steps``, ``lr`` and ``W`` (len(alphas), d, d).

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
    d = lam.size
    if measurements is None:
        problem = commuting_sensing(lam, K, rng=as_rng(seed, "seed"))
    else:
        a = as_float_array(measurements, "measurements", ndim=2)
        if a.shape[1] != d:
            raise ValueError(f"measurements must have shape (K, {d}) (one row a_k per diagonal "
                             f"measurement), got {a.shape}")
        problem = MatrixSensing(a[:, :, None] * np.eye(d), a @ lam, truth=np.diag(lam))
    a = np.einsum("kii->ki", problem.A)
    y = problem.y
    out = dict(truth=problem.truth, A_diag=a, y=y, runs={})

    psd = nuclear_norm_minimization(problem, psd=True, tol=1e-9)
    free = nuclear_norm_minimization(problem, tol=1e-9)
    lp_psd = linprog(np.ones(d), A_eq=a, b_eq=y, bounds=[(0, None)] * d, method="highs")
    lp_free = linprog(np.ones(2 * d), A_eq=np.hstack([a, -a]), b_eq=y, bounds=[(0, None)] * (2 * d),
                      method="highs")
    if lp_psd.status != 0 or lp_free.status != 0:
        raise RuntimeError(f"linprog failed: {lp_psd.message} / {lp_free.message}")
    out.update(min_trace=np.diag(psd.X).copy(), min_nuclear=np.diag(free.X).copy(),
               linprog_psd=lp_psd.x, linprog_free=lp_free.x[:d] - lp_free.x[d:],
               solver_status=(psd.status, free.status),
               min_nuclear_is_psd=bool(np.all(lp_free.x[:d] - lp_free.x[d:] >= -1e-9)))
    target = np.diag(out["min_trace"])
    opnorm = float(np.linalg.norm(a, 2)) ** 2
    for N in depths:
        step = lr if lr is not None else 0.2 / (N * opnorm * max(float(np.max(np.abs(lam))), 1.0) ** (2 - 2 / N))
        eye = np.eye(d)
        weights = [alphas[:, None, None] ** (1.0 / N) * eye for _ in range(N)]
        run = gradient_descent(problem, weights, lr=step, max_steps=max_steps, loss_tol=loss_tol,
                               record_steps=())
        W = run.W
        out["runs"][N] = dict(alphas=alphas, W=W, lr=step, steps=run.steps, converged=run.converged,
                              loss=problem.loss(W),
                              distance=np.linalg.norm(W - target, axis=(-2, -1)) / np.linalg.norm(target))
    return out


# --------------------------------------------------------------------------- X5

def x5_problem(epsilon=0.0):
    r"""The 2 x 2 completion of E12: observed ``W_12 = 1``, ``W_21 = 1``, ``W_22 = epsilon``.

    ``epsilon = 0`` is Razin & Cohen's problem (every solution ``[[w, 1], [1, 0]]`` has
    ``det = -1``); ``epsilon != 0`` is the perturbed variant, whose rank-one completion is
    ``w = 1 / epsilon``.
    """
    return MatrixCompletion((2, 2), [0, 1, 1], [1, 0, 1], [1.0, 1.0, float(epsilon)], method="dense")


def schatten_profile(w, p, epsilon=0.0):
    r"""``||[[w, 1], [1, epsilon]]||_{S_p}^p`` for an array of ``w`` (shape kept); ``p = inf``: spectral.

    The completion is symmetric, so its singular values are the absolute eigenvalues
    ``|(w + eps)/2 +- sqrt((w - eps)^2/4 + 1)|``.  With ``epsilon = 0``, ``sigma_1 sigma_2 = 1`` and
    ``sigma_1^2 + sigma_2^2 = w^2 + 2`` (E12), so every profile is even in ``w`` and increasing in
    ``|w|``: the unique minimizer is ``w = 0``.
    """
    w = np.asarray(w, dtype=float)
    mid, rad = (w + epsilon) / 2.0, np.sqrt((w - epsilon) ** 2 / 4.0 + 1.0)
    s = np.stack([np.abs(mid + rad), np.abs(mid - rad)], axis=-1)
    if p == np.inf:
        return s.max(axis=-1)
    return np.sum(s ** p, axis=-1)


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
        (seeds,), ``converged``.  ``schatten_minimizers``: ``{p: W_11}`` from
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
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(check_seed(seed)).spawn(2)]
    problem = x5_problem()
    out = dict(trajectories={}, sign_pitfall=[])
    for N in depths:
        rows = []

        def watch(W):
            loss = problem.loss(W)
            rows.append(dict(loss=loss, abs_w11=np.abs(W[..., 0, 0]), det=np.linalg.det(W),
                             effective_rank=effective_rank(W),
                             **{f"S{p}": schatten_norm(W, p) for p in (0.5, 1.0, 2.0, np.inf)}))

        w0 = _det_positive_init(N, init_scale, rngs[0], seeds)
        watch(end_to_end(w0))
        run, marks, diverged = _run_in_chunks(problem, w0, lr, max_steps, loss_tol, chunk, watch=watch)
        tr = {k: np.array([r[k] for r in rows]) for k in rows[0]}
        out["trajectories"][N] = dict(
            step=np.r_[0, marks], loss=tr["loss"], abs_w11=tr["abs_w11"], det=tr["det"],
            w11_times_sqrt_2loss=tr["abs_w11"] * np.sqrt(2.0 * tr["loss"]),
            effective_rank=tr["effective_rank"], min_det=tr["det"].min(axis=0),
            schatten={p: tr[f"S{p}"] for p in (0.5, 1.0, 2.0, np.inf)},
            converged=run.converged, diverged=diverged, lr=lr)

    start3 = np.array([[3.0, 1.0], [1.0, 0.0]])
    out["schatten_minimizers"] = {p: float(schatten_minimization(problem, p).X[0, 0]) for p in schatten_ps}
    out["schatten_minimizers_from_w11_3"] = {
        p: float(schatten_minimization(problem, p, X0=start3).X[0, 0]) for p in schatten_ps}

    pert = x5_problem(epsilon)
    grid = np.concatenate([np.linspace(-5.0, 5.0, 2001), np.linspace(-2.0, 2.0, 2001) / epsilon])
    perturbed = dict(epsilon=epsilon, rank_one_w11=1.0 / epsilon, gd_w11={},
                     irls_w11={p: float(schatten_minimization(pert, p).X[0, 0]) for p in schatten_ps},
                     profile_argmin={p: float(grid[np.argmin(schatten_profile(grid, p, epsilon))])
                                     for p in schatten_ps})
    for N in depths:
        w0 = _det_positive_init(N, init_scale, rngs[1], seeds)
        run, _, _ = _run_in_chunks(pert, w0, lr, max_steps, min(loss_tol ** 2, 1e-7), chunk * 20)
        perturbed["gd_w11"][N] = run.W[..., 0, 0]
    out["perturbed"] = perturbed

    for N in (2, 3, 4):
        for step in sign_lrs:
            first = []

            def watch(W):
                first.append(np.linalg.det(W) <= 0)

            w0 = _det_positive_init(N, init_scale, as_rng(seed, "seed"), seeds)
            _, marks, diverged = _run_in_chunks(problem, w0, step, int(200 / step), 1e-2,
                                                max(1, int(1.0 / step)), watch=watch)
            flips = np.array(first)                       # (inspections, seeds)
            hit = flips.any(axis=0)
            out["sign_pitfall"].append(dict(
                depth=N, lr=step, fraction_flipped=float(hit.mean()), diverged=diverged,
                first_flip_step=[int(marks[np.argmax(flips[:, s])]) if hit[s] else None for s in range(seeds)]))
    return out


# --------------------------------------------------------------------------- Schatten vs depth (X1 regime)

def schatten_vs_depth(size=100, rank=5, n_obs=2000, depths=(2, 3), init_scale=1e-3, lr=1e-3,
                      max_steps=100_000, train_tol=1e-6, nuclear_eps=1e-3, seed=0, quick=False):
    r"""X1 regime: deep factorization vs nuclear norm vs Schatten-``2/N`` minimization.

    Parameters
    ----------
    size, rank, n_obs : ints
        ``size x size`` ground truth of rank ``rank`` (:func:`~dmf_edu.random_low_rank`,
        RMS entry 1), ``n_obs`` observed entries.
    depths : ints >= 2
    init_scale, lr, max_steps, train_tol :
        E19 adaptive optimizer on the mean loss (the reference code's setting), Gaussian init of
        end-to-end scale ``init_scale``, stopped at train MSE ``train_tol``.
    nuclear_eps : float
        Tolerance of the nuclear-norm baseline (1e-3 in the reference code).
    seed : int
    quick : bool
        30 x 30, rank 2, 300 observations.

    Returns
    -------
    dict
        ``rows``: list of dicts with ``method`` ("gd", "schatten", "nuclear"), ``depth`` (None for
        nuclear), ``p`` (``2/N`` for Schatten, 1 for nuclear), ``reconstruction_error`` (MSE over
        entries), ``effective_rank``, ``status``/``converged``; plus the settings.

    Notes
    -----
    E9's consequence (arXiv 1905.13655): no single Schatten-p quasi-norm (``p = 2/N`` the natural
    guess) describes depth-``N`` factorization; with few observations the three solutions differ
    in error and effective rank.
    """
    if quick:
        size, rank, n_obs, max_steps = 30, 2, 300, min(max_steps, 40_000)
    ss = np.random.SeedSequence(check_seed(seed)).spawn(3)
    M = random_low_rank(size, size, rank, rng=np.random.default_rng(ss[0]))
    problem = sample_completion(M, n_obs, rng=np.random.default_rng(ss[1]), reduction="mean")
    rows = []
    nn = nuclear_norm_minimization(problem, eps=nuclear_eps)
    rows.append(dict(method="nuclear", depth=None, p=1.0, reconstruction_error=float(reconstruction_error(nn.X, M)),
                     effective_rank=float(effective_rank(nn.X)), status=nn.status))
    for N in depths:
        N = check_int(N, "depths", minimum=2)
        sp = schatten_minimization(problem, 2.0 / N)
        rows.append(dict(method="schatten", depth=N, p=2.0 / N,
                         reconstruction_error=float(reconstruction_error(sp.X, M)),
                         effective_rank=float(effective_rank(sp.X)), status=sp.status))
        w0 = init_weights((size, size), N, init_scale, rng=np.random.default_rng(ss[2]))
        run = gradient_descent(problem, w0, lr=lr, max_steps=max_steps, loss_tol=train_tol,
                               optimizer="adaptive", record_steps=())
        rows.append(dict(method="gd", depth=N, p=None,
                         reconstruction_error=float(reconstruction_error(run.W, M)),
                         effective_rank=float(effective_rank(run.W)),
                         status="converged" if run.converged else "max_steps", steps=int(run.steps)))
    return dict(rows=rows, size=size, rank=rank, n_obs=n_obs, init_scale=init_scale, lr=lr,
                optimizer="adaptive (E19)", seed=seed)
