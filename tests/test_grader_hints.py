"""The hints of the checkers say nothing false: each misleading message of issue 22 planted and
checked (missing return, exception line, scalar multiples, grammar, unrelated notes), plus the
repeatability of verdicts and the adversarial cases that catch near-misses."""

import numpy as np
import pytest

import dmf_edu.course as course
from dmf_edu.course.checking import DEFAULT_SEED, diagnose


def _erank(W, cut=0.0, eig=False):
    s = np.abs(np.linalg.eigvals(W)) if eig and W.shape[0] == W.shape[1] else np.linalg.svd(W, compute_uv=False)
    p = s / s.sum()
    p = p[p > cut]
    return float(np.exp(-np.sum(p * np.log(p))))


def test_missing_return_is_named_not_a_shape():
    def no_return(W, Z, depth):
        W @ Z.T                                               # computed, never returned
    rep = course.check("end_to_end_operator", no_return)
    assert not rep.success and "returned None" in rep.message and "return" in rep.message
    assert "shape ()" not in rep.message


def test_an_exception_names_the_line_of_the_students_code_and_no_unrelated_note():
    def broken(weights, G):
        return [w @ G for w in weights]                       # shapes do not fit
    rep = course.check("layer_gradients", broken)
    assert rep.status == "error" and "line " in rep.message and "test_grader_hints.py" in rep.message
    assert "Remember" not in rep.message


def test_not_implemented_stub_says_write_it():
    def stub(W):
        raise NotImplementedError("effective_rank: replace this line by your code")
    rep = course.check("effective_rank", stub)
    assert rep.status == "error" and "not written yet" in rep.message


def test_a_wrong_scalar_is_not_called_right_up_to_a_factor():
    def transposed_M(W, M, test_mask):                        # a different number, not a named multiple
        return float(np.mean((W - M[::-1])[test_mask] ** 2))
    rep = course.check("heldout_error", transposed_M)
    assert not rep.success
    assert "otherwise it is right" not in rep.message and "times the right one" not in rep.message
    assert diagnose(np.array([3.7]), np.array([1.0])) == ""


def test_sign_hint_is_grammatical():
    rep = course.check("depth_multiplier", lambda x, y, N: -course.reference("depth_multiplier")(x, y, N))
    assert "is the sign" not in rep.message
    note = diagnose(-np.arange(1.0, 4.0), np.arange(1.0, 4.0))
    assert note == "hint: your result is the right one with its sign flipped; otherwise it is right"


def test_mutating_inputs_gets_a_warning_but_the_verdict_stands():
    def in_place(W):
        W /= 1.0
        W[...] = W                                            # writes into the caller's array
        return _erank(W)

    def mutating(W):
        out = _erank(W)
        W[0, 0] += 1.0
        return out
    assert course.check("effective_rank", in_place).success
    rep = course.check("effective_rank", mutating)
    assert rep.success and any("modifies its input" in w for w in rep.warnings)


@pytest.mark.parametrize("cut", [0.08, 0.02])
def test_dropping_small_p_always_fails(cut):
    """The issue's borderline answers: dropping p_i < 0.08 passed 6 of 8 runs, < 0.02 always."""
    verdicts = {course.check("effective_rank", lambda W: _erank(W, cut), seed=s).success for s in range(20)}
    assert verdicts == {False}


def test_eigenvalues_instead_of_singular_values_fail_with_their_hint():
    rep = course.check("effective_rank", lambda W: _erank(W, eig=True))
    assert not rep.success and "eigenvalues" in rep.message


def test_the_same_answer_gets_the_same_verdict_and_details_every_time():
    def borderline(W):                                        # right except for tiny singular values
        return _erank(W, 1e-3)
    reports = [course.check("effective_rank", borderline) for _ in range(20)]
    assert len({(r.success, r.message) for r in reports}) == 1
    assert all(r.seed == DEFAULT_SEED for r in reports)


def test_seed_changes_the_random_cases_only():
    a, b = (course.check("layer_gradients", course.reference("layer_gradients"), seed=s) for s in (1, 2))
    assert a.success and b.success and a.details != b.details
    with pytest.raises(ValueError, match="seed must be an integer"):
        course.check("layer_gradients", course.reference("layer_gradients"), seed=-1)
