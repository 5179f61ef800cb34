r"""What the convex baselines add to a problem's measurement map (THEORY.md E9, E13).

``A`` is the problem's measurement map, :meth:`~dmf_edu.problems.Problem.forward` (for a
:class:`~dmf_edu.MatrixCompletion`, ``A(X)_k = X[rows[k], cols[k]]``; for a
:class:`~dmf_edu.MatrixSensing`, ``A(X)_k = <A_k, X>``), with adjoint
:meth:`~dmf_edu.problems.Problem.adjoint` ``A^*(lam) = sum_k lam_k A_k`` and data
``b = problem.data``.  :class:`Measurements` adds what only the solvers need: the Gram matrix
``A A^*``, the one linear solve of the nuclear-norm ADMM and the consistency check;
:func:`constraint_violation` measures ``|A(X) - b| <= eps``.  Used by
:mod:`dmf_edu.baselines.nuclear_norm` and :mod:`dmf_edu.baselines.schatten`.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_positive
from ..problems import MatrixCompletion, Problem

__all__ = ["Measurements", "constraint_violation", "check_eps"]


class Measurements:
    """One problem's measurement map with the solver-specific parts: Gram matrix and regularized solve.

    ``forward`` and ``adjoint`` are the problem's own (:meth:`~dmf_edu.problems.Problem.forward`,
    :meth:`~dmf_edu.problems.Problem.adjoint`); ``b`` its data.
    ``regularized_solve(V, v, gamma)`` returns ``argmin_Z ||Z - V||_F^2 + ||gamma A(Z) - v||^2``,
    i.e. ``(I + gamma^2 A^* A)^{-1} (V + gamma A^*(v))``: diagonal for completion; for sensing by the
    Woodbury identity with an eigendecomposition of the ``K x K`` Gram matrix ``A A^*``.
    """

    def __init__(self, problem, name="problem"):
        if not isinstance(problem, Problem):
            raise TypeError(f"{name} must be a MatrixCompletion or MatrixSensing, got {type(problem).__name__}")
        if problem.batch_shape != ():
            raise ValueError(f"{name} has trial axes {problem.batch_shape}; the baselines solve one problem "
                             "at a time: build one problem per set of values")
        self.problem, self.forward, self.adjoint = problem, problem.forward, problem.adjoint
        self.shape = tuple(problem.shape)
        self.completion = isinstance(problem, MatrixCompletion)
        self.b = np.asarray(problem.data, dtype=float)
        self.K = self.b.size
        if self.completion:
            self.rows, self.cols = problem.rows, problem.cols
            self.row_norm = 1.0                              # each A_k is one unit entry
        else:
            self.A2 = problem.A.reshape(self.K, -1)          # (K, m n) float64, rows are vec(A_k)
            self._gram = None
            self.row_norm = max(float(np.sqrt(np.mean(np.sum(self.A2 ** 2, axis=1)))), 1e-300)   # rms ||A_k||_F

    def gram(self):
        """Eigendecomposition ``(s, Q)`` of ``A A^*`` (sensing only; computed once)."""
        if self._gram is None:
            s, Q = np.linalg.eigh(self.A2 @ self.A2.T)
            self._gram = (np.maximum(s, 0.0), Q)
        return self._gram

    def regularized_solve(self, V, v, gamma=1.0):
        """``argmin_Z ||Z - V||_F^2 + ||gamma A(Z) - v||^2`` (the projection onto ``{(Z, gamma A(Z))}``)."""
        if self.completion:
            Z = V.copy()
            Z[self.rows, self.cols] = (V[self.rows, self.cols] + gamma * v) / (1.0 + gamma * gamma)
            return Z
        s, Q = self.gram()
        rhs = V + gamma * self.adjoint(v)
        t = Q @ ((Q.T @ self.forward(rhs)) / (1.0 / gamma ** 2 + s))    # (I/gamma^2 + A A^*)^{-1} A rhs
        return rhs - self.adjoint(t)

    def check_consistent(self, eps):
        """Raise ``ValueError`` when no ``X`` satisfies ``|A(X) - b| <= eps``."""
        if self.completion:
            return                                       # distinct entries: always feasible
        s, Q = self.gram()
        null = s <= 1e-10 * max(float(s.max(initial=0.0)), 1e-300)
        if not np.any(null):
            return
        Qn = Q[:, null]
        r = Qn @ (Qn.T @ self.b)          # part of y outside the range of A: least-squares residual
        rmax = float(np.max(np.abs(r)))
        # min over feasible v of ||y - v||_inf lies in [||r||_2^2 / ||r||_1, ||r||_inf]
        lower = float(r @ r) / max(float(np.sum(np.abs(r))), 1e-300)
        tol = 1e-9 * max(1.0, float(np.max(np.abs(self.b))))
        if rmax <= eps + tol:
            return
        if lower > eps + tol or eps == 0.0:
            raise ValueError(
                f"the measurements y are inconsistent: the measurement matrices A_k are linearly dependent "
                f"and no X satisfies |<A_k, X> - y_k| <= eps = {eps:g} (the least-squares residual is "
                f"{rmax:.3e} in max norm); raise eps to at least {lower:.3e}, or drop dependent measurements")


def check_eps(eps):
    """``eps`` as a float >= 0, or ``ValueError`` naming the argument."""
    return check_positive(eps, "eps (the constraint tolerance |A(X) - b| <= eps)", allow_zero=True)



def constraint_violation(meas, X, eps):
    """``max_k max(|A(X)_k - b_k| - eps, 0)``: how far ``X`` (``(m, n)``) is outside the constraints."""
    r = meas.forward(X) - meas.b
    return float(np.max(np.maximum(np.abs(r) - eps, 0.0), initial=0.0))
