r"""The loss landscape of a deep factorization: Hessians, negative curvature, saddle stages (E17).

For ``phi(W_1, ..., W_N) = ell(W_N ... W_1)`` this module gives

* :func:`hessian_vector_product` — ``(nabla^2 phi) V`` for a direction ``V = [V_1, ..., V_N]``,
  written by hand as the tangent (forward-mode derivative) of the E1 forward/backward pass,
  about ``6N`` matrix products, never forming the Hessian;
* :func:`hessian_operator`, :func:`hessian_matrix`, :func:`hessian_extremes` — the Hessian as a
  ``scipy.sparse.linalg.LinearOperator`` on the flattened factors, as a dense matrix (small
  problems, for checking), and its extreme eigenvalues by Lanczos (``eigsh``);
* :func:`check_hessian_vector_product` — finite differences of :func:`dmf_edu.layer_gradients`
  against a claimed Hessian-vector product (returns numbers; catches planted bugs);
* :func:`classify_point` — first-/second-order stationarity of an end point;
* :func:`detect_stages` — the saddle-escape stages of a run's history: singular values leaving
  the floor one after another, separated by loss plateaus (in :mod:`dmf_edu.landscape.stages`).

Product order everywhere: ``W = W_N ... W_1``, ``weights = [W_1, ..., W_N]``, ``W_j`` of shape
``(d_j, d_{j-1})``.  The loss is one of the package's quadratic problems
(:class:`dmf_edu.MatrixCompletion`, :class:`dmf_edu.MatrixSensing`), so its own Hessian
``H_ell`` is a constant linear map, :meth:`dmf_edu.problems.Problem.loss_hessian_apply`.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, LinearOperator, eigsh

from .._validate import as_rng, check_int, check_positive, check_weights
from ..factorization import backward, layer_gradients, prefix_products
from ..problems import MatrixCompletion, MatrixSensing, Problem

__all__ = [
    "loss_hessian_apply", "hessian_vector_product", "hessian_operator", "hessian_matrix",
    "hessian_extremes", "check_hessian_vector_product", "classify_point",
]


def _T(A):
    return np.swapaxes(A, -1, -2)


def loss_hessian_apply(problem, Z):
    """``H_ell[Z]``, the loss Hessian applied to ``Z`` ``(..., m, n)``: the problem's own
    :meth:`~dmf_edu.problems.Problem.loss_hessian_apply` (one measurement map, written once)."""
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a MatrixCompletion or MatrixSensing, got {type(problem).__name__}")
    return problem.loss_hessian_apply(Z)


def _dense(G):
    return G.toarray() if hasattr(G, "toarray") else np.asarray(G)


def _check_problem(problem, weights):
    if not isinstance(problem, (MatrixCompletion, MatrixSensing)):
        if isinstance(problem, Problem):
            raise TypeError(f"the Hessian is written for MatrixCompletion and MatrixSensing, "
                            f"got {type(problem).__name__}")
        raise TypeError(f"problem must be a MatrixCompletion or MatrixSensing, got {type(problem).__name__}")
    m, n = weights[-1].shape[-2], weights[0].shape[-1]
    if (m, n) != tuple(problem.shape):
        raise ValueError(f"weights give an end-to-end matrix W_N ... W_1 of shape {m}x{n} but the "
                         f"problem is {problem.shape[0]}x{problem.shape[1]}")


def _unbatched(weights, name="weights"):
    weights = check_weights(weights, name)
    if any(w.ndim != 2 for w in weights):
        raise ValueError(f"{name} must be unbatched 2-D factors here (one point of the landscape); "
                         "loop over trials")
    return weights


def _hvp(weights, G, V, hess_apply):
    """Unvalidated core of :func:`hessian_vector_product` (see its Notes)."""
    N = len(weights)
    P = prefix_products(weights)                      # P[j] = W_{j+1:1} (0-based j)
    dP = [V[0]]                                       # tangent of the prefixes
    for j in range(1, N):
        dP.append(V[j] @ P[j - 1] + weights[j] @ dP[j - 1])
    dW = dP[-1]                                       # first-order change of W = W_N ... W_1
    B, dB = G, hess_apply(dW)                         # B_N = G and its tangent dG = H_ell[dW]
    out = [None] * N
    for j in range(N - 1, -1, -1):                    # 0-based j is W_{j+1}
        if j == 0:
            out[0] = dB                               # dphi/dW_1 = B_1 (W_{0:1} = I)
        else:
            # dphi/dW_{j+1} = B_{j+1} P_j^T, product rule on both factors
            out[j] = dB @ _T(P[j - 1]) + B @ _T(dP[j - 1])
            # B_j = W_{j+1}^T B_{j+1}, product rule
            dB = _T(V[j]) @ B + _T(weights[j]) @ dB
            B = _T(weights[j]) @ B
    return out


def hessian_vector_product(problem, weights, V):
    r"""Hessian of ``phi(W_1..W_N) = ell(W_N ... W_1)`` w.r.t. all factors, applied to ``V``.

    Parameters
    ----------
    problem : MatrixCompletion or MatrixSensing
    weights : list of arrays
        ``[W_1, ..., W_N]``, ``W_j`` of shape ``(..., d_j, d_{j-1})``.
    V : list of arrays
        Direction ``[V_1, ..., V_N]``, same shapes as the weights.

    Returns
    -------
    list of arrays
        ``[(nabla^2 phi V)_1, ..., (nabla^2 phi V)_N]``, shapes of the weights.

    Notes
    -----
    **E17** needs second-order information; it is obtained by differentiating the **E1**
    pass along ``t -> W_j + t V_j``.  Forward: prefixes ``P_j = W_j P_{j-1}`` (``P_0 = I``)
    have tangents

    .. math:: \dot P_j = V_j P_{j-1} + W_j \dot P_{j-1}, \qquad \dot W = \dot P_N .

    Backward: ``B_N = G``, ``B_{j-1} = W_j^T B_j`` (so ``dphi/dW_j = B_j P_{j-1}^T``) with

    .. math:: \dot B_N = H_\ell[\dot W], \qquad \dot B_{j-1} = V_j^\top B_j + W_j^\top \dot B_j,
              \qquad (\nabla^2\phi\, V)_j = \dot B_j P_{j-1}^\top + B_j \dot P_{j-1}^\top .

    The ``H_ell`` term is the Gauss-Newton part ``J^* H_ell J V``; the rest is the curvature of
    the product, which carries the negative eigenvalues at saddles.  About ``6N`` products.
    """
    weights = check_weights(weights)
    V = check_weights(V, "V")
    if len(V) != len(weights) or any(v.shape[-2:] != w.shape[-2:] for v, w in zip(V, weights)):
        raise ValueError("V must be a list of arrays with the shapes of the weights [W_1, ..., W_N]")
    _check_problem(problem, weights)
    G = _dense(problem.gradient(prefix_products(weights)[-1]))
    return _hvp(weights, G, V, problem.loss_hessian_apply)


def _flat_tools(weights):
    shapes = [w.shape for w in weights]
    cuts = np.cumsum([0] + [int(np.prod(s)) for s in shapes])

    def unflat(x):
        return [x[cuts[i]:cuts[i + 1]].reshape(s) for i, s in enumerate(shapes)]

    def flat(ws):
        return np.concatenate([np.ravel(w) for w in ws])

    return int(cuts[-1]), flat, unflat


def hessian_operator(problem, weights):
    r"""The Hessian of ``phi`` as a symmetric ``LinearOperator`` on the flattened factors.

    Parameters
    ----------
    problem : MatrixCompletion or MatrixSensing
    weights : list of 2-D arrays ``[W_1, ..., W_N]``, ``W_j`` of shape ``(d_j, d_{j-1})``

    Returns
    -------
    scipy.sparse.linalg.LinearOperator, shape ``(D, D)``, ``D = sum_j d_j d_{j-1}``
        The vector layout is ``concatenate([W_1.ravel(), ..., W_N.ravel()])``.

    Notes
    -----
    Each application is one :func:`hessian_vector_product` (E17); ``G`` and the prefix
    products of the point are computed once.
    """
    weights = _unbatched(weights)
    _check_problem(problem, weights)
    D, flat, unflat = _flat_tools(weights)
    G = _dense(problem.gradient(prefix_products(weights)[-1]))

    def matvec(x):
        return flat(_hvp(weights, G, unflat(np.ravel(x)), problem.loss_hessian_apply))

    return LinearOperator((D, D), matvec=matvec, rmatvec=matvec, dtype=np.float64)


def hessian_matrix(problem, weights):
    """Dense ``(D, D)`` Hessian of ``phi`` (one Hessian-vector product per column; small problems).

    Same layout as :func:`hessian_operator`; symmetrised ``(H + H^T)/2`` to remove rounding.
    """
    op = hessian_operator(problem, weights)
    H = op.matmat(np.eye(op.shape[0]))
    return 0.5 * (H + H.T)


def hessian_extremes(problem, weights, *, method="auto", tol=1e-10, rng=None, maxiter=None, ncv=None):
    r"""Smallest and largest eigenvalues of the Hessian of ``phi`` (E17).

    Parameters
    ----------
    problem : MatrixCompletion or MatrixSensing
    weights : list of 2-D arrays ``[W_1, ..., W_N]``, ``W_j`` of shape ``(d_j, d_{j-1})``
    method : {"auto", "lanczos", "dense"}
        ``"lanczos"``: ``scipy.sparse.linalg.eigsh`` (implicitly restarted Lanczos) on
        :func:`hessian_operator`, smallest and largest algebraic eigenvalue; ``"dense"``:
        ``numpy.linalg.eigvalsh`` of :func:`hessian_matrix`.  ``"auto"`` is Lanczos unless the
        dimension ``D < 3`` (too small for ARPACK).
    tol : float
        Relative tolerance passed to ``eigsh``.
    rng : None, int or Generator
        Starting vector of the Lanczos iteration.
    maxiter, ncv : int, optional
        Passed to ``eigsh`` (default ``ncv = min(D - 1, 64)``: near-zero clusters of eigenvalues,
        as at the end of a run, stall ARPACK with its default of 20).  If ``tol`` is not reached,
        ``tol = 1e-6`` is tried before a ``RuntimeError``.

    Returns
    -------
    (lambda_min, lambda_max) : floats

    Notes
    -----
    At the origin with ``N >= 3`` every term of the Hessian holds at least one factor, so the
    Hessian vanishes: Lanczos then meets an invariant subspace at once and returns 0 (the
    degenerate case of E17).  At the origin with ``N = 2`` the eigenvalues are
    ``+-sigma_i(G)`` (and zeros), so ``lambda_min = -||G||_2``.
    """
    if method not in ("auto", "lanczos", "dense"):
        raise ValueError(f"method must be 'auto', 'lanczos' or 'dense', got {method!r}")
    op = hessian_operator(problem, weights)
    D = op.shape[0]
    if method == "dense" or (method == "auto" and D < 3):
        lam = np.linalg.eigvalsh(hessian_matrix(problem, weights))
        return float(lam[0]), float(lam[-1])
    if D < 3:
        raise ValueError(f"method='lanczos' needs a Hessian of dimension >= 3, got {D}; use method='dense'")
    tol = check_positive(tol, "tol")
    rng = as_rng(rng)
    v0 = rng.standard_normal(D)
    if np.linalg.norm(op.matvec(v0)) == 0.0:           # zero Hessian (origin, N >= 3)
        return 0.0, 0.0
    ncv = min(D - 1, 64) if ncv is None else check_int(ncv, "ncv", minimum=3)
    out = []
    for which in ("SA", "LA"):
        # clustered spectra near 0 (end points, plateaus) need a wide Krylov space; a looser
        # tolerance is tried before giving up
        for attempt_tol in (tol, max(tol, 1e-6)):
            try:
                out.append(float(eigsh(op, k=1, which=which, v0=v0, tol=attempt_tol, ncv=ncv,
                                       maxiter=maxiter, return_eigenvectors=False)[0]))
                break
            except (ArpackNoConvergence, ArpackError):
                continue
        else:
            raise RuntimeError(f"Lanczos did not converge for the {which} eigenvalue of the {D}x{D} "
                               "Hessian; raise maxiter or ncv, or use method='dense' for small problems")
    return out[0], out[1]


def check_hessian_vector_product(problem, weights, hvp=None, rng=None, h=1e-5, n_directions=3):
    r"""Relative error of a Hessian-vector product against central differences of E1.

    ``(layer_gradients(W + hV) - layer_gradients(W - hV)) / (2h)`` is compared with
    ``hvp(problem, weights, V)`` over ``n_directions`` random directions (scaled to
    ``||V|| = ||W||``), reporting the largest ``||fd - hvp|| / max(||fd||, ||hvp||)``.

    Parameters
    ----------
    problem : MatrixCompletion or MatrixSensing
    weights : list of arrays ``[W_1, ..., W_N]``, ``W_j`` of shape ``(d_j, d_{j-1})``
    hvp : callable ``(problem, weights, V) -> list``, optional
        Default :func:`hessian_vector_product`; pass a variant to check it (or a planted bug).

    Returns
    -------
    float
        About ``1e-9`` for a correct product in float64 (the difference is exact up to rounding
        on the ``O(h^2)`` term), ``0.1 - 1`` for a wrong one.
    """
    hvp = hessian_vector_product if hvp is None else hvp
    weights = _unbatched(weights)
    _check_problem(problem, weights)
    rng = as_rng(rng)
    size = np.sqrt(sum(float(np.sum(w * w)) for w in weights)) or 1.0

    def grads(ws):
        return layer_gradients(ws, _dense(problem.gradient(prefix_products(ws)[-1])))

    worst = 0.0
    for _ in range(check_int(n_directions, "n_directions", minimum=1)):
        V = [rng.standard_normal(w.shape) for w in weights]
        norm = np.sqrt(sum(float(np.sum(v * v)) for v in V))
        V = [v * (size / norm) for v in V]
        plus = grads([w + h * v for w, v in zip(weights, V)])
        minus = grads([w - h * v for w, v in zip(weights, V)])
        fd = np.concatenate([((p - q) / (2 * h)).ravel() for p, q in zip(plus, minus)])
        an = np.concatenate([np.ravel(x) for x in hvp(problem, weights, V)])
        den = max(np.linalg.norm(fd), np.linalg.norm(an), 1e-300)
        worst = max(worst, float(np.linalg.norm(fd - an) / den))
    return worst


def classify_point(problem, weights, *, grad_tol=1e-6, hess_tol=1e-6, method="auto", rng=None):
    r"""Classify a point of the landscape by its first- and second-order conditions (E17).

    Parameters
    ----------
    problem : MatrixCompletion or MatrixSensing
    weights : list of 2-D arrays ``[W_1, ..., W_N]``, ``W_j`` of shape ``(d_j, d_{j-1})``
    grad_tol : float >= 0
        First-order stationary when ``||nabla phi|| <= grad_tol`` (Frobenius norm of all factors).
    hess_tol : float >= 0
        Second-order stationary when, in addition, ``lambda_min(nabla^2 phi) >= -hess_tol``;
        ``degenerate`` when ``max |lambda| <= hess_tol`` (e.g. the origin for ``N >= 3``).

    Returns
    -------
    dict
        ``kind`` (``"not stationary"``, ``"strict saddle"`` or ``"second-order stationary"``),
        ``grad_norm``, ``lambda_min``, ``lambda_max``, ``degenerate`` (bool) and ``loss``.

    Notes
    -----
    **E17**: GD from small init should end at a second-order stationary point
    (``||nabla phi|| ~ 0``, ``lambda_min >= -tol``); the plateaus it passes are at strict
    saddles (``lambda_min < 0``) or, at the origin for ``N >= 3``, at a degenerate point.
    A second-order stationary point need not be a minimum (the degenerate origin is one).
    """
    weights = _unbatched(weights)
    _check_problem(problem, weights)
    grad_tol = check_positive(grad_tol, "grad_tol", allow_zero=True)
    hess_tol = check_positive(hess_tol, "hess_tol", allow_zero=True)
    W = prefix_products(weights)[-1]
    loss, G = problem.loss_and_gradient(W)
    g = backward(weights, prefix_products(weights), _dense(G))
    grad_norm = float(np.sqrt(sum(np.sum(x * x) for x in g)))
    lam_min, lam_max = hessian_extremes(problem, weights, method=method, rng=rng)
    if grad_norm > grad_tol:
        kind = "not stationary"
    elif lam_min < -hess_tol:
        kind = "strict saddle"
    else:
        kind = "second-order stationary"
    return dict(kind=kind, grad_norm=grad_norm, lambda_min=lam_min, lambda_max=lam_max,
                degenerate=bool(max(abs(lam_min), abs(lam_max)) <= hess_tol), loss=float(loss))
