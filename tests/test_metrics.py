import numpy as np
import pytest

import dmf_edu as d


def test_effective_rank_extremes(rng):
    u, v = rng.standard_normal(6), rng.standard_normal(5)
    assert d.effective_rank(np.outer(u, v)) == pytest.approx(1.0, abs=1e-6)
    assert d.effective_rank(3 * np.eye(5)) == pytest.approx(5.0)
    assert d.effective_rank(np.zeros((4, 4))) == 0.0
    # two equal singular values and zeros: exactly 2
    assert d.effective_rank(np.diag([2.0, 2.0, 0.0])) == pytest.approx(2.0)
    # batched
    assert d.effective_rank(np.stack([np.eye(3), np.diag([1.0, 0, 0])])).tolist() == pytest.approx([3.0, 1.0])


def test_errors_and_norms(rng):
    M = d.random_low_rank(8, 6, 2, rng=rng)           # ||M||_F^2 = 48 = m n
    W = M + 0.1 * rng.standard_normal(M.shape)
    assert d.reconstruction_error(W, M) == pytest.approx(np.linalg.norm(W - M) ** 2 / np.linalg.norm(M) ** 2)
    assert d.relative_error(W, M) == pytest.approx(np.linalg.norm(W - M) / np.linalg.norm(M))
    s = np.linalg.svd(W, compute_uv=False)
    assert d.nuclear_norm(W) == pytest.approx(s.sum())
    assert d.schatten_norm(W, 1) == pytest.approx(s.sum())
    assert d.schatten_norm(W, 2) == pytest.approx(np.linalg.norm(W))
    assert d.schatten_norm(W, np.inf) == pytest.approx(s[0])
    assert d.schatten_norm(W, 0.5) == pytest.approx(np.sum(np.sqrt(s)) ** 2)
    with pytest.raises(ValueError, match="p must be > 0"):
        d.schatten_norm(W, 0)
    with pytest.raises(ValueError, match="nonzero ground truth"):
        d.relative_error(W, np.zeros_like(W))
    with pytest.raises(ValueError, match="ground truth M has shape"):
        d.reconstruction_error(W, M.T)
