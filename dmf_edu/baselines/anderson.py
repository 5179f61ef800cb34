r"""Anderson acceleration of a fixed-point iteration ``t <- t + g(t)`` (used by the E13 ADMM).

:class:`AndersonMixer` keeps a short memory of past points and residuals and proposes the next
point; the caller decides whether to accept it (see
:func:`dmf_edu.baselines.nuclear_norm.nuclear_norm_minimization`, which falls back to the plain
step when the residual grows).
"""

from __future__ import annotations

import numpy as np

__all__ = ["AndersonMixer"]


class AndersonMixer:
    r"""Type-II Anderson acceleration of a fixed-point iteration ``t <- t + g(t)``.

    Keeps the last ``memory`` differences ``dt_i = t_{i+1} - t_i``, ``dg_i = g_{i+1} - g_i`` and
    proposes ``t + g - sum_i c_i (dt_i + dg_i)`` with ``c = argmin_c ||g - sum_i c_i dg_i||`` (a
    ``memory x memory`` regularized least-squares solve; its Gram matrix is updated one row per
    step).  For an affine map this is GMRES on ``g(t) = 0``; the caller safeguards it by falling
    back to the plain step when the residual grows.  ``memory = 0``: plain iteration.
    """

    def __init__(self, size, memory, reg=1e-10):
        self.memory, self.reg = memory, reg
        self.dx = np.empty((memory, size))     # rows dt_i + dg_i: the update is step - c @ dx
        self.dg = np.empty((memory, size))
        self.gram = np.empty((memory, memory))
        self.reset()

    def reset(self):
        self.pairs, self.last = 0, None

    def propose(self, t, g):
        """Return ``(next point, accelerated?)``."""
        step = t + g
        if self.memory == 0:
            return step, False
        if self.last is not None:
            j = self.pairs % self.memory
            np.subtract(g, self.last[1], out=self.dg[j])
            np.subtract(t, self.last[0], out=self.dx[j])
            self.dx[j] += self.dg[j]
            self.pairs += 1
            k = min(self.pairs, self.memory)
            self.gram[j, :k] = self.gram[:k, j] = self.dg[:k] @ self.dg[j]
        self.last = (t, g)
        k = min(self.pairs, self.memory)
        if k == 0:
            return step, False
        G = self.gram[:k, :k]
        try:
            c = np.linalg.solve(G + (self.reg * np.trace(G) + 1e-300) * np.eye(k), self.dg[:k] @ g)
        except np.linalg.LinAlgError:
            return step, False
        step -= c @ self.dx[:k]
        return step, True
