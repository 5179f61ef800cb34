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


# --------------------------------------------------------------------------- closed forms (E10), at every depth

@pytest.mark.parametrize("N", [1, 2, 3, 4, 6, np.inf])
def test_scalar_trajectory_inverts_time_to_reach(N):
    """t(a*) from time_to_reach, then a(t(a*)) from scalar_trajectory: a* again (N = 1..6, inf)."""
    from dmf_edu import dynamics
    s, a0 = 1.5, 0.02
    states = np.array([0.1, 0.75, 1.4])
    times = dynamics.time_to_reach(states, s, a0, N)
    np.testing.assert_allclose(dynamics.scalar_trajectory(times, s, a0, N), states, rtol=1e-9)


def _primitive(a, s, N):
    """A primitive of 1/velocity at N = 1, 2 and inf (closed forms, independent of the library)."""
    if N == 1:
        return -math.log(s - a)
    if N == 2:
        return math.log(a / (s - a)) / (2 * s)
    return -1 / (s * a) + math.log(a / (s - a)) / s ** 2


@pytest.mark.parametrize("N", [1, 2, np.inf])
def test_time_to_reach_closed_forms(N):
    from dmf_edu import dynamics
    s, a0, a = 1.5, 0.02, 1.1
    exact = _primitive(a, s, N) - _primitive(a0, s, N)
    assert float(dynamics.time_to_reach(a, s, a0, N)) == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("N", [1, 2, 3, 4, 5, np.inf])
def test_scalar_velocity_every_depth(N):
    from dmf_edu import dynamics
    a, s = np.array([0.3, 1.7]), np.array([1.0, 0.5])
    exact = a ** 2 * (s - a) if N == np.inf else N * a ** (2 - 2 / N) * (s - a)
    np.testing.assert_allclose(dynamics.scalar_velocity(a, s, N), exact, rtol=1e-13)


@pytest.mark.parametrize("N", [1, 2, 3, 4, 7])
def test_escape_time_asymptotic_every_depth(N):
    from dmf_edu import dynamics
    s, alpha = 2.0, 0.05
    exact = math.log(2) if N == 1 else (math.log(1 / alpha) / s if N == 2 else 1 / ((N - 2) * s * alpha ** (N - 2)))
    assert float(dynamics.escape_time_asymptotic(s, alpha, N)) == pytest.approx(exact, rel=1e-13)


# --------------------------------------------------------------------------- operator inverse, metric, lift (E5, E14)

@pytest.mark.parametrize("shape, N", [((3, 3), 1), ((3, 3), 2), ((3, 3), 4), ((3, 3), np.inf), ((4, 2), 3),
                                      ((2, 4), 4), ((2, 4), 2)])
def test_operator_inverse_inverts_the_operator(shape, N):
    from dmf_edu import dynamics
    W = _non_normal(*shape, seed=11)
    Z = np.random.default_rng(12).standard_normal(shape)
    Y = dynamics.end_to_end_operator_inverse(W, Z, N)
    np.testing.assert_allclose(dynamics.end_to_end_operator(W, Y, N), Z, rtol=1e-9, atol=1e-10)


def _balanced(dims, seed):
    """Balanced factors W_j = Q_j Sigma Q_{j-1}^T (hidden widths >= min(m, n)) of a full-rank W."""
    rng = np.random.default_rng(seed)
    k = min(dims)
    s = np.sort(rng.uniform(0.5, 1.5, k))[::-1]
    Q = [np.linalg.qr(rng.standard_normal((d, d)))[0] for d in dims]
    return [Q[j + 1][:, :k] @ np.diag(s) @ Q[j][:, :k].T for j in range(len(dims) - 1)]


@pytest.mark.parametrize("dims", [[2, 2, 2], [3, 2, 2, 2, 2], [2, 2, 2, 3], [3, 3, 3, 3, 3], [2, 3, 3, 3, 2, 3]])
def test_metric_is_the_minimum_lift_and_bilinear(dims):
    """g(Z, Z) = sum ||dW_j||^2 of the minimum-norm lift (balanced factors), the lift has N
    factors and pushes forward to Z; g(Z, Y) != g(Z, Z) for Y != Z and is symmetric."""
    from dmf_edu.dynamics.geometry import metric, minimum_norm_lift
    ws = _balanced(dims, 13)
    W = _product(ws)
    rng = np.random.default_rng(14)
    Z, Y = rng.standard_normal(W.shape), rng.standard_normal(W.shape)
    lift = minimum_norm_lift(ws, Z)
    assert len(lift) == len(ws)
    m, n = W.shape
    pushed = sum(_product(ws[j + 1:] or [np.eye(m)]) @ lift[j] @ (_product(ws[:j]) if j else np.eye(n))
                 for j in range(len(ws)))
    np.testing.assert_allclose(pushed, Z, rtol=1e-8, atol=1e-9)
    N = len(ws)
    assert float(metric(W, Z, N)) == pytest.approx(sum(float(np.sum(d * d)) for d in lift), rel=1e-8)
    gzy = float(metric(W, Z, N, Y))
    assert gzy == pytest.approx(float(metric(W, Y, N, Z)), rel=1e-10)
    polar = (float(metric(W, Z + Y, N)) - float(metric(W, Z - Y, N))) / 4
    assert gzy == pytest.approx(polar, rel=1e-8, abs=1e-10)


