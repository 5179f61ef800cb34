"""Regime tests (issue 21): the library at every regime it accepts -- square, tall and wide W;
depth 1, 2, 3 and N >= 4 (and N = inf); equal and distinct hidden widths; non-symmetric,
non-normal points; near-degenerate inputs (x ~ y, a zero singular value); the number of
returned items.  ``tools/mutants.py`` plants the regime bugs of ``dmf_edu.proofs.regimes``
(transpose on square inputs only, off-by-one in depth for N >= 4, 1 % on wide inputs only,
dropped last list item, ...) and these tests must catch them.
"""

import math

import numpy as np
import pytest

from dmf_edu import factorization, linalg, metrics

# dims [d_0, ..., d_N]: W = W_N ... W_1 is d_N x d_0
GRID = {
    "N1 tall": [2, 3], "N1 wide": [3, 2],
    "N2 square equal": [2, 2, 2], "N2 wide distinct": [3, 2, 2], "N2 tall distinct": [2, 4, 3],
    "N3 tall distinct": [2, 3, 1, 3], "N3 square equal": [3, 3, 3, 3],
    "N4 square equal": [2, 2, 2, 2, 2], "N4 wide distinct": [3, 1, 2, 2, 2], "N5 tall distinct": [2, 3, 2, 1, 4, 3],
}


def _weights(dims, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((dims[j + 1], dims[j])) for j in range(len(dims) - 1)]


def _product(ws):
    out = ws[0]
    for w in ws[1:]:
        out = w @ out
    return out


def _gradients_fd(ws, G, h=1e-6):
    """d<G, W_N...W_1>/dW_j by central differences (exact for a multilinear function up to rounding)."""
    grads = []
    for j, w in enumerate(ws):
        g = np.zeros_like(w)
        for idx in np.ndindex(*w.shape):
            up = [x.copy() for x in ws]
            dn = [x.copy() for x in ws]
            up[j][idx] += h
            dn[j][idx] -= h
            g[idx] = (np.sum(G * _product(up)) - np.sum(G * _product(dn))) / (2 * h)
        grads.append(g)
    return grads


@pytest.mark.parametrize("name", list(GRID))
def test_end_to_end_every_regime(name):
    ws = _weights(GRID[name])
    W = factorization.end_to_end(ws)
    assert W.shape == (GRID[name][-1], GRID[name][0])
    np.testing.assert_allclose(W, _product(ws), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", list(GRID))
def test_layer_gradients_every_regime(name):
    dims = GRID[name]
    ws = _weights(dims, 1)
    G = np.random.default_rng(2).standard_normal((dims[-1], dims[0]))
    grads = factorization.layer_gradients(ws, G)
    assert len(grads) == len(ws)
    for g, e in zip(grads, _gradients_fd(ws, G)):
        np.testing.assert_allclose(g, e, rtol=1e-7, atol=1e-8)


def test_layer_gradients_batched_each_trial_as_alone():
    dims = GRID["N4 wide distinct"]
    trials = [_weights(dims, s) for s in (3, 4)]
    Gs = np.random.default_rng(5).standard_normal((2, dims[-1], dims[0]))
    batched = factorization.layer_gradients([np.stack(t) for t in zip(*trials)], Gs)
    assert len(batched) == len(dims) - 1
    for b in range(2):
        for g, e in zip(batched, factorization.layer_gradients(trials[b], Gs[b])):
            np.testing.assert_allclose(g[b], e, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", [n for n in GRID if not n.startswith("N1")])
def test_balancedness_residuals_count_and_values(name):
    ws = _weights(GRID[name], 6)
    res = factorization.balancedness_residuals(ws)
    assert len(res) == len(ws) - 1
    for j, D in enumerate(res):
        np.testing.assert_allclose(D, ws[j + 1].T @ ws[j + 1] - ws[j] @ ws[j].T, rtol=1e-13, atol=1e-13)


def _non_normal(m, n, seed, rank=None):
    rng = np.random.default_rng(seed)
    if rank is None:
        M = rng.standard_normal((m, n))
        if m == n:
            M = M + 3 * np.triu(np.ones((m, n)), 1)             # far from normal
        return M
    return rng.standard_normal((m, rank)) @ rng.standard_normal((rank, n))


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4)])
@pytest.mark.parametrize("rank", [None, 1])
def test_singular_values_and_norms_non_normal(shape, rank):
    M = _non_normal(*shape, seed=7, rank=rank)
    s = np.sqrt(np.clip(np.sort(np.linalg.eigvalsh(M.T @ M if shape[1] <= shape[0] else M @ M.T))[::-1], 0, None))
    s = np.where(s < 1e-7 * s[0], 0.0, s)               # sqrt of a rounding-level eigenvalue is a zero
    np.testing.assert_allclose(metrics.singular_values(M), s, rtol=1e-10, atol=1e-12 * s[0])
    assert metrics.nuclear_norm(M) == pytest.approx(s.sum(), rel=1e-12)
    for p in (1, 2, 3):
        assert metrics.schatten_norm(M, p) == pytest.approx(np.sum(s ** p) ** (1 / p), rel=1e-12)
    assert metrics.schatten_norm(M, np.inf) == pytest.approx(s[0], rel=1e-12)
    if shape[0] == shape[1] and rank is None:           # |eigenvalues| differ from sigma here
        assert not np.allclose(np.sort(np.abs(np.linalg.eigvals(M)))[::-1], s, rtol=1e-3)


@pytest.mark.parametrize("N", [1, 2, 3, 4, 6])
def test_depth_multiplier_definition_and_near_diagonal(N):
    x, y = 1.7, 0.6
    exact = sum(x ** (2 * (N - p) / N) * y ** (2 * (p - 1) / N) for p in range(1, N + 1))
    assert linalg.depth_multiplier(x, y, N) == pytest.approx(exact, rel=1e-12)
    near = linalg.depth_multiplier(x, x * (1 + 1e-9), N)
    assert near == pytest.approx(N * x ** (2 * (N - 1) / N), rel=1e-7)
    assert linalg.depth_multiplier(x, 0.0, N) == pytest.approx(x ** (2 * (N - 1) / N) if N > 1 else 1.0, rel=1e-12)


def test_depth_multiplier_infinite_depth_is_the_log_mean():
    x, y = 1.7, 0.6
    L = (x ** 2 - y ** 2) / math.log(x ** 2 / y ** 2)
    assert linalg.depth_multiplier(x, y, np.inf) == pytest.approx(L, rel=1e-12)
    assert linalg.depth_multiplier(x, x * (1 + 1e-9), np.inf) == pytest.approx(x ** 2, rel=1e-7)
    assert linalg.depth_multiplier(x, 0.0, np.inf) == pytest.approx(0.0, abs=1e-300)
