"""X6 — finite versus infinite depth (Cohen, Menon, Veraszto, arXiv 2210.12497; E3-E5, E15, E16).

End-to-end flows of depths 2, 3, 4, 8, 32 and infinity in the rescaled time ``tau = N t`` from
one small init, on three small completions (2x2 with the diagonal observed; the E12
problem; a random rank-1 5x5).  Depths are compared at equal loss: the depth-N solution
approaches the N = infinity one, the effective rank falls with depth, and the volume (E15)
and fibre entropy (E16) are recorded along the trajectories.
"""

from __future__ import annotations

import numpy as np

from .. import _io
from .._io import jsonable
from .._seeds import task_rng
from .._validate import check_int, check_positive
from ..dynamics import end_to_end_flow
from ..dynamics.geometry import fibre_entropy, volume_density
from ..linalg import resolve_depth
from ..metrics import effective_rank_from_singular_values
from ..problems import MatrixCompletion
from ..targets import random_low_rank
from .protocol import Experiment

ID = "X6"
TITLE = "finite vs infinite depth flows on small completions: convergence to N = inf, rank, volume"

FULL = dict(depths=["2", "3", "4", "8", "32", "inf"], init_scale=1e-2, quick=False)
QUICK = dict(FULL, depths=["2", "4", "inf"], quick=True)       # quick: the 2 x 2 problems, looser tolerances


# --------------------------------------------------------------------------- the computation

def x6_problems(seed=0):
    r"""The three small completions of X6, as a dict ``name -> MatrixCompletion``.

    * ``"diag2x2"``: 2 x 2, the diagonal observed (``W_11 = 1``, ``W_22 = 0.5``), off-diagonal free;
    * ``"e12"``: the E12 problem, ``W_12 = W_21 = 1``, ``W_22 = 0``, ``W_11`` free;
    * ``"lowrank5"``: a random rank-1 5 x 5 matrix with 12 observed entries (``truth`` set).
    """
    rng = task_rng(seed, "X6 lowrank5")
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
    normalisations of :func:`dmf_edu.dynamics.geometry.volume_density` (the volume of ``N g^N``) and
    :func:`dmf_edu.dynamics.geometry.fibre_entropy` (``m_N = a_N / N``).
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
    out = {}
    for name, problem in problems.items():
        m, n = problem.shape
        tol = loss_tol.get(name, 1e-8) if isinstance(loss_tol, dict) else \
            (X6_LOSS_TOL.get(name, 1e-8) if loss_tol is None else loss_tol)
        E = task_rng(seed, "X6 init", name, m, n).standard_normal((m, n))
        W0 = init_scale * (np.eye(m, n) + 0.1 * E / np.sqrt(max(m, n)))
        out[name] = _flows_to_equal_loss(problem, W0, depths, tol, times, t_end, method, rtol, atol)
    return out


def _flows_to_equal_loss(problem, W0, depths, tol, times, t_end, method, rtol, atol):
    """One problem: the end-to-end flow (E3; E5 at ``N = inf``) of each depth from ``W0`` to loss
    ``tol``, recording the loss, effective rank, log volume (E15) and entropy (E16)."""
    m, n = problem.shape
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
    return dict(depths=depths, **rec, final_W=finals, stop_time=np.array(stops),
                final_loss=np.array([x[-1] for x in rec["loss"]]),
                final_erank=np.array([x[-1] for x in rec["effective_rank"]]),
                distance_to_inf=dist, loss_tol=tol)


def _depth(x):
    return np.inf if str(x) == "inf" else int(x)


def run_task(task):
    c = task["config"]
    out = x6_depth_limit(depths=[_depth(x) for x in c["depths"]], init_scale=c["init_scale"],
                         quick=c["quick"], seed=task["seed"])
    rows = []
    for name, res in out.items():
        for i, N in enumerate(res["depths"]):
            label = "inf" if N == np.inf else str(int(N))
            rows.append(dict(problem=name, depth=label, final_loss=res["final_loss"][i],
                             final_effective_rank=res["final_erank"][i], stop_time=res["stop_time"][i],
                             distance_to_inf=res["distance_to_inf"][i], final_W=res["final_W"][i],
                             trace=dict(t=res["t"][i], loss=res["loss"][i],
                                        effective_rank=res["effective_rank"][i],
                                        log_volume=res["log_volume"][i], entropy=res["entropy"][i])))
    return jsonable(rows)


def tasks(config, seed):
    return [dict(key="all", config=config, seed=seed)]


def collect(rows, config):
    return dict(params=config, optimizer="gradient flow (scipy solve_ivp, LSODA), rescaled time", rows=rows)


def headline(results):
    rows = results["rows"]
    depths = [d for d in results["params"]["depths"] if d != "inf"]
    dist = {(r["problem"], r["depth"]): r["distance_to_inf"] for r in rows}
    problems = list(dict.fromkeys(r["problem"] for r in rows))
    return (["distance to N=inf; N"] + depths, [[p] + [dist.get((p, d)) for d in depths] for p in problems])


def plot(results, path):
    import matplotlib.pyplot as plt

    rows = results["rows"]
    names = list(dict.fromkeys(r["problem"] for r in rows))
    fig, axes = plt.subplots(3, len(names), figsize=(4.5 * len(names), 9.5), squeeze=False)
    for j, name in enumerate(names):
        pts = [r for r in rows if r["problem"] == name]
        finite = [r for r in pts if r["depth"] != "inf"]
        ax = axes[0, j]
        depths = [float(r["depth"]) for r in finite]
        ax.loglog(depths, [max(r["distance_to_inf"], 1e-16) for r in finite], "o-")
        ax.set_xticks(depths, [r["depth"] for r in finite])
        ax.minorticks_off()
        ax.set_xlabel("depth N")
        ax.set_ylabel("distance of W_N to W_inf (relative)")
        ranks = ", ".join(f"{r['depth']}: {r['final_effective_rank']:.2f}" for r in pts)
        ax.set_title(f"{name}\neffective rank  {ranks}", fontsize=8)
        for ax, key, label in ((axes[1, j], "effective_rank", "effective rank of W"),
                               (axes[2, j], "entropy", "fibre entropy S_N (E16)")):
            for k, r in enumerate(pts):
                t = np.asarray(r["trace"]["t"], float)
                keep = t > 0
                ax.semilogx(t[keep], np.asarray(r["trace"][key], float)[keep], color=f"C{k}",
                            label=f"N={r['depth']}")
            ax.set_xlabel("rescaled time tau = N t")
            ax.set_ylabel(label)
        axes[1, j].legend(fontsize=7)
    fig.suptitle("X6: end-to-end flows (E3/E5), depths compared at equal loss", fontsize=10)
    fig.tight_layout()
    _io.save_figure(fig, path)


EXPERIMENT = Experiment(ID, TITLE, FULL, QUICK, tasks=tasks, run_task=run_task, collect=collect, plot=plot,
                        headline=headline)