# --------------------------------------------------------------------------- nuclear-norm certificate (E13), both kinds

def _problem(kind, shape, reduction):
    from dmf_edu.problems import MatrixCompletion, MatrixSensing
    rng = np.random.default_rng(21)
    if kind == "completion":
        rows, cols = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]) % shape[1]
        rows = rows % shape[0]
        keep = np.unique(rows * shape[1] + cols, return_index=True)[1]
        return MatrixCompletion(shape, rows[keep], cols[keep], rng.standard_normal(keep.size), reduction=reduction)
    return MatrixSensing(rng.standard_normal((3,) + shape), rng.standard_normal(3), reduction=reduction)


@pytest.mark.parametrize("kind, shape, reduction", [("completion", (2, 2), "sum"), ("completion", (3, 2), "mean"),
                                                    ("sensing", (2, 3), "sum"), ("sensing", (2, 2), "mean")])
@pytest.mark.parametrize("rank_one", [False, True])
def test_nuclear_norm_kkt_values_every_shape(kind, shape, reduction, rank_one):
    from dmf_edu.baselines import nuclear_norm_kkt
    problem = _problem(kind, shape, reduction)
    rng = np.random.default_rng(22)
    X = _non_normal(*shape, seed=23, rank=1 if rank_one else None)
    lam = rng.standard_normal(problem.data.size)
    eps = 0.1
    r = problem.forward(X) - problem.data
    S = problem.adjoint(lam)
    nx = float(np.sum(np.linalg.svd(X, compute_uv=False)))
    got = nuclear_norm_kkt(problem, X, lam, eps)
    b_max = max(1.0, float(np.max(np.abs(problem.data))))
    assert got["primal"] == pytest.approx(max(float(np.max(np.abs(r) - eps)), 0.0) / b_max, rel=1e-12, abs=1e-14)
    assert got["dual"] == pytest.approx(max(float(np.linalg.norm(S, 2)) - 1, 0.0), rel=1e-12, abs=1e-14)
    assert got["gap"] == pytest.approx((nx - problem.data @ lam + eps * np.abs(lam).sum()) / max(1.0, nx), rel=1e-12)
    assert got["slackness"] == pytest.approx(float(np.max(eps * np.abs(lam) + lam * r)) / max(1.0, np.max(np.abs(lam))),
                                             rel=1e-12)


@pytest.mark.parametrize("kind, reduction", [("completion", "sum"), ("completion", "mean"), ("sensing", "sum"),
                                             ("sensing", "mean")])
def test_nuclear_norm_minimization_certificate_every_kind(kind, reduction):
    """'optimal' comes with X feasible, ||A^*(dual)||_2 <= 1 and objective - (b.lam - eps||lam||_1) small."""
    from dmf_edu.baselines import nuclear_norm_minimization
    problem, eps = _problem(kind, (2, 3), reduction), 0.05
    res = nuclear_norm_minimization(problem, eps, tol=1e-8)
    assert res.status == "optimal"
    assert np.max(np.abs(problem.forward(res.X) - problem.data)) <= eps + 1e-7
    assert np.linalg.norm(problem.adjoint(res.dual), 2) <= 1 + 1e-12
    nx = float(np.sum(np.linalg.svd(res.X, compute_uv=False)))
    lower = float(problem.data @ res.dual - eps * np.abs(res.dual).sum())
    assert res.objective == pytest.approx(nx, rel=1e-10)
    assert res.dual_objective == pytest.approx(lower, rel=1e-9, abs=1e-12)
    assert nx - lower <= 1e-6 * max(1.0, nx)


# ---------------------------------------------------------------- degenerate inputs: a zero singular value

@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_layer_gradients_with_a_rank_one_G_equal_the_written_out_E1_products(depth):
    """E1 at a degenerate G (rank one: zero singular values), distinct hidden widths, tall outer
    shape: each dphi/dW_j equals W_{N:j+1}^T G W_{j-1:1}^T multiplied out by hand."""
    rng = np.random.default_rng(depth)
    dims = [3, 5, 2, 4, 6, 7][:depth + 1]                      # d_0 = n = 3, ..., d_N = m
    weights = [rng.standard_normal((dims[j + 1], dims[j])) for j in range(depth)]
    G = np.outer(rng.standard_normal(dims[-1]), rng.standard_normal(dims[0]))
    grads = factorization.layer_gradients(weights, G)
    assert len(grads) == depth
    for j in range(depth):
        after = np.eye(dims[j + 1])
        for w in weights[j + 1:]:
            after = w @ after                                   # W_{N:j+1}, shape (m, d_{j+1})
        before = np.eye(dims[0])
        for w in weights[:j]:
            before = w @ before                                 # W_{j-1:1}, shape (d_j, n)
        np.testing.assert_allclose(grads[j], after.T @ G @ before.T, rtol=1e-12, atol=1e-12)
