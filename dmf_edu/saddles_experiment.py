r"""Experiments X7 (saddle-escape stages, E17 with E10) and X6 (finite vs infinite depth, E3-E5, E14-E16).

Each function returns plain data (lists of dicts, arrays) and computes nothing at import time.
``quick=True`` shrinks the sweep so that a test can run it in about a second.

X7 setting: a fully observed ``d x d`` target of rank ``R`` (so ``ell(W) = 1/2 ||W - M||_F^2``)
with well separated singular values ``s_k = ratio^{R-k}`` (smallest 1), plain gradient descent
(:func:`dmf_edu.gradient_descent`, ``optimizer="gd"``) from a small balanced init.
X6 setting: small completions integrated by :func:`dmf_edu.end_to_end_flow` in the rescaled
time ``tau = N t`` for several depths from one common init.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_float_array, as_rng, check_int, check_positive, check_seed
from .dynamics import end_to_end_flow, escape_time, escape_time_asymptotic
from .factorization import init_weights
from .geometry import fibre_entropy, volume_density
from .landscape import classify_point, detect_stages, hessian_extremes
from .linalg import resolve_depth
from .metrics import effective_rank_from_singular_values
from .problems import MatrixCompletion, random_low_rank
from .training import gradient_descent

__all__ = ["separated_target", "full_observation", "gd_with_snapshots", "x7_run", "x7_stages",
           "x7_escape_times", "x6_problems", "x6_depth_limit"]

# default per-depth end-to-end init scales of X7 (small enough for flat plateaus, large
# enough that depth 4 escapes within ~1e4 steps)
X7_INIT = {2: 1e-6, 3: 1e-3, 4: 1e-3}


def separated_target(size, rank, ratio=2.0, rng=None, symmetric=False):
    r"""A ``size x size`` rank-``R`` target ``M = U diag(s) V^T`` with ``s_k = ratio^{R-k}``.

    Parameters
    ----------
    size, rank : ints, ``1 <= rank <= size``
    ratio : float > 1
        Ratio of consecutive singular values (the smallest is 1).
    rng : None, int or Generator
        Draws the Haar-random orthogonal ``U`` and ``V``.
    symmetric : bool
        ``V = U`` (a PSD target that commutes with ``W = alpha^N I``: every mode then follows
        the scalar flow of E10 exactly).

    Returns
    -------
    M : ndarray, shape ``(size, size)``
    s : ndarray, shape ``(rank,)``, descending
    """
    size = check_int(size, "size", minimum=1)
    rank = check_int(rank, "rank", minimum=1)
    if rank > size:
        raise ValueError(f"rank {rank} exceeds size {size}; choose rank <= size")
    ratio = check_positive(ratio, "ratio")
    if ratio <= 1:
        raise ValueError(f"ratio must be > 1 so that the stages separate, got {ratio}")
    rng = as_rng(rng)

    def haar():
        Q, Rm = np.linalg.qr(rng.standard_normal((size, size)))
        return Q * np.sign(np.diag(Rm))

    U = haar()
    V = U if symmetric else haar()
    s = ratio ** np.arange(rank - 1, -1, -1.0)
    return (U[:, :rank] * s) @ V[:, :rank].T, s


def full_observation(M):
    """:class:`MatrixCompletion` observing every entry of ``M`` (``(m, n)``): ``ell = 1/2 ||W - M||_F^2``."""
    M = as_float_array(M, "M", ndim=2)
    rows, cols = np.divmod(np.arange(M.size), M.shape[1])
    return MatrixCompletion(M.shape, rows, cols, M.ravel(), truth=M)


def gd_with_snapshots(problem, weights, *, lr, max_steps, every, growth=0.0, stop=None):
    """Plain GD that also keeps the factors at every recorded step.

    Runs :func:`dmf_edu.gradient_descent` in chunks (``resume``), which gives the same iterates
    as one call.  A chunk is ``max(every, growth * steps so far)`` steps (``growth > 0`` spaces
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
    ss = np.random.SeedSequence(check_seed(seed)).spawn(2)
    M, s = separated_target(size, rank, ratio, rng=np.random.default_rng(ss[0]))
    problem = full_observation(M)
    scale = X7_INIT.get(depth, 1e-3) if init_scale is None else check_positive(init_scale, "init_scale")
    N = depth
    lr = lr_factor / (N * s[0] ** (2.0 * (N - 1) / N))      # lr_factor / (Hessian scale)
    alpha = scale ** (1.0 / N)
    if max_steps is None:
        t_escape = float(escape_time(s[-1], alpha, N))
        t_converge = 20.0 / (N * s[-1] ** (2.0 * (N - 1) / N))
        max_steps = int(10 * (t_escape + t_converge) / lr)
    per = check_int(records_per_escape, "records_per_escape", minimum=1)
    every = max(1, int(float(escape_time(s[0], alpha, N)) / lr / per))
    weights = init_weights(M.shape, N, scale, kind="balanced", rng=np.random.default_rng(ss[1]))

    # stop once the R target singular values are learned to 1e-6: for N >= 3 the unlearned
    # components stay at the init's size (their velocity ~ sigma^{2(N-1)/N}, E6), so the loss
    # levels off near (size * scale)^2 rather than falling to 0
    def learned(run):
        top = np.linalg.svd(run.W, compute_uv=False)[:rank]
        return bool(np.all(np.abs(top - s) <= 1e-6 * s))

    run, snaps = gd_with_snapshots(problem, weights, lr=lr, max_steps=max_steps, every=every,
                                   growth=1.0 / per, stop=learned)
    history = {k: v for k, v in run.history.items()}
    stages = detect_stages(history)
    lam = np.array([hessian_extremes(problem, snaps[int(k)], method=hessian_method, rng=0)
                    for k in stages.plateau_steps]).reshape(-1, 2)
    tol = 10.0 * scale * s[0] if tol is None else check_positive(tol, "tol")
    end = classify_point(problem, run.weights, grad_tol=tol, hess_tol=tol, method=hessian_method, rng=0)
    return dict(rank=rank, depth=N, init_scale=scale, lr=lr, steps=int(np.max(run.steps)),
                n_stages=stages.n_stages, escape_steps=stages.escape_steps,
                plateau_steps=stages.plateau_steps, plateau_lambda_min=lam[:, 0],
                plateau_lambda_max=lam[:, 1], plateau_loss=stages.plateau_loss,
                plateau_flatness=stages.plateau_flatness, end=end,
                final_loss=float(history["loss"][-1]), history=history, s=s)


def x7_stages(ranks=(1, 2, 3, 4, 5), depths=(2, 3, 4), *, quick=False, seed=0, **kwargs):
    """X7 sweep: :func:`x7_run` for every ``(rank, depth)``; one row (dict) per run.

    ``quick=True`` runs ranks (1, 2) at depths (2, 3) on a 4 x 4 target.  The rows drop the
    full history (keep ``escape_steps`` etc.); pass ``keep_history=True`` to keep it.
    """
    keep = kwargs.pop("keep_history", False)
    if quick:
        ranks, depths = (1, 2), (2, 3)
        kwargs.setdefault("size", 4)
    seeds = np.random.SeedSequence(check_seed(seed)).spawn(len(ranks) * len(depths))
    rows = []
    for i, (R, N) in enumerate((R, N) for N in depths for R in ranks):
        row = x7_run(R, N, seed=int(seeds[i].generate_state(1)[0]), **kwargs)
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
    M, s = separated_target(size, rank, ratio, rng=seed, symmetric=True)
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


# --------------------------------------------------------------------------- X6

def x6_problems(seed=0):
    r"""The three small completions of X6, as a dict ``name -> MatrixCompletion``.

    * ``"diag2x2"``: 2 x 2, the diagonal observed (``W_11 = 1``, ``W_22 = 0.5``), off-diagonal free;
    * ``"e12"``: the E12 problem, ``W_12 = W_21 = 1``, ``W_22 = 0``, ``W_11`` free;
    * ``"lowrank5"``: a random rank-1 5 x 5 matrix with 12 observed entries (``truth`` set).
    """
    rng = as_rng(seed, "seed")
    M = random_low_rank(5, 5, 1, rng=rng)
    flat = np.sort(rng.choice(25, size=12, replace=False))
    rows, cols = np.divmod(flat, 5)
    return {
        "diag2x2": MatrixCompletion((2, 2), [0, 1], [0, 1], [1.0, 0.5]),
        "e12": MatrixCompletion((2, 2), [0, 1, 1], [1, 0, 1], [1.0, 1.0, 0.0]),
        "lowrank5": MatrixCompletion((5, 5), rows, cols, M[rows, cols], truth=M),
    }


X6_LOSS_TOL = {"diag2x2": 1e-6, "e12": 1e-3, "lowrank5": 1e-4}


def x6_depth_limit(depths=(2, 3, 4, 8, 32, np.inf), *, problems=None, init_scale=1e-2, loss_tol=None,
                   t_end=1e5, n_records=60, quick=False, seed=0, method="LSODA", rtol=1e-7, atol=1e-12):
    r"""X6: end-to-end flows of several depths (rescaled time ``tau = N t``) from one small init.

    Each flow runs until its loss reaches ``loss_tol`` (or ``t_end``), so depths are compared at
    **equal loss**: their escape times differ by orders of magnitude (E10: in rescaled time
    ``tau ~ N / ((N-2) s a0^{1-2/N})``, tending to ``1/(s a0)``), and E12 has no finite limit.

    Parameters
    ----------
    depths : ints >= 1 and/or ``numpy.inf``
    problems : dict ``name -> MatrixCompletion``, optional (default :func:`x6_problems`)
    init_scale : float > 0
        Common init ``W(0) = init_scale * (I + 0.1 E / sqrt(max(m, n)))`` (``E`` fixed Gaussian):
        full rank, ``det > 0`` for the 2 x 2 problems (as E12 requires), nearly isotropic.
    loss_tol : float or dict name -> float, optional
        Default ``X6_LOSS_TOL`` (1e-6 for the diagonal problem; 1e-3 for E12, where
        ``|W_11| ~ 1/sqrt(2 loss)``; 1e-4 for the 5 x 5 one, where deep flows are slow to finish).
    t_end : float
        Rescaled horizon cap.
    n_records : int
        Record times, geometrically spaced in ``[1e-3, t_end]`` (plus 0).
    quick : bool
        Depths (2, 4, inf) on the two 2 x 2 problems, looser tolerances.
    method, rtol, atol : passed to ``solve_ivp`` (the flows of small singular values are stiff:
        LSODA is ~50x faster here than the explicit default of :func:`dmf_edu.end_to_end_flow`).

    Returns
    -------
    dict ``name -> dict`` with
        ``depths`` (list), per depth lists (ragged: each flow stops at its own time) ``t``,
        ``loss``, ``effective_rank``, ``log_volume`` (E15; square problems), ``entropy`` (E16),
        ``singular_values``; arrays ``final_W`` (depths, m, n), ``final_loss``, ``final_erank``,
        ``stop_time`` (each ``(depths,)``) and ``distance_to_inf`` (``(depths,)``: relative
        Frobenius distance of the final ``W`` to the ``N = inf`` one; NaN if ``inf`` is absent).

    Notes
    -----
    The flows are E3 (finite ``N``) and E5 (``N = inf``) in the rescaled time in which
    ``(1/N) A_{N,W} -> A_{inf,W}`` at rate ``O(1/N)`` (E5).  Volume and entropy use the
    normalisations of :func:`dmf_edu.geometry.volume_density` (the volume of ``N g^N``) and
    :func:`dmf_edu.geometry.fibre_entropy` (``m_N = a_N / N``).
    """
    depths = [resolve_depth(N) for N in depths]
    problems = x6_problems(seed) if problems is None else dict(problems)
    if quick:
        depths = [N for N in depths if N in (2, 4, np.inf)] or depths[:2]
        problems = {k: v for k, v in problems.items() if k in ("diag2x2", "e12")} or problems
        n_records, rtol, atol = min(n_records, 20), max(rtol, 1e-6), max(atol, 1e-12)
    init_scale = check_positive(init_scale, "init_scale")
    t_end = check_positive(t_end, "t_end")
    n_records = check_int(n_records, "n_records", minimum=2)
    times = np.concatenate([[0.0], np.geomspace(1e-3, t_end, n_records - 1)])
    rng = as_rng(seed, "seed")
    out = {}
    for name, problem in problems.items():
        m, n = problem.shape
        tol = loss_tol.get(name, 1e-8) if isinstance(loss_tol, dict) else \
            (X6_LOSS_TOL.get(name, 1e-8) if loss_tol is None else loss_tol)
        W0 = init_scale * (np.eye(m, n) + 0.1 * rng.standard_normal((m, n)) / np.sqrt(max(m, n)))
        rec = {k: [] for k in ("t", "loss", "effective_rank", "log_volume", "entropy", "singular_values")}
        finals, stops = [], []
        for N in depths:
            run = end_to_end_flow(problem, W0, N, t_end, rescaled=True, record_times=times,
                                  loss_tol=tol, method=method, rtol=rtol, atol=atol,
                                  n_singular=min(m, n))
            sv = run.history["singular_values"]
            rec["t"].append(run.history["t"])
            rec["loss"].append(run.history["loss"])
            rec["singular_values"].append(sv)
            rec["effective_rank"].append(effective_rank_from_singular_values(sv))
            rec["log_volume"].append(volume_density(sv, N, log=True) if m == n
                                     else np.full(len(sv), np.nan))
            rec["entropy"].append(fibre_entropy(sv, N))
            finals.append(run.weights[0])
            stops.append(run.state["flow_time"])
        finals = np.array(finals)
        if np.inf in depths:
            ref = finals[depths.index(np.inf)]
            dist = np.linalg.norm(finals - ref, axis=(-2, -1)) / max(np.linalg.norm(ref), 1e-300)
        else:
            dist = np.full(len(depths), np.nan)
        out[name] = dict(depths=depths, **rec, final_W=finals, stop_time=np.array(stops),
                         final_loss=np.array([x[-1] for x in rec["loss"]]),
                         final_erank=np.array([x[-1] for x in rec["effective_rank"]]),
                         distance_to_inf=dist, loss_tol=tol)
    return out
