"""E1 (layer gradients), E2 (balancedness), product order, initialization."""

import numpy as np
import pytest

import dmf_edu as d
from dmf_edu.factorization import backward, prefix_products

SHAPE = (5, 4)            # m x n, rectangular
WIDTHS = {1: [], 2: [6], 3: [6, 7], 4: [6, 7, 3]}   # hidden widths differ from m and n


def random_weights(rng, depth, scale=1.0):
    return d.init_weights(SHAPE, depth, scale, width=WIDTHS[depth] or None, rng=rng)


def direct_e1(weights, G):
    """E1 written out literally with explicit partial products."""
    N = len(weights)
    out = []
    for j in range(N):
        left = np.eye(weights[-1].shape[0])
        for w in weights[j + 1:][::-1]:
            left = left @ w                 # W_{N:j+1}
        right = np.eye(weights[j - 1].shape[0] if j else weights[0].shape[1])
        for w in weights[:j][::-1]:
            right = right @ w               # W_{j-1:1} = W_{j-1} ... W_1
        out.append(left.T @ G @ right.T)
    return out


def test_product_order_is_WN_times_W1(rng):
    A, B, C = rng.standard_normal((6, 4)), rng.standard_normal((7, 6)), rng.standard_normal((5, 7))
    np.testing.assert_allclose(d.end_to_end([A, B, C]), C @ B @ A)
    assert d.end_to_end([A, B, C]).shape == (5, 4)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_E1_layer_gradients_equal_literal_formula(rng, depth):
    ws = random_weights(rng, depth)
    G = rng.standard_normal(SHAPE)
    for got, want in zip(d.layer_gradients(ws, G), direct_e1(ws, G)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_E1_gradient_matches_finite_differences_completion_and_sensing(rng, depth):
    M = d.random_low_rank(*SHAPE, 2, rng=rng)
    problems = [d.sample_completion(M, 11, rng=rng), d.gaussian_sensing(M, 7, rng=rng),
                d.sample_completion(M, 11, rng=rng, reduction="mean")]
    for problem in problems:
        ws = random_weights(rng, depth)
        res = d.check_layer_gradients(problem, ws, rng=rng)
        assert res["directional"] < 1e-7
        assert res["entrywise"] < 1e-5
        assert abs(res["taylor_slope"] - 2) < 0.1


def test_E1_gradient_check_at_small_init(rng):
    """The regime of the experiments: scale 1e-3, depth 3 (at this scale a correct gradient scores ~3e-7 entry-wise, so the bound is looser)."""
    M = d.random_low_rank(*SHAPE, 2, rng=rng)
    problem = d.sample_completion(M, 12, rng=rng)
    res = d.check_layer_gradients(problem, random_weights(rng, 3, scale=1e-3), rng=rng)
    assert res["directional"] < 1e-6 and res["entrywise"] < 1e-4
    assert abs(res["taylor_slope"] - 2) < 0.1


def test_batched_layer_gradients_equal_unbatched(rng):
    ws = d.init_weights(SHAPE, 3, 1.0, width=[6, 7], rng=rng, batch_shape=(2, 3))
    G = rng.standard_normal((2, 3) + SHAPE)
    grads = d.layer_gradients(ws, G)
    for i in range(2):
        for k in range(3):
            single = d.layer_gradients([w[i, k] for w in ws], G[i, k])
            for gb, gs in zip(grads, single):
                np.testing.assert_allclose(gb[i, k], gs, rtol=1e-13, atol=1e-14)
    # one set of factors, many gradients: broadcasting over the trial axis
    w0 = [w[0, 0] for w in ws]
    grads = d.layer_gradients(w0, G)
    assert [g.shape for g in grads] == [(2, 3) + w.shape for w in w0]
    np.testing.assert_allclose(grads[1][1, 2], d.layer_gradients(w0, G[1, 2])[1])


@pytest.mark.parametrize("depth", [2, 3, 4])
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_gradient_path_equals_dense(rng, depth, fmt):
    """E1 with a sparse G (any scipy format; the products run on its CSC form) = E1 with dense G."""
    import scipy.sparse as sp

    ws = random_weights(rng, depth)
    G = rng.standard_normal(SHAPE) * (rng.random(SHAPE) < 0.4)
    dense = d.layer_gradients(ws, G)
    sparse = backward(ws, prefix_products(ws), sp.coo_matrix(G).asformat(fmt))
    for a, b in zip(dense, sparse):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


def test_layer_gradients_bad_input(rng):
    ws = random_weights(rng, 3)
    with pytest.raises(ValueError, match="G has shape"):
        d.layer_gradients(ws, np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"weights\[1\].*chain"):
        d.layer_gradients([ws[0], ws[2]], np.zeros(SHAPE))
    bad = [w.copy() for w in ws]
    bad[1][0, 0] = np.nan
    with pytest.raises(ValueError, match=r"weights\[1\] contains 1 NaN"):
        d.layer_gradients(bad, np.zeros(SHAPE))
    with pytest.raises(ValueError, match="G contains"):
        d.layer_gradients(ws, np.full(SHAPE, np.inf))
    with pytest.raises(ValueError, match="empty"):
        d.end_to_end([])
    with pytest.raises(TypeError, match="list"):
        d.end_to_end(np.zeros((3, 3)))


# ------------------------------------------------------------------ initialization

@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_E2_balanced_init_is_exactly_balanced(rng, depth):
    for shape, width in [((6, 6), None), ((5, 4), 7), ((3, 8), [4, 6, 5, 9][:depth - 1] or None)]:
        ws = d.init_weights(shape, depth, 1e-3, kind="balanced", width=width, rng=rng)
        assert d.balancedness(ws) < 1e-13
        for D in d.balancedness_residuals(ws):
            assert np.max(np.abs(D)) < 1e-14 * max(1.0, np.max(np.abs(ws[0])) ** 2) + 1e-15


def test_balanced_init_scale_and_spectrum(rng):
    ws = d.init_weights((40, 40), 3, 0.5, kind="balanced", rng=rng, batch_shape=50)
    W = d.end_to_end(ws)
    # E||W||_F^2 = m scale^2 = 10; the mean over 50 trials is within 5 %
    assert abs(np.mean(np.sum(W ** 2, axis=(-2, -1))) / 10.0 - 1) < 0.05
    # singular values of each factor are sigma(W)^{1/3}
    s_W = np.linalg.svd(W[0], compute_uv=False)
    s_1 = np.linalg.svd(ws[0][0], compute_uv=False)
    np.testing.assert_allclose(s_1, s_W ** (1 / 3), rtol=1e-10)


def test_gaussian_init_statistics(rng):
    ws = d.init_weights((30, 20), 3, 0.1, width=[50, 40], rng=rng, batch_shape=200)
    np.testing.assert_allclose(np.std(ws[0]), 0.1 ** (1 / 3) / np.sqrt(20), rtol=0.02)
    np.testing.assert_allclose(np.std(ws[1]), 0.1 ** (1 / 3) / np.sqrt(50), rtol=0.02)
    fro2 = np.sum(d.end_to_end(ws) ** 2, axis=(-2, -1))
    assert abs(np.mean(fro2) / (30 * 0.1 ** 2) - 1) < 0.05
    assert np.median(d.balancedness(ws)) > 1e-2          # only approximately balanced


def test_identity_init():
    ws = d.init_weights((4, 4), 3, 8.0, kind="identity")
    np.testing.assert_allclose(d.end_to_end(ws), 8.0 * np.eye(4))
    assert d.balancedness(ws) == 0.0
    with pytest.raises(ValueError, match="square"):
        d.init_weights((4, 3), 2, 1.0, kind="identity")


def test_same_seed_same_numbers():
    a = d.init_weights((5, 4), 3, 1.0, kind="balanced", rng=7)
    b = d.init_weights((5, 4), 3, 1.0, kind="balanced", rng=7)
    for x, y in zip(a, b):
        assert np.array_equal(x, y)


@pytest.mark.parametrize("kwargs, exc, pattern", [
    (dict(depth=0), ValueError, "depth must be >= 1"),
    (dict(depth=-2), ValueError, "depth must be >= 1"),
    (dict(depth=2.5), ValueError, "depth must be a whole number"),
    (dict(scale=0.0), ValueError, "scale must be > 0"),
    (dict(scale=-1.0), ValueError, "scale must be > 0"),
    (dict(scale=np.nan), ValueError, "scale must be finite"),
    (dict(kind="orthogonal"), ValueError, "kind must be"),
    (dict(width=[3]), ValueError, "width lists 1 hidden widths but depth 3 needs 2"),
    (dict(width=0), ValueError, "width must be >= 1"),
    (dict(shape=(5,)), ValueError, "shape must be a pair"),
])
def test_init_bad_input(kwargs, exc, pattern):
    args = dict(shape=(5, 4), depth=3, scale=1e-3)
    args.update(kwargs)
    with pytest.raises(exc, match=pattern):
        d.init_weights(args.pop("shape"), args.pop("depth"), args.pop("scale"), **args)


def test_balancedness_depth_one_and_batched(rng):
    assert d.balancedness([rng.standard_normal((3, 2))]) == 0.0
    ws = d.init_weights((5, 4), 2, 1.0, rng=rng, batch_shape=(3,))
    assert d.balancedness(ws).shape == (3,)


def test_depth_one_gradient_is_a_copy():
    G = np.ones((3, 4))
    g = d.layer_gradients([np.zeros((3, 4))], G)[0]
    g *= 2.0
    assert np.all(G == 1.0)


def test_e2_balancedness_equals_its_formula_at_an_unbalanced_rectangular_point(rng):
    # E2 written out independently at a Gaussian (unbalanced) point with hidden widths 4, 6
    ws = d.init_weights((5, 3), 3, 1.0, width=[4, 6], rng=rng)
    grams = [(ws[j + 1].T @ ws[j + 1], ws[j] @ ws[j].T) for j in range(2)]
    for D, (A, B) in zip(d.balancedness_residuals(ws), grams):
        np.testing.assert_allclose(D, A - B, rtol=1e-12, atol=1e-12 * np.linalg.norm(A))
    want = max(np.linalg.norm(A - B) / (np.linalg.norm(A) + np.linalg.norm(B)) for A, B in grams)
    assert d.balancedness(ws) == pytest.approx(want, rel=1e-12)
